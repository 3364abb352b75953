# Faxbot in C — the two commands a newcomer needs:
#   make run    install what is missing, build, serve on 127.0.0.1:8080
#   make test   install what is missing, build, run every test (plain and ASan+UBSan)
# Meson + Ninja do the real work; this file only strings the steps together.

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
PYTHON     ?= /usr/bin/python3

FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all deps build asan tsan tsan-build fuzz run test test-unit test-api test-pg test-pg-s3 test-mcp test-interop test-asan bench soak-cluster clean

all: build

deps:
	@./tools/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(ASAN_BUILD)/build.ninja:
	CC=clang meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

$(TSAN_BUILD)/build.ninja:
	CC=clang meson setup $(TSAN_BUILD) --buildtype=debug -Db_sanitize=thread -Db_lundef=false

tsan-build: deps $(TSAN_BUILD)/build.ninja
	ninja -C $(TSAN_BUILD)

# ThreadSanitizer: the unit and black-box suites against build-tsan, no race reports allowed
tsan: tsan-build
	./tools/run-tsan.sh $(TSAN_BUILD)

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debug -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false

# every fuzz target for FUZZ_SECONDS each
fuzz: deps $(FUZZ_BUILD)/build.ninja
	meson setup --reconfigure $(FUZZ_BUILD) >/dev/null   # picks up fuzz targets added since
	ninja -C $(FUZZ_BUILD)
	./tools/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

run: build
	$(BUILD)/faxbot serve

test: build asan
	./tools/run-tests.sh $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

test-unit: build
	meson test -C $(BUILD) --suite unit --print-errorlogs

test-api: build
	FAXBOT_BIN=$(CURDIR)/$(BUILD)/faxbot $(PYTHON) -m pytest -q -n 4 tests/api

# the black-box suite once more, every server on PostgreSQL: a database each in one
# real PostgreSQL 15 that tests/peers/pg.py runs in a temp dir for the run
test-pg: build
	FAXBOT_TEST_DB=pg FAXBOT_BIN=$(CURDIR)/$(BUILD)/faxbot ./tests/peers/pg.py run -- \
		$(PYTHON) -m pytest -q -rs -n 4 -p no:cacheprovider tests/api

# the black-box suite on PostgreSQL + S3: every server on its own database and under
# its own prefix of a SigV4-verifying S3 stand-in (tests/peers/s3_peer.py)
test-pg-s3: build
	FAXBOT_TEST_DB=pg FAXBOT_TEST_STORAGE=s3 FAXBOT_BIN=$(CURDIR)/$(BUILD)/faxbot ./tests/peers/pg.py run -- \
		$(PYTHON) -m pytest -q -rs -n 4 -p no:cacheprovider tests/api

# three nodes on PostgreSQL + S3, 1,000 jobs, one node kill -9'd twice, fsck clean (~3 min; .ci/run runs it)
soak-cluster: build
	./bench/cluster_soak.sh $(BUILD)

# the Admin Console in Debian's chromium (npm ci on first use); screenshots in $(BUILD)/screenshots
.PHONY: test-browser
test-browser: build
	./tools/browser-tests.sh $(BUILD)

# the MCP server with the official TypeScript SDK as client (npm ci on first use)
test-mcp: build
	cd tests/mcp && { [ -f node_modules/.package-lock.json ] || npm ci --prefer-offline --no-audit --no-fund --loglevel=error; }
	node tests/mcp/run.mjs $(CURDIR)/$(BUILD)/faxbot

# real FreeSWITCH pairs (skipped, loudly, without ../shared/peers/freeswitch)
test-interop: build
	FAXBOT_BIN=$(CURDIR)/$(BUILD)/faxbot $(PYTHON) -m pytest -q -rs -n 4 tests/interop

bench: build
	./bench/run.sh $(BUILD)
	./bench/sse_streams.sh $(BUILD)

# simultaneous real-time faxes through the media engine (direct backend), vs loopback
.PHONY: bench-media
bench-media: build
	./bench/media.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)

# ---- packaging (issue 19): Debian package, container image, systemd unit, install ----
#   make install [DESTDIR=/tmp/x]   meson install of this build (binaries, faxbot(1), unit, env file)
#   make package                    dist/faxbot_*.deb (dpkg-buildpackage), and the image when podman is there
#   make test-package               the .deb in a clean Debian 12 root, the image, compose, upgrade (slow; root)
#   make check-packaging            the cheap checks `make test` runs (unit verify, man page, lintian)
.PHONY: install package package-deb package-image test-package check-packaging

install: build
	DESTDIR=$(DESTDIR) meson install -C $(BUILD)

package-deb:
	@dpkg-query -W -f='$${Status}' debhelper 2>/dev/null | grep -q 'ok installed' \
	    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debhelper
	./tools/build-deb.sh

package-image:
	@if command -v podman >/dev/null; then ./tools/build-image.sh; \
	 else echo "podman not installed: no image (apt-get install podman runc debootstrap)"; fi

package: package-deb package-image

test-package: package-deb build
	./tools/test-package.sh
	./tools/test-upgrade.sh $(BUILD)

check-packaging: build
	./tools/check-packaging.sh $(BUILD)
