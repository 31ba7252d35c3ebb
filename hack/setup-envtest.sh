#!/usr/bin/env bash
# setup-envtest.sh — make sure the kube-apiserver and etcd binaries that envtest starts
# exist, building them from source through the Go module proxy when they do not.
#
#   export KUBEBUILDER_ASSETS="$(hack/setup-envtest.sh)"
#
# stdout carries one line, the assets directory; progress goes to stderr.
# The directory defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/logplane/envtest/<k8s version>
# and is reused across runs: a second call returns in well under a second.
#
# Why build: release tarballs and setup-envtest downloads are unreachable here, and
# `go install k8s.io/kubernetes/cmd/kube-apiserver@v1.37.2` is refused because
# kubernetes' go.mod replaces its staging modules with local paths. A throwaway module
# that requires k8s.io/kubernetes and points each staging module at its published
# v0.X.Y twin builds fine. etcd's server module has the same problem and the same cure.
#
# Environment:
#   K8S_VERSION (v1.37.2)  ETCD_VERSION (v3.7.3)  ENVTEST_FORCE_REBUILD=1
set -Eeuo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"
[[ "$K8S_VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || { echo "K8S_VERSION must look like v1.37.2" >&2; exit 1; }
MINOR="${BASH_REMATCH[1]}"
STAGING="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"

OUT="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/logplane/envtest/${K8S_VERSION#v}}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd -P)"

say() { printf '[setup-envtest] %s\n' "$*" >&2; }
fail() { say "ERROR: $*"; exit 1; }

apiserver_ok() { [[ "$("$OUT/kube-apiserver" --version 2>/dev/null)" == "Kubernetes $K8S_VERSION" ]]; }
# No pipes here: under pipefail an early-closing reader would make a good binary look bad.
etcd_ok() {
  local v
  v="$("$OUT/etcd" --version 2>/dev/null)" || return 1
  [[ "$v" == "etcd Version: ${ETCD_VERSION#v}"$'\n'* ]]
}
done_if_ready() {
  if [[ "${ENVTEST_FORCE_REBUILD:-0}" != 1 ]] && apiserver_ok && etcd_ok; then
    echo "$OUT"; exit 0
  fi
}
done_if_ready

# Two parallel callers (make run + make test) must not build twice. Children get
# "9>&-" so that a go process outliving a killed script does not hold the lock.
exec 9>"$OUT/.lock"
flock 9
done_if_ready

# The throwaway modules live outside the repo: none of the caller's Go settings apply.
export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

gomod_of() { # module@version -> path of its go.mod in the module cache
  go mod download -json "$1" 9>&- | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p'
}

build_etcd() {
  say "building etcd $ETCD_VERSION (about 1.5 min cold)"
  local src; src="$(gomod_of "go.etcd.io/etcd/server/v3@$ETCD_VERSION")"
  mkdir -p "$WORK/etcd" && cd "$WORK/etcd"
  printf 'module tmp/etcd\n\ngo %s\n\nrequire go.etcd.io/etcd/server/v3 %s\n' \
    "$(awk '$1=="go"{print $2; exit}' "$src")" "$ETCD_VERSION" >go.mod
  go list -deps go.etcd.io/etcd/server/v3 >/dev/null 9>&-
  go build -trimpath -ldflags='-s -w' -o "$OUT/etcd.new" go.etcd.io/etcd/server/v3 9>&-
  mv -f "$OUT/etcd.new" "$OUT/etcd"
  etcd_ok || fail "etcd does not report version ${ETCD_VERSION#v}"
}

build_apiserver() {
  say "building kube-apiserver $K8S_VERSION (12-20 min on 2 cores with a cold build cache)"
  local src; src="$(gomod_of "k8s.io/kubernetes@$K8S_VERSION")"
  mkdir -p "$WORK/apiserver" && cd "$WORK/apiserver"
  # Staging modules: required by kubernetes and replaced by ./staging/src/... paths.
  local staging
  staging="$(awk '
      /^require[[:space:]]*\(/ {b="req"; next}
      /^replace[[:space:]]*\(/ {b="rep"; next}
      b != "" && /^\)/ {b=""; next}
      /^require[[:space:]]/ {req[$2]=1; next}
      /^replace[[:space:]]/ && $4 ~ /^\.\/staging\// {rep[$2]=1; next}
      b == "req" {req[$1]=1}
      b == "rep" && $3 ~ /^\.\/staging\// {rep[$1]=1}
      END {for (m in rep) if (m in req) print m}' "$src" | sort)"
  [[ -n "$staging" ]] || fail "no staging replaces found in $src"
  {
    printf 'module tmp/apiserver\n\ngo %s\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' \
      "$(awk '$1=="go"{print $2; exit}' "$src")" "$K8S_VERSION"
    while read -r m; do printf '\t%s => %s %s\n' "$m" "$m" "$STAGING"; done <<<"$staging"
    printf ')\n'
  } >go.mod
  go list -deps k8s.io/kubernetes/cmd/kube-apiserver >/dev/null 9>&-
  # Without these the binary calls itself v0.0.0-master and our version check fails.
  local ld="-s -w" kv
  for kv in "gitVersion=$K8S_VERSION" gitMajor=1 "gitMinor=$MINOR" gitTreeState=clean; do
    ld+=" -X k8s.io/component-base/version.$kv -X k8s.io/client-go/pkg/version.$kv"
  done
  go build -trimpath -ldflags="$ld" -o "$OUT/kube-apiserver.new" k8s.io/kubernetes/cmd/kube-apiserver 9>&-
  mv -f "$OUT/kube-apiserver.new" "$OUT/kube-apiserver"
  apiserver_ok || fail "kube-apiserver does not report $K8S_VERSION"
}

start=$SECONDS
etcd_ok && [[ "${ENVTEST_FORCE_REBUILD:-0}" != 1 ]] || build_etcd
apiserver_ok && [[ "${ENVTEST_FORCE_REBUILD:-0}" != 1 ]] || build_apiserver
say "ready in $((SECONDS - start))s: $OUT"
echo "$OUT"
