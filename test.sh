#!/usr/bin/env bash
# The tests: xunit on the real models and ../shared/data (run ./setup.sh first), then the totals as one plain line.
# ./test.sh          everything (CI)
# ./test.sh --fast   the developer's loop: Unit and Integration, no Slow (fuzzers, crash safety, daemons end to end, evaluations)
# Further arguments go to dotnet test (e.g. --filter "Category=Unit").
set -uo pipefail
cd "$(dirname "$0")"
args=()
if [ "${1:-}" = "--fast" ]; then shift; args=(--filter "Category!=Slow"); fi
# formatting first (whitespace only, by .editorconfig): a difference fails the run after the tests, with the command that fixes it
dotnet format whitespace EchoFace.sln --verify-no-changes -v q
format=$?
rm -rf TestResults
dotnet test EchoFace.sln -c Release --logger "trx;LogFileName=results.trx" --results-directory TestResults "${args[@]}" "$@"
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
[ $format -eq 0 ] || echo "formatting differs from .editorconfig (above): run 'dotnet format whitespace EchoFace.sln'"
echo "${passed:-0} passed, ${failed:-0} failed"
[ "${passed:-0}" -gt 0 ] || exit 1
[ $format -eq 0 ] || exit 1
exit $status
