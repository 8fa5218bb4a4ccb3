# Two commands matter: `make run` and `make test` (see README.md).
GO       ?= go
BIN      := bin
PKGS     := ./...
# A development-only secret so `make run` needs no setup; real deployments set
# APP_SECRET_KEY in .env or the environment (the services refuse short keys).
DEV_SECRET := dev-only-secret-change-me-0123456789abcdef

.PHONY: run test build lint vet fmt bench bench-go clean stop

## run: build and start both services on SQLite + local storage with a seeded demo (Ctrl-C stops both)
run: build
	@APP_SECRET_KEY="$${APP_SECRET_KEY:-$(DEV_SECRET)}" ./scripts/start_servers.sh --foreground

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
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

## lint: gofmt and go vet
lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## bench: Go micro-benchmarks, then the HTTP load harness (cmd/itss-bench)
bench: bench-go
	$(GO) run ./cmd/itss-bench $(BENCH_ARGS)

## bench-go: Go benchmarks only (hashing, login, playback, catalogue, upload, runner)
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

clean:
	rm -rf $(BIN)
