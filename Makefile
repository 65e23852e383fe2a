# ccsbench Makefile. `make run` does a real run against the embedded fake;
# `make test` is what CI runs.
GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 20s
BENCHTIME   ?= 1s
PKGS        := ./...
BIN         := bin/ccsbench

.PHONY: all build run test race lint fmt-check vet staticcheck bench fuzz gate baseline soak scale clean judge-matrix

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

# The project's own performance gate: two short runs against the embedded
# fake compared with the committed baselines in results/. Thresholds are wide
# because CI machines are shared 2-core boxes: the paced run's rate is steady
# (it is set by the pacer) so it gets a tight bound and an absolute p99
# ceiling; the saturating run's rate moves with machine load, so it only
# catches collapses. Refresh the baselines with `make baseline`.
GATE_PACED := run --conns 8 --rate 5000 --duration 5s --progress=false
GATE_MAX   := run --conns 8 --rate 0 --duration 5s --progress=false

gate: build
	./$(BIN) $(GATE_PACED) --json bin/gate-paced.json --gate "unresolved==0,rate>=4900,p99<5ms,rp99<10ms"
	./$(BIN) compare results/baseline-paced.json bin/gate-paced.json --max-rate-drop 2% --max-p99-rise off
	./$(BIN) $(GATE_MAX) --json bin/gate-max.json --gate "unresolved==0,rate>=100000"
	./$(BIN) compare results/baseline-max.json bin/gate-max.json --max-rate-drop 60% --max-p99-rise off

# Resident memory of a 65 s run at 200,000 msgs/s: flat within 10 % between
# second 10 and second 60, or it fails.
soak:
	bash driver/rss_soak.sh

# The scaling curve: 1 to 5000 connections at rate 0 and 10000/s, against
# an external and the embedded fake; writes results/scale.md (2 to 4
# minutes; needs jq and GNU time).
scale:
	bash scripts/scale.sh results/scale.md

baseline: build
	./$(BIN) $(GATE_PACED) --json results/baseline-paced.json
	./$(BIN) $(GATE_MAX) --json results/baseline-max.json

clean:
	rm -rf bin

# The Kubernetes manifests of deploy/kubernetes, stamped by render.sh and
# decoded offline with the Kubernetes API types (no cluster needed).
.PHONY: k8s-check
k8s-check:
	$(GO) test -count=1 ./deploy/kubernetes/

# A sharded run on this machine, as on several: 4 processes of bin/ccsbench
# started together with --start-at against one `ccsbench fake --track-ids`,
# merged with `ccsbench merge`, and checked (ids, duplicates, histograms,
# start skew, rate). Prints each attempt's figures.
.PHONY: distributed
distributed: build
	CCSBENCH_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -run '^TestDistributed$$' -v ./cmd/ccsbench/

# The naive example client under every one of its switches, judged on every
# scenario: one line per switch with the rules it failed (each switch should
# fail exactly the rule it breaks, none without a switch), then the verdicts
# side by side in bin/judge-matrix/matrix.md. Takes a few minutes.
MATRIX_SWITCHES := none -no-window -ignore-drain -lose-on-drain -no-upstream-ack -no-receipt-ack \
	-retry-now -no-retry -retry-final -no-resend -resend-acked -bad-auth -no-bind
MATRIX_MESSAGES ?= 2000

judge-matrix: build
	@mkdir -p bin/judge-matrix
	$(GO) build -o bin/naive ./examples/clients/naive
	@for sw in $(MATRIX_SWITCHES); do \
	  arg=$$sw; [ "$$sw" = none ] && arg=; \
	  ./$(BIN) judge --messages $(MATRIX_MESSAGES) --scenario-timeout 30s --name "naive $$sw" \
	    --json bin/judge-matrix/$$sw.json -- bin/naive $$arg \
	    > bin/judge-matrix/$$sw.txt 2> bin/judge-matrix/$$sw.err; \
	  printf '%-17s exit %d  %s\n' "$$sw" $$? "$$(tail -n 1 bin/judge-matrix/$$sw.txt)"; \
	done
	@./$(BIN) report $(foreach sw,$(MATRIX_SWITCHES),bin/judge-matrix/$(sw).json) --md bin/judge-matrix/matrix.md
	@echo "verdicts side by side: bin/judge-matrix/matrix.md"

# Runs ccsbench against Prosody and ejabberd (installed with apt-get when missing) and a
# separate ccsbench fake; writes results/interop-servers.md. Not part of test.
.PHONY: interop-servers
interop-servers:
	bash scripts/interop/servers/run.sh

# Third-party XMPP stacks (go-xmpp, gosrc.io/xmpp, Debian's slixmpp) as CCS
# app servers, judged against the fake; writes results/interop-go-python.md.
# Needs the Go module proxy and, for slixmpp, Debian's python3-slixmpp
# (installed with apt-get when missing and run as root). Not part of `make test`.
.PHONY: interop-go-python
interop-go-python:
	bash scripts/interop/go-python/run.sh results/interop-go-python.md

# Third-party Node.js CCS clients (node-xcs, and a client on @xmpp/client)
# run by hand against `ccsbench fake` and judged on every scenario; npm
# installs them into a cache directory, never into the repository. Writes
# results/interop-node.md (a few minutes; needs node and npm).
INTEROP_MESSAGES ?= 20000

.PHONY: interop-node
interop-node: build
	MESSAGES=$(INTEROP_MESSAGES) CCSBENCH=$(BIN) bash scripts/interop/node/run.sh

# The XMPP client stacks Debian packages (python3-aioxmpp, ruby-xmpp4r,
# libstrophe-dev), each as a CCS app server judged against the fake, and
# run against every --wire-form; writes results/interop-debian.md (about
# two minutes). Installs the packages with apt-get when missing (as root).
# Not part of `make test`.
INTEROP_DEBIAN_MESSAGES ?= 5000

.PHONY: interop-debian
interop-debian:
	MESSAGES=$(INTEROP_DEBIAN_MESSAGES) bash scripts/interop/debian/run.sh results/interop-debian.md
