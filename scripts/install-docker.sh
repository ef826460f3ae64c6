#!/usr/bin/env bash
# Install what the docker performer runtime's tests need: dockerd (Debian's docker.io, which pulls in
# containerd, runc and tini) and debootstrap (to build the performer base image locally, since no Docker
# registry is reachable). Idempotent: does nothing when everything is present. Run as root.
#
# No service is started: the tests run their own private dockerd on their own socket. While apt runs, a
# temporary policy-rc.d stops the packages' postinst from starting a system docker/containerd (only when the
# machine has none already; it is removed afterwards).
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v containerd >/dev/null 2>&1 || need+=(containerd)
command -v runc >/dev/null 2>&1 || need+=(runc)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "error: installing ${need[*]} needs root (run: sudo $0)" >&2
  exit 1
fi

policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
# `apt-get update` only when the package lists are missing or do not know a package we need.
if ! apt-cache show "${need[@]}" >/dev/null 2>&1; then
  apt-get update -q
fi
apt-get install -y -q --no-install-recommends "${need[@]}"

for tool in dockerd containerd runc debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool still missing after install" >&2; exit 1; }
done
