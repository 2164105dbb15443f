#!/usr/bin/env bash
# The daemon's resident memory with the web console off, then on and in use (docs/console.md, "Figures"): each run copies
# the demo's data (reports/demo, made by set-up), starts `echoface run` on the demo video, waits 20 s after ready, then
# for 60 s asks for the live picture every second and every page every 2 s (console on), sampling VmRSS each second.
set -euo pipefail
cd "$(dirname "$0")/../.."
# as systemd/echoface.service runs it
export DOTNET_gcServer=0 MALLOC_ARENA_MAX=2
[ -d reports/demo/data ] || { echo "rss: reports/demo is missing: run ./setup.sh first" >&2; exit 2; }
echoface=(dotnet src/EchoFace.Cli/bin/Release/net10.0/echoface.dll)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() {
  local console=$1 port=$2 dir="$work/$1"
  mkdir -p "$dir" && cp -r reports/demo/data "$dir/data"
  local key
  key=$("${echoface[@]}" --data "$dir/data" api-key create --role admin --name rss --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
  ECHOFACE__Api__Console=$console ECHOFACE__Camera__Loop=true "${echoface[@]}" --data "$dir/data" run --camera file:reports/demo/door.mp4 \
    --door simulated --health "http://127.0.0.1:$port" > "$dir/log" 2>&1 &
  local pid=$!
  for _ in $(seq 60); do curl -sf "http://127.0.0.1:$port/healthz" > /dev/null && break; sleep 1; done
  sleep 20
  rss() { awk '/VmRSS/{print int($2/1024)}' "/proc/$pid/status"; }
  local idle peak r jar="$dir/jar" end=$((SECONDS + 60))
  idle=$(rss); peak=$idle
  if [ "$console" = true ]; then
    local token
    token=$(curl -s -c "$jar" -b "$jar" "http://127.0.0.1:$port/console/sign-in" |
      grep -o '__RequestVerificationToken" type="hidden" value="[^"]*"' | sed 's/.*value="//;s/"$//')
    curl -s -c "$jar" -b "$jar" -o /dev/null --data-urlencode "key=$key" --data-urlencode "__RequestVerificationToken=$token" \
      "http://127.0.0.1:$port/console/sign-in"
  fi
  while [ $SECONDS -lt $end ]; do
    if [ "$console" = true ]; then
      curl -s -b "$jar" -o /dev/null "http://127.0.0.1:$port/console/live.jpg"
      if [ $((SECONDS % 2)) = 0 ]; then
        for page in console console/people console/decisions console/door console/settings; do
          curl -s -b "$jar" -o /dev/null "http://127.0.0.1:$port/$page"
        done
      fi
    fi
    r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
    sleep 1
  done
  printf '| console %-3s | %s MiB | %s MiB |\n' "$([ "$console" = true ] && echo on || echo off)" "$idle" "$peak"
  kill "$pid"; wait "$pid" 2> /dev/null || true
}
echo "| | idle | peak in use |"
echo "| --- | --- | --- |"
run false 18191
run true 18192
