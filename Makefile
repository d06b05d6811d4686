# SPDX-License-Identifier: GPL-2.0
# iommufd-rs. The two commands a new user runs (README.md):
#   make run    install what is missing, build kernel and module, boot QEMU, show it working
#   make test   every test; ends with "N passed, N failed"
# (Kbuild, not this file, is what the kernel's M= build reads.)

SHELL := /bin/bash
OUT ?= $(CURDIR)/out
export IOMMUFD_RS_OUT := $(OUT)
# Hard limits for one guest boot (seconds): a hung guest fails fast.
TEST_TIMEOUT ?= 2400
RUN_TIMEOUT ?= 600
# The second boot (plan pci): QEMU's edu device behind an emulated Intel VT-d IOMMU.
PCI_TIMEOUT ?= 1500
# The Intel IOMMU's other two modes (plans pci-sm, pci-sm-pasid): vfio_edu only.
VTD_TIMEOUT ?= 400

# The arm64 boot (plan arm64): virt with an emulated SMMUv3 and edu, both modules (TCG).
ARM64_TIMEOUT ?= 900

BENCH_TIMEOUT ?= 1800

# The arm64 steps: the same scripts, with IOMMUFD_RS_ARCH=arm64 (README.md, "arm64").
ARM64 := IOMMUFD_RS_ARCH=arm64

.PHONY: all setup kernel module host-test selftests initramfs run test bench profile fuzz clean
.PHONY: kernel-arm64 module-arm64 selftests-arm64 initramfs-arm64 test-arm64

all: module

setup:
	@scripts/setup.sh

kernel: setup
	@scripts/kernel.sh

module: kernel
	@scripts/module.sh

host-test:
	@mkdir -p $(OUT)
	@echo "==> host tests: cargo test (pure core)" >&2
	@set -o pipefail; /usr/bin/cargo test --manifest-path Cargo.toml 2>&1 \
		| tee $(OUT)/host-tests.log | grep -E '^test |test result' || true

selftests: kernel
	@scripts/selftests.sh

initramfs: module selftests
	@scripts/initramfs.sh

kernel-arm64: setup
	@$(ARM64) scripts/kernel.sh

module-arm64: kernel-arm64
	@$(ARM64) scripts/module.sh

selftests-arm64: kernel-arm64
	@$(ARM64) scripts/selftests.sh

initramfs-arm64: module-arm64 selftests-arm64
	@$(ARM64) scripts/initramfs.sh

# Only the arm64 build and boot, counted on their own (make test does this too, after x86).
test-arm64: setup
	@rm -rf $(OUT)/arm64
	@if $(MAKE) --no-print-directory initramfs-arm64; then \
		$(ARM64) scripts/guest.sh arm64 $(ARM64_TIMEOUT) || true; \
		scripts/report.py --out $(OUT) --top $(CURDIR) --arm64-only; \
	else \
		scripts/report.py --out $(OUT) --top $(CURDIR) --arm64-only --arm64-build-failed; false; \
	fi

# Two boots: plan run (no IOMMU: mock devices, mtty), then plan pci (edu, Intel IOMMU, vfio-pci).
run: initramfs
	@rc=0; for p in run pci; do \
	if [ $$p = pci ]; then t=$(PCI_TIMEOUT); else t=$(RUN_TIMEOUT); fi; \
	scripts/guest.sh $$p $$t || rc=1; \
	echo; echo "---- guest '$$p': markers, failed cases, PASS/FAIL (everything: $(OUT)/$$p/results.log)"; \
	awk '/^### DMESG BEGIN/ { f = 1; next } /^### DMESG END/ { f = 0; next } \
		!f && /^(###|---|PASS:|FAIL:|not ok )/' $(OUT)/$$p/results.log; \
	echo "---- kernel log: $(OUT)/$$p/dmesg.log, console: $(OUT)/$$p/console.log"; \
	scripts/report.py --out $(OUT) --top $(CURDIR) --scan-only $$p || rc=1; \
	if grep -q '^FAIL:' $(OUT)/$$p/results.log; then echo "$$p: FAIL lines above" >&2; rc=1; fi; \
	done; scripts/run_summary.py $(OUT) || rc=1; exit $$rc

# The x86 build, then four x86 boots; meanwhile, in the background, the host tests and the arm64
# build (neither needs a guest, and the guests' test programs mostly keep one CPU busy of two);
# then the arm64 boot; one report of everything.
test: setup
	@rm -rf $(OUT)/arm64 $(OUT)/background.log $(OUT)/arm64-build-failed
	@if $(MAKE) --no-print-directory initramfs; then \
		echo "==> in the background during the x86 boots: host tests, then the arm64 build (log: $(OUT)/background.log)" >&2; \
		( $(MAKE) --no-print-directory host-test; \
		  $(MAKE) --no-print-directory initramfs-arm64 || touch $(OUT)/arm64-build-failed ) \
			>$(OUT)/background.log 2>&1 & bg=$$!; \
		scripts/guest.sh test $(TEST_TIMEOUT) || true; \
		scripts/guest.sh pci $(PCI_TIMEOUT) || true; \
		scripts/guest.sh pci-sm $(VTD_TIMEOUT) || true; \
		scripts/guest.sh pci-sm-pasid $(VTD_TIMEOUT) || true; \
		echo "==> the background host tests and arm64 build" >&2; wait $$bg; \
		grep -E '(==>|test result|^error)' $(OUT)/background.log >&2 || true; \
		a64=; [ ! -e $(OUT)/arm64-build-failed ] || a64=--arm64-build-failed; \
		[ -n "$$a64" ] || $(ARM64) scripts/guest.sh arm64 $(ARM64_TIMEOUT) || true; \
		scripts/report.py --out $(OUT) --top $(CURDIR) $$a64; \
	else \
		echo "build failed: no guest run" >&2; \
		$(MAKE) --no-print-directory host-test; \
		scripts/report.py --out $(OUT) --top $(CURDIR) --no-guest --build-failed; false; \
	fi

# A report, not a test: the production kernel (configs/iommufd-rs-prod.config), C module and
# ours in alternating rounds in one boot; the table, out/bench/results.csv and PNG plots.
# BENCH_ROUNDS per module (>= 5 for a report), BENCH_QUICK=1 small sizes (development),
# BENCH_TIMEOUT the hard limit of the boot.
BENCH_ROUNDS ?= 5
BENCH_QUICK ?= 0
bench: setup
	@BENCH_ROUNDS=$(BENCH_ROUNDS) BENCH_QUICK=$(BENCH_QUICK) BENCH_TIMEOUT=$(BENCH_TIMEOUT) \
		GUEST_MEM=4096 scripts/bench.sh

# Where the time goes: the benchmark's GROUPS (iommufd_bench -f: small, domain, copy, attach,
# dirty, access, vfio, curve, floor) under perf, on the production kernel, once per module;
# flat profiles in out/profile/{c,rust}.txt. A development aid, like bench.
GROUPS ?= small
profile:
	@IOMMUFD_RS_SETUP_PROFILE=1 scripts/setup.sh
	@BENCH_PROFILE=$(GROUPS) BENCH_QUICK=$(BENCH_QUICK) BENCH_TIMEOUT=$(BENCH_TIMEOUT) \
		GUEST_MEM=4096 scripts/bench.sh

# The fuzzer alone, for as long as you like: SECONDS of rs_fuzz with SEED on each module of
# MODULES (comma-separated), one boot. The hard limit leaves room for the boot and for the
# search of the shortest failing prefix (at most as long again as the run). Prints the seed.
FUZZ_SECONDS ?= 600
SECONDS ?= $(FUZZ_SECONDS)
ifeq ($(origin SEED),undefined)
SEED := $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
endif
MODULES ?= c,rust
fuzz: initramfs
	@echo "==> fuzz: seed $(SEED), $(SECONDS) s a module, modules $(MODULES)" >&2
	@n=$$(echo "$(MODULES)" | tr , ' ' | wc -w); \
	GUEST_APPEND="fuzz_seed=$(SEED) fuzz_seconds=$(SECONDS) fuzz_modules=$(MODULES)" \
		scripts/guest.sh fuzz $$((n * (2 * $(SECONDS) + 300) + 300)); rc=$$?; \
	grep -E '^(# (seed|FAIL|kernel log|child)|(not )?ok )' $(OUT)/fuzz/results.log; \
	scripts/report.py --out $(OUT) --top $(CURDIR) --scan-only fuzz || rc=1; \
	if grep -q '^not ok' $(OUT)/fuzz/results.log; then rc=1; fi; exit $$rc

clean:
	rm -rf $(OUT) target
	find drivers -name '*.o' -o -name '*.ko' -o -name '*.mod*' -o -name '.*.cmd' | xargs rm -f
