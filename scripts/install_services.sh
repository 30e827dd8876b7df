#!/usr/bin/env bash
# Install the real services surgeguard's tests and `make live` run: Prometheus and promtool
# (Debian package `prometheus`), and FRR (Debian package `frr`: `vtysh -C -f FILE` checks the
# SR-TE `pathd` configuration that `surgeguard export sr --format frr` writes). Idempotent: installs
# only what is missing; the packages' services are disabled (surgeguard's tests start their own
# servers and only use FRR's configuration parser).
set -euo pipefail
need=()
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then need+=(prometheus); fi
if ! command -v vtysh >/dev/null || [ ! -x /usr/lib/frr/pathd ]; then need+=(frr); fi
if [ "${#need[@]}" = 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "installing ${need[*]} (Debian packages) ..."
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
for svc in "${need[@]}"; do
  # prometheus would listen on :9090 and frr would start routing daemons: neither is wanted
  $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
done
if command -v prometheus >/dev/null; then prometheus --version 2>&1 | head -1; fi
if command -v vtysh >/dev/null; then echo "frr $(dpkg-query -W -f '${Version}' frr 2>/dev/null || true)"; fi
