#!/usr/bin/env bash
# The sidecar pattern on one machine, without root: app.py writes a log file, logrotate rotates it
# (logrotate.conf, forced three times while the app writes), and `tailcast tail` follows it, as
# myapp-tailcast.service runs it. The sidecar is restarted twice on the way, once stopped cleanly
# (what `systemctl restart` does) and once killed (a crash), and continues the same job from its
# checkpoint each time. At the end the archived job is compared with every line the app wrote.
#
#     Examples/sidecar/demo.sh              tailcast from the PATH
#     TAILCAST=.build/release/tailcast Examples/sidecar/demo.sh
#
# It starts its own server (a free port, a temporary archive) unless TAILCAST_SERVER is set.
# Needs python3 and logrotate.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
tailcast="${TAILCAST:-tailcast}"
command -v "$tailcast" >/dev/null || { echo "demo: no tailcast (set TAILCAST=path)" >&2; exit 1; }
logrotate="$(command -v logrotate || echo /usr/sbin/logrotate)"
[[ -x "$logrotate" ]] || { echo "demo: logrotate is missing (apt-get install logrotate)" >&2; exit 1; }

dir="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir "$dir/log"

if [[ -z "${TAILCAST_SERVER:-}" ]]; then
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    "$tailcast" serve --port "$port" --data "$dir/archive" >"$dir/serve.log" 2>&1 &
    pids+=($!)
    export TAILCAST_SERVER="ws://127.0.0.1:$port"
    for _ in $(seq 100); do
        python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null && break
        sleep 0.1
    done
fi
echo "demo: server $TAILCAST_SERVER" >&2

# The service: 600 requests at 50 a second, about 12 seconds.
python3 "$here/app.py" --log "$dir/log/app.log" --rate 50 --count 600 &
app=$!
pids+=("$app")
sleep 0.2

# The sidecar, as myapp-tailcast.service runs it, with its checkpoints and run id in the demo's
# directory. The job id is new for each demo run: a server that ran the demo before would refuse
# "myapp" from a new state directory (another run owns that job).
job="myapp-demo-$(date +%Y%m%d-%H%M%S)"
sidecar=
start_sidecar() {
    "$tailcast" tail --job "$job" --state-dir "$dir/state" --from-start "$dir/log/*.log" 2>>"$dir/sidecar.err" &
    sidecar=$!
    pids+=("$sidecar")
}
sidecar_failed() {
    echo "demo: $*" >&2
    sed 's/^/demo: sidecar: /' "$dir/sidecar.err" >&2
    exit 1
}
start_sidecar
echo "demo: sidecar streaming job $job; in another terminal: $tailcast watch $job" >&2

# logrotate.conf, pointed at the demo's directory (and without the owner, which needs root).
sed -e "s|/var/log/myapp|$dir/log|" -e 's|create 0640 myapp adm|create 0640|' "$here/logrotate.conf" >"$dir/logrotate.conf"
rotate() {
    "$logrotate" --force --state "$dir/logrotate.state" "$dir/logrotate.conf"
    echo "demo: rotation $1: $(cd "$dir/log" && echo *)" >&2
}
sleep 3
rotate 1
sleep 1.5
# A clean stop (SIGTERM) exits 0 once the server has acknowledged what was sent.
kill -TERM "$sidecar"
status=0
wait "$sidecar" || status=$?
[[ $status -eq 0 ]] || sidecar_failed "the sidecar exited $status on SIGTERM, not 0"
start_sidecar
echo "demo: sidecar stopped and started again: same job, from its checkpoint" >&2
sleep 1.5
rotate 2
sleep 1.5
kill -KILL "$sidecar"
wait "$sidecar" 2>/dev/null || true
start_sidecar
echo "demo: sidecar killed (kill -9) and started again: same job, from its checkpoint" >&2
sleep 1.5
rotate 3

wait "$app"
sleep 1 # the sidecar reads the last lines (it polls every 250 ms)
kill -TERM "$sidecar"
status=0
wait "$sidecar" || status=$?
[[ $status -eq 0 ]] || sidecar_failed "the sidecar exited $status on SIGTERM, not 0"

# Every line the app wrote, oldest file first (app.log.3.gz, app.log.2.gz, app.log.1, app.log).
written="$dir/written.log"
: >"$written"
for n in $(seq 14 -1 1); do
    for file in "$dir/log/app.log.$n.gz" "$dir/log/app.log.$n"; do
        if [[ -e "$file" ]]; then zcat -f "$file" >>"$written"; fi
    done
done
cat "$dir/log/app.log" >>"$written"
# The file's stream is named by its path.
"$tailcast" watch "$job" --no-follow --stream "$dir/log/app.log" >"$dir/archived.log" 2>"$dir/watch.err" ||
    { cat "$dir/watch.err" >&2; sidecar_failed "tailcast watch $job failed"; }

lines_written=$(wc -l <"$written")
lines_archived=$(wc -l <"$dir/archived.log")
if cmp -s "$written" "$dir/archived.log"; then
    echo "demo: ok: job $job holds all $lines_written lines the app wrote, across 3 rotations and 2 sidecar restarts, once each, in order"
else
    echo "demo: the archive differs from the log: $lines_archived lines archived, $lines_written written" >&2
    diff "$written" "$dir/archived.log" | head -20 >&2
    sidecar_failed "lines lost, repeated or out of order"
fi
