"""Store mode over TLS (issue 15): `serve --store postgres://…?sslmode=…&sslrootcert=…` against a real
PostgreSQL that speaks TLS with a certificate from a CA made here, and takes the tailcast role over TLS
only (postgres.py). Each mode is held to what libpq's same setting promises: `require` encrypts every
connection of a node, `verify-ca` checks the chain, `verify-full` the chain and the host in the URL, and
whatever fails says so in one line without a crash or a hang.
"""
import os
import shutil

import pytest

from certificates import make_ca, make_server_certificate
from conftest import free_port, paced_job, paced_lines, py, tailcast
from postgres import PostgresCluster, database_of, postgres, skip_without_postgres  # noqa: F401 (fixture)
from test_store_postgres import make_node  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make certificates")

# What the server's certificate is for: both ways a URL may name this machine.
SERVER_NAMES = "IP:127.0.0.1,DNS:localhost"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """The test CA (ca.pem) and a server certificate it signed for SERVER_NAMES, in a directory of their own."""
    directory = tmp_path_factory.mktemp("pg-certificates")
    ca = make_ca(directory)
    return directory, ca


@pytest.fixture(scope="module")
def tls_postgres(certificates):
    """A PostgreSQL serving TLS with a certificate for SERVER_NAMES; the tailcast role over TLS only."""
    skip_without_postgres()
    directory, ca = certificates
    cluster = PostgresCluster(tls=make_server_certificate(directory, ca, names=SERVER_NAMES))
    cluster.ca = ca[0]
    yield cluster
    cluster.destroy()


def check(url, timeout=30):
    """`serve --store URL --check`: (exit code, stdout, stderr as text)."""
    done = tailcast("serve", "--store", url, "--check", "--store-statement-timeout", "3000", timeout=timeout)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def one_line_refusal(url, *reasons):
    """`--check` on url fails with exit 3 and one line on stderr that holds every reason."""
    code, out, err = check(url)
    assert code == 3 and out == "", (code, out, err)
    assert len(err.strip().splitlines()) == 1 and "unreachable" in err, err
    for reason in reasons:
        assert reason in err, err
    return err


def runs_byte_exact(node, job, env, lines=2000):
    """A job through node (`tailcast run`) and read back from it (`tailcast watch`): every byte, exactly once."""
    run = tailcast("run", "--job", job, "--no-pty", "--quiet", "--server", node.url, "--",
                   *py(paced_job(lines, pause=0.001, code=4, every=100)), env=env, timeout=120)
    assert run.returncode == 4, run.stderr
    watch = tailcast("watch", "--server", node.url, job, env=env, timeout=60)
    assert watch.returncode == 4, watch.stderr
    assert watch.stdout == paced_lines(lines)


def tailcast_backends(cluster, node):
    """[(ssl, is the follower's LISTEN connection)] for each backend of the node's connections, as the server
    sees them; the follower's last statement is its LISTEN or, after that, its `SELECT 1` keep-alive."""
    rows = cluster.sql("SELECT s.ssl, (a.query LIKE 'LISTEN %' OR a.query = 'SELECT 1')"
                       " FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
                       f" WHERE a.application_name = 'tailcast {node}'")
    return [tuple(field == "t" for field in row.split("|")) for row in rows.splitlines()]


def test_require_encrypts_every_connection_of_a_node(tls_postgres, make_node, env):
    url = tls_postgres.fresh_database(sslmode="require")
    node = make_node(url, "enc").start()
    runs_byte_exact(node, "over-tls", env)
    assert tls_postgres.archived(url, "over-tls") == paced_lines(2000)
    # The server takes the role over TLS only: that the LISTEN connection is there at all shows it is
    # encrypted, and pg_stat_ssl shows every connection so as the server sees it.
    backends = tailcast_backends(tls_postgres, "enc")
    assert any(listener for _, listener in backends), backends
    assert len(backends) >= 2 and all(ssl for ssl, _ in backends), backends


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_verify_full_with_the_servers_ca_checks_the_chain_and_the_host(tls_postgres, make_node, env, host):
    url = tls_postgres.fresh_database(host=host, sslmode="verify-full", sslrootcert=tls_postgres.ca)
    code, out, err = check(url)
    assert code == 0, err
    assert out.startswith(f"store postgres://tailcast@{host}:{tls_postgres.port}/") and "reachable" in out
    node = make_node(url, f"full-{host}").start()
    runs_byte_exact(node, "verified", env)
    backends = tailcast_backends(tls_postgres, f"full-{host}")
    assert any(listener for _, listener in backends) and all(ssl for ssl, _ in backends), backends


def test_verify_ca_and_require_with_sslrootcert_check_the_chain(tls_postgres, make_node, env):
    url = tls_postgres.fresh_database(sslmode="verify-ca", sslrootcert=tls_postgres.ca)
    node = make_node(url, "chain").start()
    runs_byte_exact(node, "chained", env)
    database = database_of(url)
    assert check(tls_postgres.url_of(database, sslmode="require", sslrootcert=tls_postgres.ca))[0] == 0


def test_a_certificate_from_another_ca_is_refused_in_every_mode_that_checks(tls_postgres, tmp_path):
    other_ca = make_ca(tmp_path, "other-ca")[0]
    database = database_of(tls_postgres.fresh_database())
    not_trusted = "TLS: the server's certificate failed verification: it is not signed by a CA in sslrootcert"
    for mode in ("verify-full", "verify-ca", "require"):
        one_line_refusal(tls_postgres.url_of(database, sslmode=mode, sslrootcert=other_ca), not_trusted)
    # Without sslrootcert, the system's CAs: the test CA is not one of them.
    one_line_refusal(tls_postgres.url_of(database, sslmode="verify-full"), not_trusted)

    # The server itself stops with the same line, at once, rather than retrying forever or crashing.
    url = tls_postgres.url_of(database, sslmode="verify-full", sslrootcert=other_ca)
    served = tailcast("serve", "--store", url, "--data", str(tmp_path / "data"), "--port", str(free_port()),
                      "--store-statement-timeout", "3000", timeout=30)
    assert served.returncode == 3, served.stderr
    assert served.stderr.decode().count(not_trusted) == 1 and served.stdout == b""


def test_verify_full_refuses_a_certificate_for_another_host(certificates, tmp_path):
    skip_without_postgres()
    directory, ca = certificates
    elsewhere = PostgresCluster(tls=make_server_certificate(directory, ca, "elsewhere", names="DNS:elsewhere.invalid"))
    try:
        database = database_of(elsewhere.fresh_database())
        for host in ("127.0.0.1", "localhost"):
            url = elsewhere.url_of(database, host=host, sslmode="verify-full", sslrootcert=ca[0])
            err = one_line_refusal(url, "TLS: the server's certificate failed verification: it is not for this host")
            assert f"@{host}:" in err
        # Its chain is good: verify-ca, which does not check the name, takes it.
        assert check(elsewhere.url_of(database, sslmode="verify-ca", sslrootcert=ca[0]))[0] == 0
    finally:
        elsewhere.destroy()


def test_disable_against_a_server_that_takes_tls_only_passes_on_postgresqls_refusal(tls_postgres):
    url = tls_postgres.fresh_database(sslmode="disable")
    one_line_refusal(url, 'no pg_hba.conf entry for host "127.0.0.1", user "tailcast"', "no encryption", "SQLSTATE 28000")


def test_prefer_uses_tls_where_the_server_offers_it_and_plain_tcp_where_not(tls_postgres, postgres, make_node, env):
    with_tls = make_node(tls_postgres.fresh_database(sslmode="prefer"), "prefer-tls").start()
    runs_byte_exact(with_tls, "preferred", env)
    backends = tailcast_backends(tls_postgres, "prefer-tls")
    assert backends and all(ssl for ssl, _ in backends), backends

    without = make_node(postgres.fresh_database(sslmode="prefer"), "prefer-plain").start()
    runs_byte_exact(without, "plain", env)
    backends = tailcast_backends(postgres, "prefer-plain")
    assert backends and not any(ssl for ssl, _ in backends), backends
    # require does not fall back: one line that says why.
    one_line_refusal(postgres.fresh_database(sslmode="require"), "the server does not offer TLS")


def test_an_sslrootcert_that_cannot_be_used_is_a_usage_error(tls_postgres, tmp_path):
    (tmp_path / "not-pem.txt").write_text("these are not the certificates you are looking for\n")
    os.mkfifo(tmp_path / "fifo")
    database = database_of(tls_postgres.fresh_database())
    for path, reason in ((tmp_path / "missing.pem", "No such file or directory"),
                         (tmp_path, "not a regular file"),
                         ("/dev/zero", "not a regular file"),
                         (tmp_path / "fifo", "not a regular file"),
                         (tmp_path / "not-pem.txt", "holds no PEM certificate")):
        url = tls_postgres.url_of(database, sslmode="verify-full", sslrootcert=path)
        for command in (["--check"], ["--data", str(tmp_path / "data"), "--port", str(free_port())]):
            refused = tailcast("serve", "--store", url, *command, timeout=30)
            assert refused.returncode == 64, (path, command, refused.stderr)
            err = refused.stderr.decode()
            assert len(err.splitlines()) == 1 and f"--store: sslrootcert {path}: {reason}" in err, err
    assert not (tmp_path / "data").exists()
    # CAs with a mode that would not check them promise what it cannot keep.
    refused = tailcast("serve", "--store", tls_postgres.url_of(database, sslmode="prefer", sslrootcert=tls_postgres.ca),
                       "--check", timeout=30)
    assert refused.returncode == 64 and b"sslrootcert needs sslmode=verify-full, verify-ca or require" in refused.stderr
