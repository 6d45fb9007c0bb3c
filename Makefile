# The two commands: `make run` and `make test`. Both install what is missing first.
CARGO ?= cargo
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= var

.PHONY: run test prepare build release lint fmt clean-data

prepare:
	@scripts/prepare.sh

release: prepare
	$(CARGO) build --release --locked -p echinomap-server

## Starts echinomap with the Qapqal demo data at http://$(LISTEN)/ (data under ./$(DATA_DIR)).
run: release
	./target/release/echinomap serve --demo --listen $(LISTEN) --data-dir $(DATA_DIR)

## The whole suite: unit tests, integration tests on a throwaway PostGIS, end-to-end tests.
test: prepare
	$(CARGO) build --locked --workspace --bins
	rm -rf target/test-logs
	$(CARGO) test --locked --workspace
	# Last, over the logs the whole run wrote: no ID or phone number in any of them.
	$(CARGO) test --locked -p echinomap-tests --test no_pii_in_logs -- --ignored

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Removes the embedded database and local state (asks nothing: the demo reloads itself).
clean-data:
	rm -rf $(DATA_DIR)
