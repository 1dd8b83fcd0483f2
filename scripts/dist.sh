#!/usr/bin/env bash
# make dist: xckit and payd for linux/amd64 and linux/arm64 (static, -trimpath, stamped),
# each in an offline bundle dist/xckit-<version>-linux-<arch>.tar.gz with SHA256SUMS,
# and as RPM (Kylin V10, EulerOS, openEuler) and DEB packages built with nfpm.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${VERSION:?} COMMIT=${COMMIT:?} DATE=${DATE:?}
NFPM="go run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.41.3"
LDFLAGS="-s -w -X github.com/xckit/xckit/internal/buildinfo.Version=$VERSION -X github.com/xckit/xckit/internal/buildinfo.Commit=$COMMIT -X github.com/xckit/xckit/internal/buildinfo.Date=$DATE"
mkdir -p dist
for arch in amd64 arm64; do
  name="xckit-$VERSION-linux-$arch"
  root="dist/$name"
  rm -rf "$root"; mkdir -p "$root/bin" "$root/profiles" "$root/docs" "$root/scripts"
  for cmd in xckit payd; do
    CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags "$LDFLAGS" -o "$root/bin/$cmd" "./cmd/$cmd"
  done
  cp profiles/builtin/*.yaml "$root/profiles/"
  cp docs/*.md "$root/docs/"
  cp scripts/signed-curl.sh "$root/scripts/"
  cp packaging/install.sh "$root/install.sh"
  go run ./cmd/xckit install unit --prefix /opt/xckit --user payd > "$root/payd.service"
  printf 'version=%s\narch=%s\ncommit=%s\nbuild_date=%s\n' "$VERSION" "$arch" "$COMMIT" "$DATE" > "$root/BUNDLE"
  (cd "$root" && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | sort | xargs sha256sum > SHA256SUMS)
  tar -C dist -czf "dist/$name.tar.gz" "$name"
  echo "dist: dist/$name.tar.gz"
  sed -e "s|\${BUNDLE}|$root|g" -e "s|\${ARCH}|$arch|g" -e "s|\${PKG_VERSION}|0.1.0+$COMMIT|g" packaging/nfpm.yaml > "dist/nfpm-$arch.yaml"
  for fmt in rpm deb; do
    $NFPM pkg --config "dist/nfpm-$arch.yaml" --packager "$fmt" --target dist/ >/dev/null
  done
done
ls dist/*.rpm dist/*.deb | sed 's/^/dist: /'
(cd dist && sha256sum ./*.tar.gz ./*.rpm ./*.deb > SHA256SUMS)
