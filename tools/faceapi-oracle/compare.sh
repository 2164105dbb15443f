#!/usr/bin/env bash
# The peer comparison of docs/fusion.md: face-api.js end to end (peer.mjs) on photos, yaleb (pad 0.5) and celeba, scored by
# EchoFace's own metrics (`eval faces --embeddings`), beside EchoFace's embedders alone and fused (`eval faces --fuse --flip`).
# About 10 minutes on 2 cores (face-api.js: 0.3-0.5 s per image). Run ./setup.sh first. Not part of the tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-reports/peer}
mkdir -p "$out"
echoface() { dotnet src/EchoFace.Cli/bin/Release/net10.0/echoface.dll "$@"; }
for set in photos yaleb celeba; do
  pad=(); [ "$set" = yaleb ] && pad=(--pad 0.5)
  node tools/faceapi-oracle/peer.mjs "../shared/data/faces/$set" "$out/peer-$set.json" "${pad[@]}"
  echo "== $set: face-api.js"
  echoface eval faces "../shared/data/faces/$set" --embeddings "$out/peer-$set.json"
  for flip in "" --flip; do
    echo "== $set: EchoFace ${flip:-(no flip)}"
    echoface eval faces "../shared/data/faces/$set" "${pad[@]}" --fuse $flip --report "$out/$set$flip"
  done
done
