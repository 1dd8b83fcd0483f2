#!/usr/bin/env bash
# Install what xckit's lab, tests and demo need on Debian 12, skipping what is present.
# Used by `make setup` (and so by `make test` and `make demo`). Services the packages
# would start (mariadb, nginx, ssh) are kept from starting: the lab runs its own.
set -euo pipefail

PACKAGES=(postgresql-15 postgresql-15-wal2json mariadb-server nginx
          qemu-user-static ansible openssh-server rpm chromium curl ca-certificates
          wrk haproxy postgresql-server-dev-15 gcc libc6-dev)
# wrk: make bench-generator; haproxy: the switch driver's test; postgresql-server-dev-15
# and gcc: the lab builds its mppdb_decoding output plugin (lab/plugin) for PostgreSQL 15

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "setup: missing packages ${missing[*]} and not root (no sudo): install them with apt-get" >&2
      exit 2
    fi
  fi
  # Keep package scripts from starting system services; remove our guard afterwards.
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    guard=1
  fi
  trap '[ -n "$guard" ] && $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: apt packages present"
fi

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || { echo "setup: Go 1.26 is needed (https://go.dev/dl): not found on PATH" >&2; exit 2; }
go mod download
echo "setup: done"
