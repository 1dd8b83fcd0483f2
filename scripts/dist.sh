#!/usr/bin/env bash
# make dist: xckit and payd for linux/amd64 and linux/arm64 (static, -trimpath, stamped),
# each in an offline bundle dist/xckit-<version>-linux-<arch>.tar.gz with SHA256SUMS,
# and as RPM (Kylin V10, EulerOS, openEuler) and DEB packages built with nfpm.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${VERSION:?} COMMIT=${COMMIT:?} DATE=${DATE:?}
NFPM="go run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.41.3"
mkdir -p dist
for arch in amd64 arm64; do
  name="xckit-$VERSION-linux-$arch"
  root="dist/$name"
  VERSION=$VERSION COMMIT=$COMMIT DATE=$DATE scripts/bundle.sh "$arch" "$root"
  tar -C dist -czf "dist/$name.tar.gz" "$name"
  echo "dist: dist/$name.tar.gz"
  sed -e "s|\${BUNDLE}|$root|g" -e "s|\${ARCH}|$arch|g" -e "s|\${PKG_VERSION}|0.1.0+$COMMIT|g" packaging/nfpm.yaml > "dist/nfpm-$arch.yaml"
  for fmt in rpm deb; do
    $NFPM pkg --config "dist/nfpm-$arch.yaml" --packager "$fmt" --target dist/ >/dev/null
  done
done
ls dist/*.rpm dist/*.deb | sed 's/^/dist: /'
(cd dist && sha256sum ./*.tar.gz ./*.rpm ./*.deb > SHA256SUMS)
