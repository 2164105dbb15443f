#!/usr/bin/env bash
# The tests: xunit on the real models and ../shared/data (run ./setup.sh first), then the totals as one plain line.
set -uo pipefail
cd "$(dirname "$0")"
rm -rf TestResults
dotnet test EchoFace.sln -c Release --logger "trx;LogFileName=results.trx" --results-directory TestResults "$@"
status=$?
trx=$(find TestResults -name '*.trx' 2>/dev/null | head -n 1)
if [ -z "$trx" ]; then
  echo "no test results were written"
  echo "0 passed, 0 failed"
  exit 1
fi
counters=$(grep -o '<Counters [^>]*' "$trx")
passed=$(grep -o ' passed="[0-9]*"' <<<"$counters" | grep -o '[0-9]\+')
failed=$(grep -o ' failed="[0-9]*"' <<<"$counters" | grep -o '[0-9]\+')
echo "${passed:-0} passed, ${failed:-0} failed"
[ "${passed:-0}" -gt 0 ] || exit 1
exit $status
