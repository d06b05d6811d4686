# Helpers shared by the guest plans (sourced).
MODC=/lib/modules/c
MODRS=/lib/modules/rust
MODK=/lib/modules/kernel

# load_iommufd c|rust: insert the C or the Rust iommufd.ko (never both).
load_iommufd() {
	if grep -q '^iommufd ' /proc/modules; then
		echo "### ERROR iommufd already loaded"
		return 1
	fi
	case $1 in
	c) insmod $MODC/iommufd.ko ;;
	rust) insmod $MODRS/iommufd.ko ;;
	esac || { echo "### LOAD-FAILED module=$1"; return 1; }
	[ -c /dev/iommu ] || { echo "### ERROR /dev/iommu missing after loading $1"; return 1; }
	echo "### LOADED module=$1"
}

unload_iommufd() {
	rmmod iommufd && echo "### UNLOADED module=$1" || echo "### UNLOAD-FAILED module=$1"
}

# shmem_thp_begin / shmem_thp_end: shmem (MAP_SHARED anonymous) memory in 2 MiB folios, on
# compacted memory, then back to the boot setting.
SHMEM_THP=/sys/kernel/mm/transparent_hugepage/shmem_enabled
shmem_thp_begin() {
	[ -w $SHMEM_THP ] || { echo "# shmem THP: $SHMEM_THP missing"; return 0; }
	shmem_thp_was=$(sed 's/.*\[\(.*\)\].*/\1/' $SHMEM_THP)
	echo 1 >/proc/sys/vm/compact_memory
	echo always >$SHMEM_THP
	echo "# shmem THP: shmem_enabled always (was $shmem_thp_was)"
}

shmem_thp_end() {
	[ -n "$shmem_thp_was" ] || return 0
	echo "$shmem_thp_was" >$SHMEM_THP
	echo "# shmem THP: shmem_enabled back to $shmem_thp_was"
	shmem_thp_was=
}

# run_suite KIND NAME MODULE TIMEOUT PROGRAM...: one suite between markers.
run_suite() {
	kind=$1 name=$2 mod=$3 tmo=$4
	shift 4
	echo "### BEGIN $kind $name [$mod]"
	start=$(date +%s)
	timeout "$tmo" "$@"
	rc=$?
	echo "### END $kind $name [$mod] rc=$rc seconds=$(($(date +%s) - start))"
	dmesg_flush
}

# Move the kernel log to the results channel (so the ring buffer never wraps between reads).
dmesg_flush() {
	echo "### DMESG BEGIN"
	dmesg -c
	echo "### DMESG END"
}

# kmemleak: forget what the boot left (the first kmemleak_clear of a boot), and scan once at the
# end of the boot (kmemleak_final, from init) for what every module's run left. A scan of this
# debug kernel under TCG takes about 9 s, and a report needs two (an object must be seen
# unreferenced and unchanged twice, and be older than 5 s), so one report a boot instead of one
# a module saves half a minute a boot. The report's stack traces name the module (C functions
# iommufd_*, ours the iommufd_rs crate); report.py fails the run on any of it.
KMEMLEAK_PENDING=/tmp/.kmemleak-pending
kmemleak_clear() {
	[ -e /sys/kernel/debug/kmemleak ] || return 0
	[ -e $KMEMLEAK_PENDING ] && return 0
	# No automatic scans (the first comes 60 s into the boot, then every 10 minutes): only
	# ours, at known points.
	echo scan=off >/sys/kernel/debug/kmemleak
	echo scan >/sys/kernel/debug/kmemleak
	echo clear >/sys/kernel/debug/kmemleak
	: >$KMEMLEAK_PENDING
}

# Module $1's run is over: its leaks are reported by kmemleak_final.
kmemleak_report() {
	[ -e /sys/kernel/debug/kmemleak ] || return 0
	echo "$1" >>$KMEMLEAK_PENDING
}

kmemleak_final() {
	[ -s $KMEMLEAK_PENDING ] || return 0
	_km=$(tr '\n' '+' <$KMEMLEAK_PENDING)
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	echo scan >/sys/kernel/debug/kmemleak
	echo "### KMEMLEAK BEGIN [${_km%+}]"
	cat /sys/kernel/debug/kmemleak
	echo "### KMEMLEAK END [${_km%+}]"
}

# The kernel's own vfio stack on top of whichever iommufd.ko is loaded: vfio.ko, mdev.ko and
# the mtty sample, plus one mtty mdev (two ports) named $MTTY_UUID. (sh has no locals: the
# helpers' variables are _v*, so they do not clobber a plan's loop variables.)
export MTTY_UUID=83b8f4f2-509f-382f-3c1e-e6bfe0fa1001
# Modules already loaded (vfio.ko by the pci plan's vfio-pci stack) are left as they are.
load_vfio_mtty() {
	for _vm in vfio mdev mtty; do
		grep -q "^$_vm " /proc/modules && continue
		[ -f $MODK/$_vm.ko ] || { echo "### ERROR $_vm.ko not in the initramfs"; return 1; }
		insmod $MODK/$_vm.ko || { echo "### LOAD-FAILED module=$_vm"; return 1; }
	done
	_vt=$(ls -d /sys/class/mdev_bus/mtty/mdev_supported_types/mtty-* 2>/dev/null | tail -n 1)
	[ -n "$_vt" ] || { echo "### ERROR no mtty mdev types"; return 1; }
	echo "$MTTY_UUID" >"$_vt/create" || { echo "### ERROR creating an mdev of $_vt"; return 1; }
	echo "### LOADED module=vfio+mdev+mtty mdev=$MTTY_UUID type=$(cat "$_vt/name")"
}

# unload_vfio_mtty [keep-vfio]: keep-vfio leaves vfio.ko to the vfio-pci stack's unload.
unload_vfio_mtty() {
	_vrc=0
	if [ -e /sys/bus/mdev/devices/$MTTY_UUID ]; then
		echo 1 >/sys/bus/mdev/devices/$MTTY_UUID/remove || _vrc=1
	fi
	_vms="mtty mdev vfio"
	[ "$1" = keep-vfio ] && _vms="mtty mdev"
	for _vm in $_vms; do
		grep -q "^$_vm " /proc/modules || continue
		rmmod $_vm || _vrc=1
	done
	[ $_vrc = 0 ] && echo "### UNLOADED module=vfio+mdev+mtty" || echo "### UNLOAD-FAILED module=vfio+mdev+mtty"
}


# The kernel's vfio-pci stack on top of whichever iommufd.ko is loaded (the pci plans).
VFIO_PCI_MODS="irqbypass vfio vfio-pci-core vfio-pci"
load_vfio_pci() {
	for _vm in $VFIO_PCI_MODS; do
		[ -f $MODK/$_vm.ko ] || { echo "### ERROR $_vm.ko not in the initramfs"; return 1; }
		insmod $MODK/$_vm.ko || { echo "### LOAD-FAILED module=$_vm"; return 1; }
	done
	echo "### LOADED module=vfio+vfio-pci"
}
unload_vfio_pci() {
	_vrc=0
	for _vm in vfio_pci vfio_pci_core vfio irqbypass; do
		grep -q "^$_vm " /proc/modules || continue
		rmmod $_vm || _vrc=1
	done
	[ $_vrc = 0 ] && echo "### UNLOADED module=vfio+vfio-pci" || echo "### UNLOAD-FAILED module=vfio+vfio-pci"
}

# The IOMMU and where QEMU's edu device (1234:11e8) sits, for the plans that have both.
show_iommu_and_edu() {
	echo "--- the IOMMU and the edu device"
	ls /sys/class/iommu/
	for _d in /sys/bus/pci/devices/*; do
		[ "$(cat $_d/vendor):$(cat $_d/device)" = 0x1234:0x11e8 ] || continue
		echo "edu at ${_d##*/}, iommu_group $(basename "$(readlink $_d/iommu_group)")"
	done
}

# On the loaded module $1: the upstream selftests (iommufd_fail_nth with shmem THP, see
# plan-test.sh) and our suites that need no real device (vfio_mtty, vfio_edu and
# qemu_consumer are run by the plans that set those up).
run_mock_suites() {
	run_suite upstream iommufd $1 1500 /tests/iommufd
	shmem_thp_begin
	run_suite upstream iommufd_fail_nth $1 1500 /etc/iommufd-rs/fail-nth-retry.sh /tests/iommufd_fail_nth
	shmem_thp_end
	for _t in /tests/rs_*; do
		[ -x "$_t" ] || continue
		case ${_t#/tests/rs_} in
		vfio_mtty | vfio_edu | qemu_consumer | stress | fuzz) continue ;; # fuzz: run_fuzz_suites, with its arguments; stress: plan pci
		esac
		run_suite ours "${_t#/tests/rs_}" $1 600 "$_t"
	done
}

# vfio_edu on the loaded module $1, with edu bound to the kernel's vfio-pci; $2 names the IOMMU
# (and its mode) for the PASS line. vfio-pci is unloaded after.
run_vfio_edu() {
	if load_vfio_pci; then
		run_suite ours vfio_edu $1 300 /tests/rs_vfio_edu
		[ "$rc" = 0 ] && echo "PASS: edu DMA through vfio-pci and $2 on the $1 iommufd.ko" ||
			echo "FAIL: vfio_edu [$1] exited $rc"
	else
		run_suite ours vfio_edu $1 300 false
		echo "FAIL: the vfio-pci stack did not load on the $1 iommufd.ko"
	fi
	unload_vfio_pci
}

# vfio_mtty on the loaded module $1: the kernel's vfio stack and an mtty mdev on top of it
# (without them the suite counts as failed: no cases, exit 1), unloaded after.
run_vfio_mtty() {
	if load_vfio_mtty; then
		run_suite ours vfio_mtty $1 600 /tests/rs_vfio_mtty
	else
		run_suite ours vfio_mtty $1 600 false
	fi
	unload_vfio_mtty
}

# The fuzzer (rs_fuzz, its fixed seed set) and the differential test on module $1: the
# differential test records its stream on the C module (run first) and compares ours with it.
# More arguments (e.g. --ops N) go to both.
FUZZ_DIFF=/tmp/rs-fuzz-diff
run_fuzz_suites() {
	_fm=$1
	shift
	run_suite ours fuzz $_fm 600 /tests/rs_fuzz --module $_fm "$@"
	if [ $_fm = c ]; then
		run_suite ours diff $_fm 600 /tests/rs_fuzz --module $_fm --diff-record $FUZZ_DIFF "$@"
	else
		run_suite ours diff $_fm 600 /tests/rs_fuzz --module $_fm --diff-compare $FUZZ_DIFF "$@"
	fi
}
