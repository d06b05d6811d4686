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

BENCH_TIMEOUT ?= 1800

.PHONY: all setup kernel module host-test selftests initramfs run test bench clean

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

test: setup
	@$(MAKE) --no-print-directory host-test
	@if $(MAKE) --no-print-directory initramfs; then \
		scripts/guest.sh test $(TEST_TIMEOUT) || true; \
		scripts/guest.sh pci $(PCI_TIMEOUT) || true; \
		scripts/guest.sh pci-sm $(VTD_TIMEOUT) || true; \
		scripts/guest.sh pci-sm-pasid $(VTD_TIMEOUT) || true; \
		scripts/report.py --out $(OUT) --top $(CURDIR); \
	else \
		echo "build failed: no guest run" >&2; \
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

clean:
	rm -rf $(OUT) target
	find drivers -name '*.o' -o -name '*.ko' -o -name '*.mod*' -o -name '.*.cmd' | xargs rm -f
