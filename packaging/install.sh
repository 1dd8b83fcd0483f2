#!/bin/sh
# Install this xckit bundle on an air-gapped host: verify it, copy it under PREFIX,
# link the commands. Needs nothing from the network. Usage: ./install.sh [PREFIX]
# (BINDIR, default /usr/local/bin, is where the xckit command is linked.)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${1:-/opt/xckit}
arch=$(uname -m)
case "$arch" in aarch64) arch=arm64 ;; x86_64) arch=amd64 ;; esac
want=$(sed -n 's/^arch=//p' "$here/BUNDLE")
if [ "$arch" != "$want" ]; then
  echo "install.sh: this bundle is for $want, this host is $arch: take the $arch bundle" >&2
  exit 2
fi
"$here/bin/xckit" bundle verify "$here"
version=$(sed -n 's/^version=//p' "$here/BUNDLE")
dest="$prefix/kit/$version"
mkdir -p "$dest"
cp -R "$here/bin" "$here/profiles" "$here/docs" "$here/scripts" "$here/ansible" "$here/BUNDLE" "$here/SHA256SUMS" "$dest/"
ln -sfn "$dest" "$prefix/kit/current"
bindir=${BINDIR:-/usr/local/bin}
mkdir -p "$bindir" 2>/dev/null || true
ln -sf "$prefix/kit/current/bin/xckit" "$bindir/xckit" 2>/dev/null || echo "install.sh: add $prefix/kit/current/bin to PATH"
echo "install.sh: xckit $version installed in $dest"
