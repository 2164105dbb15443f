#!/usr/bin/env bash
# Installs EchoFace on this board from the repository: builds the Debian package for this machine's architecture
# (deploy/package.sh: the self-contained build, the models, the unit, the user and groups) and installs it, which starts the
# service. Run after ./setup.sh:  sudo deploy/install.sh   (a board without the repository: dpkg -i echoface_*.deb)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "deploy/install.sh: run as root (sudo)" >&2; exit 2; }
arch=$(dpkg --print-architecture)
case "$arch" in amd64|arm64) ;; *) echo "deploy/install.sh: unsupported architecture $arch" >&2; exit 2 ;; esac
rm -f artifacts/packages/echoface_*_"$arch".deb
deploy/package.sh --arch "$arch" --out artifacts/packages
deb=$(ls artifacts/packages/echoface_*_"$arch".deb)
systemd-analyze verify systemd/echoface.service
# ffmpeg and the rest come from the distribution; --force-confold keeps an edited /etc/echoface/echoface.json
apt-get install -y --no-install-recommends "./$deb" -o Dpkg::Options::=--force-confold
systemctl --no-pager status echoface.service || true
echo "installed: journalctl -u echoface -f; curl http://127.0.0.1:9464/healthz"
