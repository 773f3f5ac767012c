#!/usr/bin/env bash
# The sidecar pattern on one machine, without root: app.py writes a log file, logrotate rotates it
# (logrotate.conf, forced three times while the app writes), and a tailcast sidecar follows it. At
# the end the archived job is compared with every line the app wrote.
#
#     Examples/sidecar/demo.sh              tailcast from the PATH
#     TAILCAST=.build/release/tailcast Examples/sidecar/demo.sh
#
# It starts its own server (a free port, a temporary archive) unless TAILCAST_SERVER is set.
# Needs python3, logrotate and GNU tail.
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

# The sidecar, as myapp-tailcast.service runs it.
job="myapp-demo-$(date +%Y%m%d-%H%M%S)"
TAILCAST_SPOOL="$dir/spool" "$tailcast" run --quiet --no-pty --job "$job" -- tail -n +1 -F "$dir/log/app.log" &
sidecar=$!
pids+=("$sidecar")
echo "demo: sidecar streaming job $job; in another terminal: $tailcast watch $job" >&2

# logrotate.conf, pointed at the demo's directory (and without the owner, which needs root).
sed -e "s|/var/log/myapp|$dir/log|" -e 's|create 0640 myapp adm|create 0640|' "$here/logrotate.conf" >"$dir/logrotate.conf"
for round in 1 2 3; do
    sleep 3
    "$logrotate" --force --state "$dir/logrotate.state" "$dir/logrotate.conf"
    echo "demo: rotation $round: $(cd "$dir/log" && echo *)" >&2
done

wait "$app"
sleep 1 # tail reads the last lines
kill -TERM "$sidecar"
wait "$sidecar" || true # tail ends by SIGTERM: exit 143

# Every line the app wrote, oldest file first (app.log.3.gz, app.log.2.gz, app.log.1, app.log).
written="$dir/written.log"
: >"$written"
for n in $(seq 14 -1 1); do
    for file in "$dir/log/app.log.$n.gz" "$dir/log/app.log.$n"; do
        if [[ -e "$file" ]]; then zcat -f "$file" >>"$written"; fi
    done
done
cat "$dir/log/app.log" >>"$written"
"$tailcast" watch "$job" --no-follow --stream stdout >"$dir/archived.log" 2>/dev/null || true

lines_written=$(wc -l <"$written")
lines_archived=$(wc -l <"$dir/archived.log")
if cmp -s "$written" "$dir/archived.log"; then
    echo "demo: ok: job $job holds all $lines_written lines the app wrote, across 3 rotations, once each, in order"
else
    echo "demo: the archive differs from the log: $lines_archived lines archived, $lines_written written" >&2
    diff "$written" "$dir/archived.log" | head -20 >&2
    exit 1
fi
