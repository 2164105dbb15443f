#!/usr/bin/env bash
# Debian packages of EchoFace for the boards: a self-contained build with the models (manifest and hashes), the systemd
# unit, the user and groups, /etc/echoface/echoface.json (a conffile) and /var/lib/echoface. Upgrades keep the data and the
# configuration; remove leaves the data; purge removes it (docs/packages.md).
#   deploy/package.sh [--arch amd64|arm64|all] [--version 1.2.3] [--out DIR] [--from PUBLISHED]
# --from: package a self-contained publish made already (set-up's artifacts/linux-arm64) instead of publishing again.
# Run from the repository after ./setup.sh (the models must be fetched). Needs dotnet and dpkg-deb.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=all
version=$(git describe --tags --match 'v[0-9]*' 2>/dev/null | sed 's/^v//;s/-/+/;s/-/./') || true
[ -n "${version:-}" ] || version="0.0.0+$(git rev-list --count HEAD 2>/dev/null || echo 0)"
out=artifacts/packages
from=""
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --from) from=$2; shift 2 ;;
    *) echo "deploy/package.sh: unknown argument '$1' (--arch amd64|arm64|all, --version V, --out DIR, --from PUBLISHED)" >&2; exit 2 ;;
  esac
done
case "$arch" in
  amd64|arm64) arches=("$arch") ;;
  all) arches=(amd64 arm64) ;;
  *) echo "deploy/package.sh: --arch must be amd64, arm64 or all, not '$arch'" >&2; exit 2 ;;
esac
if [ -n "$from" ]; then
  [ "${#arches[@]}" -eq 1 ] || { echo "deploy/package.sh: --from packages one architecture: give --arch amd64 or arm64" >&2; exit 2; }
  [ -x "$from/echoface" ] || { echo "deploy/package.sh: $from/echoface not found: --from names a self-contained publish folder" >&2; exit 2; }
fi
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || { echo "deploy/package.sh: '$version' is not a Debian version (e.g. 1.2.3)" >&2; exit 2; }
command -v dpkg-deb >/dev/null || { echo "deploy/package.sh: dpkg-deb not found (Debian's dpkg)" >&2; exit 2; }
[ -f models/manifest.json ] || { echo "deploy/package.sh: models/manifest.json missing" >&2; exit 2; }
# every model the manifest needs must be here and match its hash: a board without internet installs whole
dotnet src/EchoFace.Cli/bin/Release/net10.0/echoface.dll models --models models --json >/dev/null 2>&1 \
  || { echo "deploy/package.sh: a model is missing or altered: run ./setup.sh (echoface models fetch) first" >&2; exit 2; }
mapfile -t shipped < <(dotnet src/EchoFace.Cli/bin/Release/net10.0/echoface.dll models files --models models)
[ "${#shipped[@]}" -gt 0 ] || { echo "deploy/package.sh: no model files listed by 'echoface models files'" >&2; exit 2; }
mkdir -p "$out"

for a in "${arches[@]}"; do
  case "$a" in amd64) rid=linux-x64 ;; arm64) rid=linux-arm64 ;; esac
  echo "== echoface $version $a ($rid)"
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  lib="$stage/usr/lib/echoface"
  if [ -n "$from" ]; then
    mkdir -p "$lib" && cp -a "$from/." "$lib/"
  else
    dotnet publish src/EchoFace.Cli -c Release -r "$rid" --self-contained -o "$lib" -nologo -clp:ErrorsOnly -p:Version="${version%%[+~]*}"
  fi
  # debug symbols stay out of the package (they are half its size)
  find "$lib" -name '*.pdb' -delete
  install -d "$lib/models"
  install -m 0644 models/manifest.json "$lib/models/"
  # the models a configuration can use and their variants; evaluation references and measured candidates (optional) stay out
  for f in "${shipped[@]}"; do install -m 0644 "models/$f" "$lib/models/"; done
  [ -f models/variants.json ] && install -m 0644 models/variants.json "$lib/models/"
  install -m 0644 README.md "$lib/README.md"
  install -D -m 0644 systemd/echoface.service "$stage/lib/systemd/system/echoface.service"
  # the fleet collector is in the same package, not enabled: a fleet server host enables it (docs/fleet-server.md)
  install -D -m 0644 systemd/echoface-fleet.service "$stage/lib/systemd/system/echoface-fleet.service"
  install -D -m 0644 deploy/echoface.json "$stage/etc/echoface/echoface.json"
  install -D -m 0644 /dev/stdin "$stage/lib/udev/rules.d/60-echoface-gpio.rules" <<'EOF'
# GPIO character devices belong to root by default: let the gpio group (the echoface user is in it) use them
SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"
EOF
  install -d -m 0700 "$stage/var/lib/echoface"

  install -d "$stage/DEBIAN"
  installed=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
  cat > "$stage/DEBIAN/control" <<EOF
Package: echoface
Version: $version
Architecture: $a
Maintainer: EchoFace <devices@echoface.invalid>
Installed-Size: $installed
Depends: libc6, libstdc++6, libssl3 | libssl1.1, ffmpeg, passwd
Recommends: systemd
Section: misc
Priority: optional
Homepage: https://echoface.invalid
Description: EchoFace door terminal: face and voice access control on the edge
 The echoface daemon captures a camera and a microphone, recognises enrolled people with ONNX models on the device,
 decides access by policy and drives the door through GPIO; it syncs events and enrolments with a fleet over MQTT.
 Self-contained: the .NET runtime, ONNX Runtime (CPU) and the models are in the package.
EOF
  echo /etc/echoface/echoface.json > "$stage/DEBIAN/conffiles"
  install -m 0755 deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm "$stage/DEBIAN/"
  deb="$out/echoface_${version}_${a}.deb"
  dpkg-deb --root-owner-group -Zxz -z6 --build "$stage" "$deb" >/dev/null
  rm -rf "$stage"
  trap - EXIT
  echo "$deb: $(du -h "$deb" | cut -f1) ($((installed / 1024)) MiB installed)"
done
