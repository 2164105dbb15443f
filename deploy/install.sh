#!/usr/bin/env bash
# Installs EchoFace as a systemd service on this board: publishes the CLI (self-contained for this machine's architecture),
# copies the fetched models, creates the echoface user in the device groups, installs the unit and an example config.
# Run from the repository after ./setup.sh:  sudo deploy/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "deploy/install.sh: run as root (sudo)" >&2; exit 2; }
arch=$(dpkg --print-architecture)
case "$arch" in amd64) rid=linux-x64 ;; arm64) rid=linux-arm64 ;; *) echo "deploy/install.sh: unsupported architecture $arch" >&2; exit 2 ;; esac

echo "== publish ($rid)"
dotnet publish src/EchoFace.Cli -c Release -r "$rid" --self-contained -o /usr/lib/echoface -nologo -clp:ErrorsOnly
install -d /usr/lib/echoface/models
for f in models/manifest.json models/*.onnx; do install -m 0644 "$f" /usr/lib/echoface/models/; done
# the variants set-up measured on this board (install runs where setup.sh ran)
if [ -f models/variants.json ]; then install -m 0644 models/variants.json /usr/lib/echoface/models/; fi
install -m 0644 README.md /usr/lib/echoface/README.md

echo "== user and groups"
for g in video audio gpio; do getent group "$g" >/dev/null || groupadd --system "$g"; done
id echoface >/dev/null 2>&1 || useradd --system --home-dir /var/lib/echoface --shell /usr/sbin/nologin echoface
usermod -a -G video,audio,gpio echoface
# GPIO character devices belong to root by default: let the gpio group use them
echo 'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"' > /etc/udev/rules.d/60-echoface-gpio.rules
udevadm control --reload-rules 2>/dev/null && udevadm trigger --subsystem-match=gpio 2>/dev/null || true

echo "== configuration and unit"
install -d -m 0755 /etc/echoface
[ -f /etc/echoface/echoface.json ] || install -m 0640 -g echoface deploy/echoface.json /etc/echoface/echoface.json
install -m 0644 systemd/echoface.service /etc/systemd/system/echoface.service
systemd-analyze verify /etc/systemd/system/echoface.service
systemctl daemon-reload
systemctl enable --now echoface.service
systemctl --no-pager status echoface.service || true
echo "installed: journalctl -u echoface -f; curl http://127.0.0.1:9464/healthz"
