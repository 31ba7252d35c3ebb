#!/usr/bin/env bash
# verify-generated.sh — regenerate deepcopy code, CRDs, RBAC, webhook configurations,
# the OLM bundle, the Argo CD snippet and the API reference in a scratch copy of the
# tree and fail when the result differs from the files in this tree. Works on a dirty
# tree too: it compares against what is on disk, not what is committed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

tar -C "$root" --exclude=./.git --exclude=./bin --exclude=./.local -cf - . | tar -C "$scratch" -xf -
# The committed bundle is the one for the Makefile's defaults, whatever the caller's
# environment says.
env -u VERSION -u IMG -u CHANNELS -u DEFAULT_CHANNEL -u CREATED_AT \
  make -s -C "$scratch" generate manifests bundle argocd docs >/dev/null

status=0
for path in api config/crd/bases config/rbac config/webhook config/argocd bundle bundle.Dockerfile docs/reference; do
  if ! diff -ruN "$root/$path" "$scratch/$path"; then status=1; fi
done
if [[ $status -ne 0 ]]; then
  echo "generated files are out of date: run 'make generate manifests bundle argocd docs' and commit the result" >&2
fi
exit $status
