# libdevmapper-rs: build, install and checks.
#
#   make [all|build]   cargo build --release, stage build/lib and build/pkgconfig
#   make install       PREFIX, DESTDIR, LIBDIR, INCLUDEDIR, PKGCONFIGDIR
#   make SONAME=libdevmapper.so.1.02 ...   upstream's soname instead of Debian's
#   make header        refresh include/libdevmapper.h from src/ (cbindgen)
#   make check         lint test-unit test-harness check-core check-header check-exports test-c test-vm test-python
#   make help          this list with the other targets

CARGO ?= cargo
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=
INSTALL ?= install

# libdevmapper version this library stands in for (pkg-config Version).
DM_VERSION := 1.02.185
DEBIAN_SONAME := libdevmapper.so.1.02.1
UPSTREAM_SONAME := libdevmapper.so.1.02
SONAME ?= $(if $(DM_SONAME),$(DM_SONAME),$(DEBIAN_SONAME))

# build.rs reads DM_SONAME; leave it unset for the default so that a plain
# `cargo build` and `make` share one build (no rebuild when switching).
ifeq ($(SONAME),$(DEBIAN_SONAME))
unexport DM_SONAME
else
export DM_SONAME := $(SONAME)
endif

TARGET_DIR := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),target)
CARGO_LIB := $(TARGET_DIR)/release/libdevmapper_capi.so
STAGE := build
STAGED_LIB := $(STAGE)/lib/$(SONAME)
# With Debian's soname, also provide upstream's name as an alias.
ALIAS := $(if $(filter $(DEBIAN_SONAME),$(SONAME)),$(UPSTREAM_SONAME))

# Where the staged (uninstalled) library can be found by the test suites.
TEST_ENV := DMRS_LIBDIR="$(CURDIR)/$(STAGE)/lib" DMRS_LIB="$(CURDIR)/$(STAGED_LIB)" \
	DMRS_INCLUDEDIR="$(CURDIR)/include" \
	PKG_CONFIG_PATH="$(CURDIR)/$(STAGE)/pkgconfig$${PKG_CONFIG_PATH:+:$$PKG_CONFIG_PATH}" \
	LD_LIBRARY_PATH="$(CURDIR)/$(STAGE)/lib$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH}"

# devmapper.pc from the template: $(call make_pc,prefix,libdir,includedir,output)
make_pc = sed -e 's|@prefix@|$(1)|g' -e 's|@libdir@|$(2)|g' -e 's|@includedir@|$(3)|g' \
	-e 's|@VERSION@|$(DM_VERSION)|g' pkgconfig/devmapper.pc.in >$(4)

# Run an optional suite script, or say it is skipped: $(call run_suite,name,script)
run_suite = if [ -f $(2) ]; then $(TEST_ENV) bash $(2); else echo "$(1): skipped ($(2) not present)"; fi

.PHONY: all build install uninstall header check-header check-exports check-core lint test-unit test-harden \
	test-harness test-c test-vm test-vm-extra test-ulog test-python check demo bench bench-tools bench-ulog clean help \
	test-cluster-smoke test-ulog-cluster

all: build

build:
	$(CARGO) build --release
	@mkdir -p $(STAGE)/lib $(STAGE)/pkgconfig
	@rm -f $(STAGE)/lib/libdevmapper.so*
	cp $(CARGO_LIB) $(STAGED_LIB)
	ln -sf $(SONAME) $(STAGE)/lib/libdevmapper.so
	$(if $(ALIAS),ln -sf $(SONAME) $(STAGE)/lib/$(ALIAS))
	$(call make_pc,$(CURDIR),$(CURDIR)/$(STAGE)/lib,$(CURDIR)/include,$(STAGE)/pkgconfig/devmapper.pc)
	@echo "staged $(STAGED_LIB) (soname $(SONAME)) and $(STAGE)/pkgconfig/devmapper.pc"

# `make && sudo make install` must not rebuild as root: only build when
# nothing is staged yet.
$(STAGED_LIB):
	$(MAKE) build

install: $(STAGED_LIB)
	$(INSTALL) -d "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(PKGCONFIGDIR)"
	$(INSTALL) -m 0755 $(STAGED_LIB) "$(DESTDIR)$(LIBDIR)/$(SONAME)"
	ln -sfn $(SONAME) "$(DESTDIR)$(LIBDIR)/libdevmapper.so"
	$(if $(ALIAS),ln -sfn $(SONAME) "$(DESTDIR)$(LIBDIR)/$(ALIAS)")
	$(INSTALL) -m 0644 include/libdevmapper.h "$(DESTDIR)$(INCLUDEDIR)/libdevmapper.h"
	$(call make_pc,$(PREFIX),$(patsubst $(PREFIX)/%,$${exec_prefix}/%,$(LIBDIR)),$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR)),$(STAGE)/devmapper.pc.install)
	$(INSTALL) -m 0644 $(STAGE)/devmapper.pc.install "$(DESTDIR)$(PKGCONFIGDIR)/devmapper.pc"
	@rm -f $(STAGE)/devmapper.pc.install
	@echo "installed into $(DESTDIR)$(LIBDIR) (run ldconfig if installing to the live system)"

uninstall:
	rm -f "$(DESTDIR)$(LIBDIR)/$(SONAME)" "$(DESTDIR)$(LIBDIR)/libdevmapper.so" \
		$(if $(ALIAS),"$(DESTDIR)$(LIBDIR)/$(ALIAS)") \
		"$(DESTDIR)$(INCLUDEDIR)/libdevmapper.h" "$(DESTDIR)$(PKGCONFIGDIR)/devmapper.pc"

header:
	CARGO="$(CARGO)" bash tools/check-header.sh --update

check-header: build
	CARGO="$(CARGO)" bash tools/check-header.sh

check-exports: build
	SONAME=$(SONAME) bash tools/check-exports.sh $(STAGED_LIB)

# The core crate stands alone: packages, documents, no C symbols, unsafe fenced.
check-core:
	CARGO="$(CARGO)" bash tools/check-core.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-unit:
	$(CARGO) test --workspace

# The VM harness's own logic (kernel choice, mirror lookup, the per-step
# guard): no VM, no network.
test-harness:
	bash vm/tests/harness-kernel.sh
	bash vm/tests/harness-guard.sh

test-c: build
	@$(call run_suite,test-c,capi-tests/run.sh)

# Hardening (issue 9): faults under ASan+UBSan, allocation limits, key heap
# scan, ThreadSanitizer, bounded fuzzing (FUZZ_TIME seconds per target).
FUZZ_TIME ?= 5
test-harden: build
	@bash tools/harden.sh --fuzz-time $(FUZZ_TIME)

test-vm: build
	@$(call run_suite,test-vm,vm/tests.sh)

# Slow kernel suites kept out of `make check` for its time budget.
test-vm-extra: build
	@$(TEST_ENV) bash vm/tests.sh --extra

# dm-ulogd alone under real mirrors, in one VM boot (6.1 is in test-vm, sid
# in test-vm-extra): ULOG_KERNEL=sid for Debian sid's kernel,
# ULOG_SCENARIOS="kill crash" for some scenarios only; ULOGD_ARGS=--cluster
# runs them against the clustered mode on a one-node corosync.
test-ulog:
	$(CARGO) build --release -p dm-ulogd
	vm/setup.sh $(if $(ULOG_KERNEL),--kernel $(ULOG_KERNEL)) >/dev/null
	vm/run.sh $(if $(ULOG_KERNEL),--kernel $(ULOG_KERNEL)) --timeout 900 \
		--env ULOGD=$(abspath $(TARGET_DIR))/release/dm-ulogd $(if $(ULOGD_ARGS),--env 'ULOGD_ARGS=$(ULOGD_ARGS)') \
		-- vm/tests/ulog.sh $(ULOG_SCENARIOS)

test-python: build
	@$(call run_suite,test-python,python/run-tests.sh)

# Several VMs at once (vm/cluster.sh: shared disk, private network, corosync
# in each), outside make check. CLUSTER_KERNEL=sid for Debian sid's kernel.
test-cluster-smoke:
	bash vm/tests/cluster-smoke.sh $(if $(CLUSTER_KERNEL),--kernel $(CLUSTER_KERNEL))

# dm-ulogd --cluster on 2 and 3 VMs (issue 10, part 2); ULOG_CLUSTER_NODES,
# ULOG_CLUSTER_LOGS select cases (vm/tests/ulog-cluster.sh).
test-ulog-cluster:
	$(CARGO) build --release -p dm-ulogd
	ULOGD=$(if $(ULOGD),$(ULOGD),$(abspath $(TARGET_DIR))/release/dm-ulogd) \
		bash vm/tests/ulog-cluster.sh $(if $(CLUSTER_KERNEL),--kernel $(CLUSTER_KERNEL))

check: lint test-unit test-harness check-core check-header check-exports test-c test-harden test-vm test-python
	@echo "check: all passed"

demo: build
	@$(call run_suite,demo,vm/demo.sh)

# Side-by-side benchmark with stock libdevmapper in one VM boot (not part
# of `check`: timings are measurements, not tests).
bench: build
	bash bench/run.sh

# Issue 8's speed benchmark: Debian's dmsetup and dmstats and a dm_report
# program on stock and on ours, in one VM boot (bench/README.md, "Tools").
bench-tools: build
	bash bench/tools.sh

# Issue 10's speed benchmark: writes through a mirror with dm-ulogd's
# userspace log vs the kernel's own disk log, in one VM boot
# (bench/README.md, "dm-ulogd"; about 7 min in the VM).
bench-ulog:
	bash bench/ulog.sh

clean:
	$(CARGO) clean
	rm -rf $(STAGE)

help:
	@echo "targets:"
	@echo "  all, build      cargo build --release; stage $(STAGE)/lib/$(SONAME), symlinks, $(STAGE)/pkgconfig/devmapper.pc"
	@echo "  install         into DESTDIR/PREFIX (LIBDIR, INCLUDEDIR, PKGCONFIGDIR); uninstall"
	@echo "  header          regenerate include/libdevmapper.h (commit the result)"
	@echo "  check-header    committed header == generated one; stock source compatibility"
	@echo "  check-exports   exported symbols, versions, soname vs stock 1.02.185; ABI probe"
	@echo "  check-core      the devmapper crate alone: cargo package, docs, no dm_* symbols, unsafe fenced"
	@echo "  lint            cargo fmt --check, cargo clippy --workspace -D warnings"
	@echo "  test-unit       cargo test --workspace"
	@echo "  test-harness    vm/tests/harness-kernel.sh: the harness's kernel choice and mirror lookup"
	@echo "  test-c, test-vm, test-python   capi-tests/run.sh, vm/tests.sh, python/run-tests.sh"
	@echo "  test-vm-extra   slow kernel suites outside make check (on sid: dmsetup/dmstats transcripts with dmsetup.c rebuilt, cryptsetup sequences, dm-ulogd)"
	@echo "  test-ulog       vm/tests/ulog.sh: dm-ulogd under real mirrors (ULOG_KERNEL=sid, ULOG_SCENARIOS=..., ULOGD_ARGS=--cluster)"
	@echo "  test-cluster-smoke  vm/tests/cluster-smoke.sh: 3 VMs, corosync membership, shared disk, a node killed"
	@echo "  test-ulog-cluster   vm/tests/ulog-cluster.sh: dm-ulogd --cluster on 2 and 3 VMs (outside make check)"
	@echo "  test-harden     tools/harden.sh: fault injection, allocation limits, key heap scan, TSan, fuzzing (FUZZ_TIME s/target)"
	@echo "  check           all of the above checks and tests (what CI runs: .ci/run)"
	@echo "  demo            vm/demo.sh"
	@echo "  bench           bench/run.sh: ours, stock libdevmapper and the raw-ioctl floor in one VM boot (ratios, callgrind, RSS)"
	@echo "  bench-tools     bench/tools.sh: dmsetup info -c / ls --tree, dmstats report, dm_report over 100 000 rows: ours vs stock"
	@echo "  bench-ulog      bench/ulog.sh: 4 KiB writes through a mirror, dm-ulogd's userspace log vs the kernel's disk log (ratios, daemon CPU/request)"
	@echo "  clean           cargo clean, remove $(STAGE)/"
	@echo "variables: SONAME=$(SONAME) (or $(UPSTREAM_SONAME)), PREFIX=$(PREFIX), LIBDIR=$(LIBDIR), DESTDIR, CARGO"
