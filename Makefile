# ccsbench Makefile. `make run` does a real run against the embedded fake;
# `make test` is what CI runs.
GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 20s
BENCHTIME   ?= 1s
PKGS        := ./...
BIN         := bin/ccsbench

.PHONY: all build run test race lint fmt-check vet staticcheck bench fuzz gate clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/ccsbench

# A real 10 s run against the embedded fake: 8 connections at 5000 msgs/s.
run: build
	./$(BIN) run --conns 8 --rate 5000 --duration 10s

test: race lint

race:
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) run $(STATICCHECK) $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

# Every native fuzz target, each for FUZZTIME.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

clean:
	rm -rf bin
