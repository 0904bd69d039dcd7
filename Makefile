# Tresor — one command runs every check: `make test`.
#
# It installs what the tests need when it is missing, then runs go vet, a gofmt
# check and every test with the race detector. CI runs exactly this target
# (see .ci/run).

GO ?= go

# Every target is a command, not a file.
.PHONY: test deps build vet fmt-check unit bench fuzz

test: deps build vet fmt-check unit

# deps installs what the tests need on a fresh machine: Go modules now; the
# browser tests (headless Chromium) add their install step here.
deps:
	$(GO) mod download

# build compiles every package without its tests (so code that compiles only
# together with a _test.go file is caught), and the audited packages for the
# browser's js/wasm build.
build:
	$(GO) build ./...
	GOOS=js GOARCH=wasm $(GO) build ./e2ee ./keys/...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

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
