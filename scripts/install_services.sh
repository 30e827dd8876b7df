#!/usr/bin/env bash
# Install the real services surgeguard's tests and `make live` run: Prometheus and promtool
# (Debian package `prometheus`). Idempotent: does nothing when they are already installed.
set -euo pipefail
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "installing Prometheus (Debian package prometheus) ..."
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# the package's service would listen on :9090; surgeguard's tests start their own servers
$SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
prometheus --version | head -1
