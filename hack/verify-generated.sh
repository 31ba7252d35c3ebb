#!/usr/bin/env bash
# verify-generated.sh — regenerate deepcopy code, CRDs and RBAC in a scratch copy of the
# tree and fail when the result differs from the files in this tree. Works on a dirty
# tree too: it compares against what is on disk, not what is committed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

tar -C "$root" --exclude=./.git --exclude=./bin --exclude=./.local -cf - . | tar -C "$scratch" -xf -
make -s -C "$scratch" generate manifests >/dev/null

status=0
for path in api config/crd/bases config/rbac; do
  if ! diff -ruN "$root/$path" "$scratch/$path"; then status=1; fi
done
if [[ $status -ne 0 ]]; then
  echo "generated files are out of date: run 'make generate manifests' and commit the result" >&2
fi
exit $status
