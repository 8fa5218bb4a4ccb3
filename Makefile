# Two commands matter: `make run` and `make test` (see README.md).
GO       ?= go
BIN      := bin
PKGS     := ./...
# The race detector needs cgo; a machine with Go but no C compiler still runs the suite.
RACE     := $(shell [ "$$($(GO) env CGO_ENABLED 2>/dev/null)" = 1 ] && echo -race)

.PHONY: run start stop test build lint lint-sh vet fmt bench bench-quick bench-go compose-check clean

## run: build and start both services on SQLite + local storage with a seeded demo (Ctrl-C stops both).
## Without APP_SECRET_KEY a random development key is made and kept in data/ (the script says so).
run:
	@./scripts/start_servers.sh --foreground --seed

## start: the same in the background (logs/ and PID files); stop with `make stop`
start:
	@./scripts/start_servers.sh --seed

## stop: stop services started in the background by scripts/start_servers.sh
stop:
	@./scripts/stop_servers.sh

## build: compile the three binaries into bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/auth ./cmd/auth
	$(GO) build -o $(BIN)/tutorial ./cmd/tutorial
	$(GO) build -o $(BIN)/itssctl ./cmd/itssctl

## test: the whole suite with the race detector (MySQL leg when ITSS_TEST_MYSQL_DSN is set)
test:
	@./scripts/test_preamble.sh
	@[ -n "$(RACE)" ] || echo "race detector: unavailable (cgo needs a C compiler, e.g. gcc): tests run without -race"
	$(GO) test $(RACE) -count=1 -timeout 20m $(PKGS)

## lint: gofmt, go vet and staticcheck
lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

lint-sh:
	shellcheck -x scripts/*.sh .ci/run

compose-check:
	docker compose config -q

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## bench: Go micro-benchmarks, then the HTTP load harness (cmd/itss-bench; writes bench-results.json)
bench: bench-go
	$(GO) run ./cmd/itss-bench $(BENCH_ARGS)

## bench-quick: a one-minute smoke run of the load harness
bench-quick:
	$(GO) run ./cmd/itss-bench --quick $(BENCH_ARGS)

## bench-go: Go benchmarks only (hashing, login, playback, catalogue, upload, runner)
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

clean:
	rm -rf $(BIN)
