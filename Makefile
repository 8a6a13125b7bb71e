# Thin front door: each target is a line or a script.
GO       ?= go
BIN      ?= .ci/bin/sockudo
CONFIG   ?= configs/config.example.json
FUZZTIME ?= 10s

.PHONY: all build run test unit race gates vet depcheck e2e fuzz fuzz-smoke bench bench-smoke bench-v2 bench-delta soak soak-short clean

all: vet test

build:
	$(GO) build -o $(BIN) ./cmd/sockudo

run: build
	$(BIN) --config $(CONFIG)

# test is what CI runs: static checks, every Go test under -race, a short
# fuzz pass, and the real-client suites.
test: vet depcheck race gates fuzz-smoke e2e

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd engine shard protocol httpapi expose configs)" || (gofmt -l cmd engine shard protocol httpapi expose configs; echo 'gofmt needed'; exit 1)

depcheck:
	bash .ci/depcheck.sh

race:
	$(GO) test -race -count=1 ./...

# gates are the tests the race detector would distort, built only without
# it: allocation gates (AllocsPerRun) and RSS measurements of a child server.
GATES ?= NoAllocs|AllocatesNothing|DoNotAllocate|TestBurstToSlowConsumerMemory|TestLargeBodiesNotKeptPerConnection|TestIdleSubscribedConnectionMemory
gates:
	$(GO) test -count=1 -run '$(GATES)' ./...

unit:
	$(GO) test -count=1 ./...

fuzz-smoke:
	bash .ci/fuzz-selftest.sh
	FUZZTIME=$(FUZZTIME) bash .ci/fuzz.sh

fuzz:
	FUZZTIME=5m bash .ci/fuzz.sh

e2e: build
	cd e2e && npm ci --no-audit --no-fund && SOCKUDO_BIN=$(CURDIR)/$(BIN) npm test

bench: build
	cd bench && SOCKUDO_BIN=$(CURDIR)/$(BIN) $(GO) run ./cmd/scenarios -mode full

bench-smoke: build
	cd bench && SOCKUDO_BIN=$(CURDIR)/$(BIN) $(GO) run ./cmd/scenarios -mode smoke

# issue 12 "Speed": V2 recovery (1,000 clients dropped at once) and
# PostgreSQL history against history off, three interleaved runs each
# (needs /usr/lib/postgresql/*/bin; the history scenarios fail without it).
bench-v2: build
	cd bench && SOCKUDO_BIN=$(CURDIR)/$(BIN) $(GO) run ./cmd/scenarios -mode full -repeat 3 \
		-only 6-v2-resume,7-history-off,7-history-pg,7-history-off-5k,7-history-pg-5k,7-history-off-max,7-history-pg-max
# bench-delta is issue 13 over real sockets: 10,000 V2 subscribers of one
# ticker channel, plain (the baseline) then fossil, xdelta3 and fossil with
# the byte-minimising settings, three interleaved runs (≈10 min); server CPU
# per delivery and wire bytes per delivery against the plain run before.
bench-delta: build
	cd bench && SOCKUDO_BIN=$(CURDIR)/$(BIN) $(GO) run ./cmd/scenarios -mode full -repeat 3 \
		-only 8-delta-plain,8-delta-fossil,8-delta-xdelta3,8-delta-fossil-min
# bench-density is issue 14's 100,000 connections over several server
# processes on a local NATS (needs /usr/sbin/nats-server; ≈2 min; not part of
# test or bench-smoke). Smaller: make bench-density DENSITY='-conns 10000 -servers 2 -loaders 1'
.PHONY: bench-density
DENSITY ?=
bench-density: build
	cd bench && SOCKUDO_BIN=$(CURDIR)/$(BIN) $(GO) run ./cmd/density $(DENSITY)

# soak runs the server for 30 minutes under mixed load and checks that
# nothing leaks or is lost (DURATION=10m to shorten); soak-short is CI's.
DURATION ?= 30m
soak: build
	cd bench && SOCKUDO_BIN=$(CURDIR)/$(BIN) $(GO) run ./cmd/soak -duration $(DURATION)

soak-short: build
	cd bench && SOCKUDO_BIN=$(CURDIR)/$(BIN) $(GO) run ./cmd/soak -short

clean:
	rm -rf .ci/bin
