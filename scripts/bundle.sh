#!/usr/bin/env bash
# Assemble one offline bundle directory: scripts/bundle.sh ARCH DIR. Static, stamped
# binaries (VERSION, COMMIT, DATE from the environment), profiles, docs, the Ansible
# playbooks, roles and inventory example, the systemd unit, install.sh, BUNDLE and
# SHA256SUMS. Used by scripts/dist.sh (make dist) and by the packaging tests.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:?arch (amd64 or arm64)} root=${2:?bundle directory}
VERSION=${VERSION:-dev} COMMIT=${COMMIT:-unknown} DATE=${DATE:-unknown}
LDFLAGS="-s -w -X github.com/xckit/xckit/internal/buildinfo.Version=$VERSION -X github.com/xckit/xckit/internal/buildinfo.Commit=$COMMIT -X github.com/xckit/xckit/internal/buildinfo.Date=$DATE"
rm -rf "$root"; mkdir -p "$root/bin" "$root/profiles" "$root/docs" "$root/scripts" "$root/ansible"
for cmd in xckit payd; do
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags "$LDFLAGS" -o "$root/bin/$cmd" "./cmd/$cmd"
done
cp profiles/builtin/*.yaml "$root/profiles/"
cp docs/*.md "$root/docs/"
cp scripts/signed-curl.sh "$root/scripts/"
# The playbooks as an engineer runs them on site (the Go files are the repository's tests).
(cd ansible && find . -type f ! -name '*.go' | while read -r f; do mkdir -p "$root/ansible/$(dirname "$f")"; cp "$f" "$root/ansible/$f"; done)
mkdir -p "$root/prometheus" && cp packaging/prometheus/*.yml "$root/prometheus/"
cp packaging/install.sh "$root/install.sh"
go run ./cmd/xckit install unit --prefix /opt/xckit --user payd > "$root/payd.service"
printf 'version=%s\narch=%s\ncommit=%s\nbuild_date=%s\n' "$VERSION" "$arch" "$COMMIT" "$DATE" > "$root/BUNDLE"
(cd "$root" && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | sort | xargs sha256sum > SHA256SUMS)
