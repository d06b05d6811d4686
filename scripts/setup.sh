#!/usr/bin/env bash
# Install what the build and the guest need, from the package registries only.
# Idempotent and quiet when everything is already there.
source "$(dirname "$0")/common.sh"

PKGS=(rustc-web cargo-web rust-web-src rust-web-clippy rustfmt-web clang-19 lld-19 llvm-19 libclang-19-dev
	flex bison bc libelf-dev libssl-dev cpio dwarves make gcc libc6-dev libcap-dev
	busybox-static qemu-system-x86 kmod xz-utils zstd python3 python3-matplotlib rsync git
	linux-source-6.12 qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
# make profile only (IOMMUFD_RS_SETUP_PROFILE=1): perf, copied into the bench guest.
[ "${IOMMUFD_RS_SETUP_PROFILE:-0}" = 1 ] && PKGS+=(linux-perf)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	[ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
	step "apt: installing ${missing[*]}"
	mkdir -p "$CACHE"
	run_logged "$CACHE/apt-update.log" apt-get update
	run_logged "$CACHE/apt-install.log" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}"
fi
# arm64 (the guest under an emulated SMMUv3): a static arm64 busybox, fetched with apt-get
# download (never installed), which needs the foreign architecture in apt's lists.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	[ "$(id -u)" = 0 ] || die "need root to add the arm64 architecture to dpkg"
	step "dpkg: adding the arm64 architecture (for busybox-static:arm64 in the arm64 guest)"
	dpkg --add-architecture arm64
	mkdir -p "$CACHE"
	run_logged "$CACHE/apt-update.log" apt-get update
fi
if [ ! -x "$ARM64_BUSYBOX" ]; then
	step "apt: fetching busybox-static:arm64 (unpacked into $CACHE/arm64, not installed)"
	rm -rf "$CACHE/arm64/busybox"
	mkdir -p "$CACHE/arm64/busybox/debs"
	# (A second try after refreshing the lists: they may predate the arm64 architecture.)
	for try in 1 2; do
		(cd "$CACHE/arm64/busybox/debs" && apt-get download busybox-static:arm64) \
			>"$CACHE/arm64/busybox/download.log" 2>&1 && break
		[ $try = 2 ] &&
			die "apt-get download busybox-static:arm64 failed (log: $CACHE/arm64/busybox/download.log)"
		run_logged "$CACHE/apt-update.log" apt-get update
	done
	dpkg-deb -x "$CACHE"/arm64/busybox/debs/busybox-static_*_arm64.deb "$CACHE/arm64/busybox/root"
	# ELF e_machine 0xb7: AArch64.
	[ "$(od -An -tx1 -j18 -N2 "$ARM64_BUSYBOX" | tr -d ' ')" = b700 ] ||
		die "$ARM64_BUSYBOX is not an arm64 binary"
fi
command -v qemu-system-aarch64 >/dev/null || die "qemu-system-aarch64 missing (qemu-system-arm)"
command -v aarch64-linux-gnu-gcc >/dev/null || die "aarch64-linux-gnu-gcc missing"

[ -f "$KSRC_TARBALL" ] || die "$KSRC_TARBALL missing after installing linux-source-6.12"
[ -d "$RUST_LIB_SRC" ] || die "$RUST_LIB_SRC missing (rust-web-src)"
/usr/bin/rustc --version | grep -q '^rustc 1\.96' || die "want rustc 1.96 at /usr/bin/rustc (rustc-web)"

if [ ! -x "$BINDGEN" ]; then
	step "cargo: installing bindgen-cli $BINDGEN_VERSION (about 70 s)"
	mkdir -p "$TOOLS"
	run_logged "$TOOLS/bindgen-install.log" /usr/bin/cargo install --locked bindgen-cli \
		--version "$BINDGEN_VERSION" --root "$TOOLS/bindgen-$BINDGEN_VERSION"
fi
"$BINDGEN" --version | grep -q "$BINDGEN_VERSION" || die "bindgen is not $BINDGEN_VERSION"

# QEMU 10 for the pci guest: its iommufd backend (-object iommufd, vfio-pci iommufd=) is a real
# consumer of /dev/iommu to run inside that guest. Fetched and unpacked into the cache, never
# installed: the host keeps the distribution's QEMU, because QEMU 10 as the host QEMU hit
# early-boot KASAN splats in our guest kernel (7 of 27 boots). On Debian 12 it comes from
# bookworm-backports, on 13 from the normal archive. Only the packages whose installed version
# does not satisfy a dependency are fetched, no recommends, and not the two the guest never
# uses: qemu-system-common (optional modules and helper programs; none is loaded with
# -display none) and ipxe-qemu (NIC option ROMs; -nodefaults has no NIC).
Q10_SKIP=" qemu-system-common ipxe-qemu "

# q10_ok VERSION OP WANT: VERSION satisfies the relation (no OP: any version does).
q10_ok() { [ -z "$2" ] || dpkg --compare-versions "$1" "$2" "$3"; }

# q10_pick NAME OP WANT: the version to fetch, apt's candidate if it fits, else the newest
# one any configured suite offers that fits.
q10_pick() {
	local v
	for v in $(apt-cache policy "$1" | awk '/Candidate:/ { print $2 }') \
		$(apt-cache madison "$1" 2>/dev/null | awk -F'|' '{ gsub(/ /, "", $2); print $2 }'); do
		[ "$v" != "(none)" ] && q10_ok "$v" "$2" "$3" && { echo "$v"; return; }
	done
}

# q10_version: the QEMU to fetch (empty if the package lists do not offer one).
q10_version() {
	local v
	if [ "$Q10_SUITE" ]; then
		v=$(apt-cache madison qemu-system-x86 | awk -F'|' -v s=" $Q10_SUITE/" \
			'index($3, s) { gsub(/ /, "", $2); print $2; exit }')
	else
		v=$(apt-cache policy qemu-system-x86 | awk '/Candidate:/ { print $2 }')
	fi
	[ -n "$v" ] && [ "$v" != "(none)" ] && dpkg --compare-versions "$v" ge 1:10.0~ && echo "$v"
	return 0
}

if [ ! -f "$QEMU10/current/stamp" ]; then
	[ "$(id -u)" = 0 ] || die "need root to fetch QEMU 10 for the guest"
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	case $codename in
	bookworm) Q10_SUITE=bookworm-backports ;;
	trixie) Q10_SUITE= ;;
	*) die "QEMU 10 for the guest: no recipe for Debian '$codename' (12 or 13)" ;;
	esac
	mkdir -p "$QEMU10"
	updated=
	# bookworm-backports as an extra source, with the mirror of the main suite. At its default
	# priority (below the main suites, never pinned higher) nothing installed moves to it: it is
	# only read here, by version.
	if [ "$Q10_SUITE" ] && ! apt-get indextargets --no-release-info --format "\$(RELEASE)" |
		grep -x "$Q10_SUITE" >/dev/null; then
		mirror=$(apt-get indextargets --no-release-info --format "\$(RELEASE) \$(REPO_URI)" |
			awk -v s="$codename" '$1 == s { print $2; exit }')
		[ -n "$mirror" ] || die "no apt source for $codename to take the mirror from"
		step "apt: adding $Q10_SUITE (for QEMU 10 in the guest, nothing is installed from it)"
		cat >"/etc/apt/sources.list.d/$Q10_SUITE.sources" <<-SRC
			Types: deb
			URIs: ${mirror%/}
			Suites: $Q10_SUITE
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		SRC
		run_logged "$CACHE/apt-update.log" apt-get update
		updated=1
	fi
	q10v=$(q10_version)
	if [ -z "$q10v" ] && [ -z "$updated" ]; then
		step "apt: updating the package lists (they offer no QEMU 10 yet)"
		run_logged "$CACHE/apt-update.log" apt-get update
		q10v=$(q10_version)
	fi
	[ -n "$q10v" ] || die "apt offers no qemu-system-x86 >= 10.0${Q10_SUITE:+ in $Q10_SUITE}"
	# The folder is named without the epoch: a ':' would split LD_LIBRARY_PATH.
	q10dir=$QEMU10/${q10v#*:}
	if [ ! -f "$q10dir/stamp" ]; then
		step "QEMU $q10v for the pci guest: fetching and unpacking (not installing)"
		rm -rf "$q10dir"
		mkdir -p "$q10dir/debs"
		# Breadth-first over the dependencies of what is fetched, starting with QEMU itself.
		q10_fetch() {
			(cd "$q10dir/debs" && apt-get download "$1=$2") >>"$q10dir/download.log" 2>&1 ||
				die "apt-get download $1=$2 failed (log: $q10dir/download.log)"
			fetched+=("$1=$2")
			local deb
			deb=$(ls "$q10dir/debs/$1"_*.deb)
			mapfile -t -O "${#queue[@]}" queue < <(dpkg-deb -f "$deb" Pre-Depends Depends |
				sed -e 's/^[A-Za-z-]*: //' | tr ',' '\n' | sed -e 's/^ *//' -e '/^$/d')
		}
		fetched=() queue=()
		q10_fetch qemu-system-x86 "$q10v"
		for ((i = 0; i < ${#queue[@]}; i++)); do
			first='' ok=''
			IFS='|' read -ra alts <<<"${queue[i]}"
			for alt in "${alts[@]}"; do
				read -r name rel <<<"$alt"
				name=${name%%:*} rel=${rel#(} rel=${rel%)}
				op=${rel%% *} want=${rel#* }
				[ "$rel" ] || op='' want=''
				[ "$first" ] || first="$name|$op|$want"
				case $Q10_SKIP in *" $name "*) ok=1 && break ;; esac
				have=$(dpkg-query -W -f='${db:Status-Abbrev}${Version}\n' "$name" 2>/dev/null |
					head -n 1) || true
				[[ $have == ii* ]] && q10_ok "${have:3}" "$op" "$want" && ok=1 && break
				for f in "${fetched[@]}"; do
					[ "${f%%=*}" = "$name" ] && q10_ok "${f#*=}" "$op" "$want" && ok=1 && break 2
				done
			done
			[ "$ok" ] && continue
			IFS='|' read -r name op want <<<"$first"
			v=$(q10_pick "$name" "$op" "$want")
			[ -n "$v" ] || die "QEMU 10 needs $name ${op:+$op $want} and apt offers none"
			q10_fetch "$name" "$v"
		done
		for deb in "$q10dir"/debs/*.deb; do dpkg-deb -x "$deb" "$q10dir/root"; done
		# The unpacked QEMU must start from the cache with the host's libraries below ours.
		L=$q10dir/root/usr/lib/x86_64-linux-gnu:$q10dir/root/lib/x86_64-linux-gnu
		qbin=$q10dir/root/usr/bin/qemu-system-x86_64
		nf=$(LD_LIBRARY_PATH=$L ldd "$qbin" | awk '/not found/ { print $1 }' | xargs)
		[ -z "$nf" ] || die "QEMU 10 cannot find: $nf"
		# (Each output is read whole: grep -q on a pipe could SIGPIPE QEMU under pipefail.)
		out=$(LD_LIBRARY_PATH=$L "$qbin" --version)
		grep -q '^QEMU emulator version 10\.' <<<"$out" || die "$qbin is not QEMU 10: $out"
		out=$(LD_LIBRARY_PATH=$L "$qbin" -object help)
		grep -qx ' *iommufd' <<<"$out" || die "QEMU $q10v has no iommufd object"
		out=$(LD_LIBRARY_PATH=$L "$qbin" -device vfio-pci,help)
		grep -q 'iommufd=<link<iommufd>>' <<<"$out" ||
			die "QEMU $q10v: vfio-pci has no iommufd property"
		# The stamp: what was fetched, one "package=version bytes" a line.
		for deb in "$q10dir"/debs/*.deb; do
			echo "$(dpkg-deb -f "$deb" Package)=$(dpkg-deb -f "$deb" Version) $(stat -c %s "$deb")"
		done >"$q10dir/stamp.tmp"
		mv "$q10dir/stamp.tmp" "$q10dir/stamp"
		info "fetched ${fetched[*]}: $(awk '{ s += $2 } END { printf "%.1f MB", s / 1e6 }' \
			"$q10dir/stamp"), unpacked in $q10dir/root"
	fi
	ln -sfn "${q10v#*:}" "$QEMU10/current"
fi
