#!/usr/bin/env bash
# Fails when git tracks build output: an ELF file anywhere, or a file over 1 MB that is
# not test data (under a testdata/ folder). Part of `make vet`, so `make test` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue
  if [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')" = "7f454c46" ]; then
    echo "check-tracked: $f is an ELF binary; build output does not belong in git (git rm --cached '$f')" >&2
    status=1
    continue
  fi
  case "$f" in */testdata/*|testdata/*) continue;; esac
  size=$(stat -c %s "$f")
  if [ "$size" -gt 1048576 ]; then
    echo "check-tracked: $f is $size bytes (over 1 MB) and not under testdata/; remove it or move test data to testdata/" >&2
    status=1
  fi
done < <(git ls-files -z)
exit $status
