"""Scale out (issue 15): three `serve --store postgres://…` nodes behind haproxy, a real PostgreSQL.

The PostgreSQL server is a throwaway one per test session (postgres.py); each test gets its own
database, so jobs of one test never show in another. Agents and watchers go through the balancer
(round robin, no stickiness) or straight to one node when the test needs them on different nodes.
"""
import time

from conftest import free_port, paced_job, paced_lines, py, tailcast, wait_until
from postgres import make_cluster, postgres  # noqa: F401 (fixtures)


def test_throwaway_postgres_answers_restarts_and_keeps_its_data(postgres):
    url = postgres.fresh_database()
    database = url.rsplit("/", 1)[1].split("?")[0]
    assert postgres.sql("select 1", database, user="tailcast") == "1"
    postgres.sql("create table t (n int); insert into t values (42)", database, user="tailcast")
    postgres.stop()
    assert not postgres.running()
    postgres.start()
    assert postgres.sql("select n from t", database, user="tailcast") == "42"
