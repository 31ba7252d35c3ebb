# logplane — see README.md. Every tool comes from go.mod (`go tool`), never a download.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

GO            ?= go
CONTROLLER_GEN = $(GO) tool controller-gen
LOCAL_DIR     ?= $(CURDIR)/.local

# Release version (semver, no leading v) and images; `make bundle` writes them into the CSV.
VERSION       ?= 0.1.0
IMG           ?= ghcr.io/logplane/logplane:v$(VERSION)
BUNDLE_IMG    ?= ghcr.io/logplane/logplane-bundle:v$(VERSION)
CHANNELS      ?= candidate
DEFAULT_CHANNEL ?= candidate
# The CSV's createdAt annotation, pinned so that the bundle is reproducible; empty omits it.
CREATED_AT    ?=

.PHONY: all
all: build

##@ Development

.PHONY: generate
generate: ## Write deepcopy code for the API types, and ClusterLogOutput's rawParameters rules.
	$(CONTROLLER_GEN) object paths=./api/...
	$(GO) run ./hack/fluentbit-keys -rules-only

.PHONY: fluentbit-keys
fluentbit-keys: ## Read the keys each output plugin documents from FLUENT_BIT_BIN (internal/rawparams), then generate.
	$(GO) run ./hack/fluentbit-keys
	$(MAKE) generate

.PHONY: manifests
manifests: ## Write CRDs, RBAC and webhook configurations from the Go types and markers.
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) webhook:headerFile=hack/webhook-header.yaml.txt paths=./internal/webhook/... output:webhook:artifacts:config=config/webhook
	$(CONTROLLER_GEN) rbac:roleName=logplane-manager paths=./internal/... paths=./controllers/... output:rbac:artifacts:config=config/rbac

.PHONY: bundle
bundle: ## Write the OLM bundle (bundle/, bundle.Dockerfile) from config/ and the Go types.
	$(GO) run ./hack/bundle -version "$(VERSION)" -image "$(IMG)" -channels "$(CHANNELS)" \
		-default-channel "$(DEFAULT_CHANNEL)" -created-at "$(CREATED_AT)"

.PHONY: argocd
argocd: ## Write config/argocd/argocd-cm.yaml from the Lua health checks in config/argocd/health.
	$(GO) run ./hack/argocd

.PHONY: docs
docs: ## Write docs/reference/api.md from the Go types (crd-ref-docs via go tool).
	$(GO) tool crd-ref-docs --log-level=ERROR --config hack/crd-ref-docs.yaml --source-path ./api/v1alpha1 \
		--renderer markdown --output-path docs/reference/api.md

.PHONY: bundle-build
bundle-build: ## Build the bundle image (needs Docker; not available in CI here).
	docker build -f bundle.Dockerfile -t $(BUNDLE_IMG) .

.PHONY: verify-generated
verify-generated: ## Fail when generated files differ from what the Go sources produce.
	hack/verify-generated.sh

.PHONY: fmt
fmt:
	$(GO) fmt ./...

.PHONY: vet
vet: ## go vet, and fail on files gofmt would change.
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

.PHONY: envtest
envtest: ## Build kube-apiserver and etcd for tests (once; cached under ~/.cache).
	hack/setup-envtest.sh >/dev/null

# Packages that run Fluent Bit on this machine's network (agents, the events collector
# and sidecars listen on their fixed ports: 2020, 2021) run one after another, after
# the others: in a cluster each pod has its own network, here they share one.
NODE_PACKAGES = ./test/e2e ./hack/localcluster

.PHONY: test
test: verify-generated vet envtest ## Run every test against a real API server (and the real Fluent Bit: FLUENT_BIT_BIN or PATH).
	assets="$$(hack/setup-envtest.sh)" && export KUBEBUILDER_ASSETS="$$assets" && \
	$(GO) test $$($(GO) list ./... | grep -v -e /test/e2e -e /hack/localcluster) -count=1 -timeout 30m && \
	$(GO) test $(NODE_PACKAGES) -p 1 -count=1 -timeout 30m

.PHONY: e2e
e2e: envtest ## The data-plane suite alone: the operator's configuration run by the real Fluent Bit, records counted (needs root).
	assets="$$(hack/setup-envtest.sh)" && KUBEBUILDER_ASSETS="$$assets" $(GO) test ./test/e2e -count=1 -timeout 20m -v

##@ Run

.PHONY: build
build: ## Build bin/logplane and bin/fbexec.
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/logplane ./cmd/logplane
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/fbexec ./cmd/fbexec

.PHONY: run
run: build envtest ## Start a local control plane, install the CRDs, run the operator against it and apply the samples.
	assets="$$(hack/setup-envtest.sh)" && KUBEBUILDER_ASSETS="$$assets" $(GO) run ./hack/localcluster -dir "$(LOCAL_DIR)" -- bin/logplane manager

.PHONY: bench
bench: build envtest ## Scale benchmark (not part of test): BENCH_FLAGS="-n 100,500,2000 -pprof"; writes $(LOCAL_DIR)/bench/bench.{json,md}.
	assets="$$(hack/setup-envtest.sh)" && KUBEBUILDER_ASSETS="$$assets" $(GO) run ./test/bench -operator bin/logplane -out "$(LOCAL_DIR)/bench" $(BENCH_FLAGS)

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
