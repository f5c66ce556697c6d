# redisha-sim: see README.md. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
GO ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
PKGS_NO_E2E = $$($(GO) list ./... | grep -v /e2e$$)
E2E_TIMEOUT ?= 60m
FUZZTIME ?= 15s
# Debian packages the tests use: real Redis and Sentinel processes, HAProxy
# for comparisons and benchmarks, socat for the runtime API, Chromium for
# the screenshot tests, busybox for shells in the local images, python3
# and python3-redis for the redis-py client driver and the command-client tests.
DEB_PACKAGES := redis-server redis-sentinel redis-tools haproxy socat chromium fonts-dejavu-core busybox-static python3 python3-redis
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help build deps images test unit e2e fuzz lint vet cross cross-staticcheck fmt bench clean

help: ## list the targets
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/redisha-sim
	CGO_ENABLED=0 $(GO) build -o bin/redisha-sim ./cmd/redisha-sim

deps: ## install the Debian packages the tests need (apt-get)
	@if dpkg -s $(DEB_PACKAGES) >/dev/null 2>&1; then echo "packages present"; else \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES); fi

images: build ## build the local container images (redis with the relay, haproxy, proxy) from Debian packages and bin/redisha-sim
	./bin/redisha-sim images

test: deps images lint unit fuzz e2e ## everything CI runs: set up, lint, unit and integration tests, fuzzing, e2e

unit: ## unit and integration tests (real redis-server processes), race detector on
	REDISHA_REQUIRE_REDIS=1 REDISHA_REQUIRE_CHROMIUM=1 REDISHA_REQUIRE_PYREDIS=1 $(GO) test -race -p 1 -count=1 -timeout 30m $(PKGS_NO_E2E)

e2e: ## the Ginkgo suite against real containers
	REDISHA_REQUIRE_REDIS=1 $(GO) test -v ./e2e -count=1 -timeout $(E2E_TIMEOUT) -ginkgo.v -ginkgo.junit-report=$(CURDIR)/e2e-junit.xml

fuzz: ## run each fuzz target briefly
	$(GO) test ./proxy/config -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./proxy/tcpcheck -run '^$$' -fuzz FuzzCheckReplies -fuzztime $(FUZZTIME)
	$(GO) test ./sim/scenario -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./proxy -run '^$$' -fuzz '^FuzzRuntimeLine$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proxy -run '^$$' -fuzz '^FuzzStatsHandler$$' -fuzztime $(FUZZTIME)

vet:
	$(GO) vet ./...

# The command runs on macOS and Windows hosts too (Docker Desktop: the run
# goes into a runner container); building the ./cmd/... packages for
# several targets writes no binary.
cross: ## go vet for Windows and macOS, and build the commands for Windows and macOS arm64
	GOOS=windows $(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) build ./cmd/...
	GOOS=darwin GOARCH=arm64 $(GO) build ./cmd/...

# go run would build staticcheck for GOOS too: install it for this machine
# in bin/ and point it at the other OSes.
cross-staticcheck: ## staticcheck for Windows and macOS
	GOBIN=$(CURDIR)/bin $(GO) install $(STATICCHECK)
	GOOS=windows ./bin/staticcheck ./...
	GOOS=darwin ./bin/staticcheck ./...

lint: vet cross ## go vet (Linux, Windows, macOS), staticcheck and gofmt
	$(GO) run $(STATICCHECK) ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

fmt: ## gofmt the tree
	gofmt -w .

bench: build ## benchmarks: redis-benchmark direct / our proxy / HAProxy, idle-session RSS, Go benchmarks (copy path; 10,000 model trials, goal at most 5 s)
	$(GO) run ./cmd/redisha-bench -proxy ./bin/redisha-sim
	$(GO) test ./proxy -run '^$$' -bench . -benchtime 2s -benchmem
	$(GO) test ./sim/model -run '^$$' -bench PredictMasterKill10000 -benchtime 1x -count 3

clean: ## remove build output and leftovers of crashed runs (containers, networks)
	-./bin/redisha-sim clean
	rm -rf bin e2e-junit.xml
