# Tresor — one command runs every check: `make test`.
#
# It installs what the tests need when it is missing, then runs go vet, a gofmt
# check and every test with the race detector. CI runs exactly this target
# (see .ci/run).

GO ?= go

# Every target is a command, not a file.
.PHONY: test deps build vet fmt-check jscheck unit bench fuzz

test: deps build vet fmt-check jscheck unit

# deps installs what the tests need on a fresh machine: Go modules, and
# Debian's Chromium for the browser tests (browsertest/) when
# /usr/bin/chromium is missing (CI runs as root; elsewhere it uses sudo when
# not root). The browser tests skip without Chromium, except in CI (CI=true),
# where a missing browser fails them.
deps: chromium
	$(GO) mod download

.PHONY: chromium
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium; \
	fi

# build compiles every package without its tests (so code that compiles only
# together with a _test.go file is caught), and the audited packages for the
# browser's js/wasm build.
build:
	$(GO) build ./...
	GOOS=js GOARCH=wasm $(GO) build ./e2ee ./keys/... ./cmd/tresor-wasm

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# jscheck type-checks the browser client's ES modules (each starts with
# // @ts-check) with TypeScript, pinned in web/package-lock.json and
# installed by npm ci into web/node_modules.
jscheck:
	cd web && npm ci --no-audit --no-fund --loglevel=error && npx --no-install tsc -p jsconfig.json

unit:
	$(GO) test -race -count=1 -timeout 30m ./...

# bench runs every benchmark once with allocation counts.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# fuzz runs each fuzz target for FUZZTIME (default 20s).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done
