#!/usr/bin/env bash
# Prepare the pinned kernel tree and build it into the cache:
#   1. unpack Debian's linux-source-6.12 once, check its version, commit it to a git repo
#      (pristine baseline, so the overlay can be re-applied exactly);
#   2. overlay our rust/ additions (copy only files whose content changed, so make rebuilds
#      only what changed);
#   3. configure: tinyconfig + kvm_guest.config + the variant's fragment (configs/iommufd-rs.config,
#      or with IOMMUFD_RS_KVARIANT=prod configs/iommufd-rs-prod.config), olddefconfig,
#      then check that every option the fragment asks for survived;
#   4. build bzImage, modules and the uAPI headers.
# A stamp records the overlay hash: nothing to do when nothing changed.
# With IOMMUFD_RS_ARCH=arm64: the same tree and overlay, cross-built (LLVM, ARCH=arm64) from
# tinyconfig + configs/iommufd-rs-arm64.config into build-arm64-<hash>: Image, modules, headers.
source "$(dirname "$0")/common.sh"

# $FRAG, $KBUILD: the variant's fragment and build folder (common.sh).

unpack() {
	[ -f "$KTREE/.unpacked" ] && return
	step "unpacking $KSRC_TARBALL into $KTREE (about 1 min)"
	rm -rf "$KTREE/src" "$KTREE/tmp"
	mkdir -p "$KTREE/tmp"
	run_logged "$KTREE/unpack.log" tar -C "$KTREE/tmp" -xf "$KSRC_TARBALL"
	mv "$KTREE/tmp"/linux-source-6.12 "$KSRC"
	rmdir "$KTREE/tmp"
	local v
	v=$(make -s -C "$KSRC" kernelversion)
	[ "$v" = "$KVER_PIN" ] || die "linux-source-6.12 is $v, but iommufd-rs is pinned to $KVER_PIN.
  Update KVER_PIN in scripts/common.sh (and re-measure the baselines in Documentation/baseline.md)."
	info "kernel version $v (pinned $KVER_PIN): ok"
	step "recording the pristine tree in git (overlay baseline)"
	run_logged "$KTREE/git.log" bash -c "cd '$KSRC' && git init -q && git add -f -A . \
		&& git -c user.name=iommufd-rs -c user.email=iommufd-rs@localhost commit -qm pristine"
	touch "$KTREE/.unpacked"
}

overlay_hash() {
	(cd "$TOP" && find rust -type f ! -name README.md -print0 | sort -z | xargs -0 sha256sum) \
		| sha256sum | cut -c1-12
}

apply_overlay() {
	step "overlaying rust/ onto the kernel tree"
	local f rel
	# Undo earlier overlay files that are no longer ours (modified or added), exactly.
	while IFS= read -r rel; do
		[ -f "$TOP/$rel" ] && continue
		if git -C "$KSRC" cat-file -e "HEAD:$rel" 2>/dev/null; then
			git -C "$KSRC" checkout -q -- "$rel"
		else
			rm -f "$KSRC/$rel"
		fi
		info "reverted $rel"
	done < <(git -C "$KSRC" ls-files --modified --deleted --others -- rust | sort -u)
	# Copy ours, touching only files whose content differs.
	while IFS= read -r -d '' f; do
		rel=${f#"$TOP"/}
		if ! cmp -s "$f" "$KSRC/$rel"; then
			mkdir -p "$(dirname "$KSRC/$rel")"
			cp "$f" "$KSRC/$rel"
			info "updated $rel"
		fi
	done < <(find "$TOP/rust" -type f ! -name README.md -print0)
}

configure() {
	if [ -f "$KBUILD/.config" ] && [ -f "$KBUILD/.config.frag" ] && cmp -s "$FRAG" "$KBUILD/.config.frag"; then
		return
	fi
	step "configuring $KBUILD"
	mkdir -p "$KBUILD"
	"${KMAKE[@]}" -s tinyconfig >/dev/null
	# (kvm_guest.config is x86's guest base; the arm64 fragment names all it needs itself.)
	[ "$KARCH" = x86 ] && "${KMAKE[@]}" -s kvm_guest.config >/dev/null
	"$KSRC/scripts/kconfig/merge_config.sh" -m -O "$KBUILD" "$KBUILD/.config" "$FRAG" >/dev/null
	"${KMAKE[@]}" -s olddefconfig >/dev/null
	"${KMAKE[@]}" -s olddefconfig >/dev/null
	check_config
	cp "$FRAG" "$KBUILD/.config.frag"
}

# Every option the fragment sets must be in the final .config with that value.
check_config() {
	local bad=0 line opt want got
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) opt=${line%%=*}; want=${line#*=} ;;
		"# CONFIG_"*" is not set") opt=${line#"# "}; opt=${opt%% *}; want=n ;;
		*) continue ;;
		esac
		got=$(grep -E "^$opt=|^# $opt is not set" "$KBUILD/.config" || true)
		case "$got" in
		"$opt="*) got=${got#*=} ;;
		*) got=n ;;
		esac
		if [ "$got" != "$want" ]; then
			printf 'config: %s wanted %s, got %s\n' "$opt" "$want" "$got" >&2
			bad=1
		fi
	done <"$FRAG"
	((bad == 0)) || die "kernel config lost options the fragment asks for (see above); check their dependencies"
	info "all $(grep -cE '^CONFIG_|^# CONFIG_.* is not set' "$FRAG") fragment options survived olddefconfig"
}

build() {
	local oh stamp
	oh=$(overlay_hash)
	stamp="$KBUILD/.iommufd-rs-built"
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$oh" ] && [ -f "$KBUILD/$KIMAGE" ]; then
		info "kernel cache is warm: $KBUILD (overlay $oh)"
		return
	fi
	machine_lock kbuild
	apply_overlay
	"${KMAKE[@]}" -s rustavailable >/dev/null || die "make rustavailable failed: Rust toolchain not usable"
	step "building kernel $KVER_PIN for $KARCH (${KIMAGE##*/} modules headers): cold about 10 min, warm seconds"
	run_logged "$KBUILD/build.log" "${KMAKE[@]}" -j"$JOBS" "${KIMAGE##*/}" modules headers
	echo "$oh" >"$stamp"
	# Older builds of this arch and variant (~600 MB each) are not kept: the current one is the
	# warm cache. Only folders named like this one's (prefix + 12-hex hash) are its own: the
	# other arch's and variant's (build-arm64-, build-prod-) stay.
	local d h
	for d in "$KTREE/$KBUILD_PREFIX"*; do
		h=${d##*/"$KBUILD_PREFIX"}
		[[ $h =~ ^[0-9a-f]{12}$ ]] || continue
		[ "$d" = "$KBUILD" ] || { rm -rf "$d"; info "removed stale $(basename "$d")"; }
	done
}

unpack
configure
build
