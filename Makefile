# The two commands: `make run` and `make test`. Both install what is missing first.
CARGO ?= cargo
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= var

.PHONY: run test prepare build release lint fmt clean-data web miniprogram deb bundle

prepare:
	@scripts/prepare.sh

## The dashboard (web/, Vue + MapLibre + ECharts) built into web/dist, which the server embeds.
## Rebuilt only when its sources change; `npm ci` only when the lockfile changes.
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	npm --prefix web ci --no-audit --no-fund
web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	npm --prefix web run build
web: prepare web/dist/index.html

## The WeChat mini-program (web/miniprogram: TypeScript on the shared field core web/field-core,
## built to web/miniprogram/dist, the folder WeChat's tools upload). `npm ci` only when its
## lockfile changes. Uploading is `npm --prefix web/miniprogram run mp:upload` (docs/MINIPROGRAM.md).
web/miniprogram/node_modules/.package-lock.json: web/miniprogram/package.json web/miniprogram/package-lock.json
	npm --prefix web/miniprogram ci --no-audit --no-fund
miniprogram: prepare web/node_modules/.package-lock.json web/miniprogram/node_modules/.package-lock.json
	npm --prefix web/miniprogram run build

release: prepare web
	$(CARGO) build --release --locked -p echinomap-server

## Starts echinomap with the Qapqal demo data at http://$(LISTEN)/ (data under ./$(DATA_DIR)).
run: release
	./target/release/echinomap serve --demo --listen $(LISTEN) --data-dir $(DATA_DIR) --database-sizing small

## The whole suite: unit tests, integration tests on a throwaway PostGIS, end-to-end tests.
test: prepare
	@scripts/prepare.sh --test
	$(MAKE) web
	# The client's pure modules (web/src/stock: barcode parser on the shared fixture, wedge classifier).
	node web/unit/run.mjs
	# The field core shared by /field and the mini-program (web/field-core): types, then Node's test runner.
	web/node_modules/.bin/tsc -p web/field-core
	node --test web/field-core/test/
	# The mini-program: built (tsc strict, WeChat's 2 MB main package), its pages rendered in
	# Chinese and English with miniprogram-simulate (jest + jsdom).
	$(MAKE) miniprogram
	npm --prefix web/miniprogram test
	$(CARGO) build --locked --workspace --bins
	rm -rf target/test-logs
	$(CARGO) test --locked --workspace
	# The Debian package of the debug binary: install, run as the unit does, backup, upgrade, nginx, purge.
	tests/package/run.sh
	# The dashboard in headless Chromium against the real binary (web/e2e/run.mjs).
	node web/e2e/run.mjs
	# The field page offline: geolocation, service worker, queued entries, no duplicates (web/e2e/field.mjs).
	node web/e2e/field.mjs
	# The mini-program's pages in Node with a wx shim against the real binary and a stand-in for
	# WeChat's code2Session on 127.0.0.1: bind, sign in, locate, record offline, sync once; then
	# WeChat's storage limits with the largest township's lists and a full outbox, and the 2 MB package.
	node web/miniprogram/test/e2e.mjs
	# The desk's pages, one script per area (web/e2e/desk-*.mjs): forms, patient record, work lists, admin.
	set -e; for f in $(sort $(wildcard web/e2e/desk-*.mjs)); do echo "== $$f"; node $$f; done
	# Last, over the logs the whole run wrote: no ID or phone number in any of them.
	$(CARGO) test --locked -p echinomap-tests --test no_pii_in_logs -- --ignored

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## The Debian package target/debian/echinomap_<version>_amd64.deb (packaging/deb/build.sh): the
## release binary by default; `make deb PROFILE=debug` packages the one `cargo build` made.
PROFILE ?= release
COMPRESS ?= xz
deb: $(if $(filter release,$(PROFILE)),release,)
	@PROFILE=$(PROFILE) COMPRESS=$(COMPRESS) packaging/deb/build.sh

## The offline installer target/debian/echinomap-bundle_<version>_amd64.tar.gz: the package, every
## Debian package it needs that a minimal Debian 12 lacks, and install.sh (packaging/bundle.sh).
bundle: deb
	@PROFILE=$(PROFILE) packaging/bundle.sh

## Removes the embedded database and local state (asks nothing: the demo reloads itself).
clean-data:
	rm -rf $(DATA_DIR)
