#!/usr/bin/env bash
# Build the guest test programs, static:
#  - the pinned tree's upstream selftests tools/testing/selftests/iommu/{iommufd,iommufd_fail_nth},
#    copied unmodified into a staging folder laid out like the tree, so that their
#    `#include "../../../../drivers/iommu/iommufd/iommufd_test.h"` finds our test-command
#    header, and compiled against our include/uapi (a compatible superset of 6.12.117's);
#  - our own tests, tools/testing/selftests/iommufd/*.c, with the same harness.
# Output: $OUT/guest/bin/, plus $OUT/guest/upstream-sources.sha256 naming what was built.
# IOMMUFD_RS_ARCH=arm64: the same programs cross-built (Debian's aarch64-linux-gnu-gcc and its
# arm64 libc, static) against the arm64 build's uAPI headers, into $OUT/build-arm64/guest/bin/.
source "$(dirname "$0")/common.sh"

STAGE=$AOUT/selftests-stage
BIN=$AOUT/guest/bin
CC=gcc
[ "$KARCH" = arm64 ] && CC=$ARM64_CC
rm -rf "$STAGE"
mkdir -p "$STAGE/tools/testing/selftests/iommu" "$STAGE/drivers/iommu/iommufd" "$BIN"
cp "$KSRC/tools/testing/selftests/kselftest_harness.h" "$KSRC/tools/testing/selftests/kselftest.h" \
	"$STAGE/tools/testing/selftests/"
UP=(iommufd.c iommufd_fail_nth.c iommufd_utils.h)
for f in "${UP[@]}"; do
	cp "$KSRC/tools/testing/selftests/iommu/$f" "$STAGE/tools/testing/selftests/iommu/"
done
cp "$TOP/drivers/iommufd/iommufd_test.h" "$STAGE/drivers/iommu/iommufd/"
# The upstream files are verbatim copies of the pinned tree's (git-tracked there, pristine).
for f in "${UP[@]}"; do
	git -C "$KSRC" diff --quiet HEAD -- "tools/testing/selftests/iommu/$f" ||
		die "the kernel tree's tools/testing/selftests/iommu/$f is modified"
done
(cd "$STAGE" && sha256sum tools/testing/selftests/iommu/*) >"$AOUT/guest/upstream-sources.sha256"

CFLAGS=(-static -D_GNU_SOURCE -O2 -Wall -Wno-unused-function -pthread
	-isystem "$TOP/include/uapi" -isystem "$KBUILD/usr/include")
cc_one() { # out src [extra flags]
	local out=$1 src=$2; shift 2
	"$CC" "${CFLAGS[@]}" "$@" -o "$out" "$src" || die "building $src failed"
}
step "building the upstream selftests (iommufd, iommufd_fail_nth) and ours ($KARCH)"
cc_one "$BIN/iommufd" "$STAGE/tools/testing/selftests/iommu/iommufd.c" \
	-I "$STAGE/tools/testing/selftests/iommu"
cc_one "$BIN/iommufd_fail_nth" "$STAGE/tools/testing/selftests/iommu/iommufd_fail_nth.c" \
	-I "$STAGE/tools/testing/selftests/iommu"
for src in "$TOP"/tools/testing/selftests/iommufd/*.c; do
	[ -e "$src" ] || continue
	cc_one "$BIN/rs_$(basename "$src" .c)" "$src" -I "$STAGE/tools/testing/selftests" \
		-I "$TOP/drivers/iommufd" -I "$TOP/tools/testing/selftests/iommufd"
done
cc_one "$BIN/iommufd_bench" "$TOP/tools/testing/selftests/iommufd/bench/iommufd_bench.c" \
	-I "$TOP/drivers/iommufd"
info "built: $(cd "$BIN" && echo *)"
