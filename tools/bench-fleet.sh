#!/usr/bin/env bash
# The fleet load benchmark on this machine: a throw-away PostgreSQL cluster (fsync on, the defaults) and mosquitto on free
# ports, then `echoface fleet bench` with the arguments given (default: 100 and 1000 devices, 1 and 2 collectors, 50,000 events).
# Usage: tools/bench-fleet.sh [--events N] [--devices 100 1000] [--collectors 1 2] [--rate R] [--json]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
cli=src/EchoFace.Cli/bin/Release/net10.0/echoface.dll
[ -n "$bin" ] && [ -x "$bin/initdb" ] && [ -x /usr/sbin/mosquitto ] || { echo "PostgreSQL or mosquitto missing: run ./setup.sh" >&2; exit 1; }
[ -f "$cli" ] || { echo "echoface is not built: run ./setup.sh" >&2; exit 1; }
dir=$(mktemp -d /tmp/echoface-bench-fleet-XXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
pg_port=$(free_port); mq_port=$(free_port)
cleanup() {
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  [ -n "${mq_pid:-}" ] && kill "$mq_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 >/dev/null
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -o "-p $pg_port -k $dir -c listen_addresses=127.0.0.1" -w start >/dev/null
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 0\nmax_queued_messages 0\nlog_dest none\nuser %s\n' \
  "$mq_port" "$(id -un)" > "$dir/mosquitto.conf"
/usr/sbin/mosquitto -c "$dir/mosquitto.conf" & mq_pid=$!
sleep 0.5
dotnet "$cli" fleet bench --broker "mqtt://127.0.0.1:$mq_port" \
  --database "Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres" "$@"
