#!/usr/bin/env bash
# Print the figures that track how much of the driver talks to C directly and how tangled its
# modules are, one `name: value` line each, so that a before/after pair of runs (around a
# redesign, or just over time) can be diffed line by line:
#
# - `bindings::` uses, `unsafe` blocks, `unsafe fn`, `unsafe extern "C" fn`, `unsafe impl` and
#   `extern "C" {` blocks in the driver's own files (drivers/iommufd/*.rs; the pure `no_std`
#   core under drivers/iommufd/core/ is not counted: it has none of these by design);
# - `unsafe` blocks in the kernel-crate overlay (rust/kernel/, and drivers/iommufd/overlay/ where
#   abstractions are staged until the next kernel rebuild moves them there), and how many of them have no `// SAFETY:`
#   comment, either on the same line or in the comment lines just above (up to the previous
#   code line);
# - the largest import cycle among the driver's top-level module files: the biggest strongly
#   connected component of the graph where module A points at module B when A names
#   `crate::B` (in a `use` or a path); `crate::iommufd_core` is the core and not a node.
#
# Counts are occurrences in code: whole-line comments (`//`, `///`, `//!`) are skipped. Run
# from anywhere; paths are taken relative to the repository root.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$TOP"

# The driver's own files; bindgen's output (`*_generated.rs`, made at build time) is not ours.
# Files in subfolders (e.g. vendor/) count too, except the core and the staged overlay.
DRV=()
while IFS= read -r -d '' f; do
	case $f in *_generated.rs | drivers/iommufd/core/* | drivers/iommufd/overlay/*) ;; *) DRV+=("$f") ;; esac
done < <(find drivers/iommufd -name '*.rs' -print0 | sort -z)

# Occurrences of the extended regex $1 in the code lines of the driver's files.
count() {
	cat "${DRV[@]}" | { grep -v '^[[:space:]]*//' || true; } | { grep -oE "$1" || true; } | wc -l
}

echo "bindings:: uses in drivers/iommufd/*.rs: $(count 'bindings::')"
echo "unsafe blocks in drivers/iommufd/*.rs: $(count 'unsafe ?\{')"
echo "unsafe fn in drivers/iommufd/*.rs: $(count 'unsafe fn\b')"
echo "unsafe extern \"C\" fn in drivers/iommufd/*.rs: $(count 'unsafe extern "C" fn\b')"
echo "unsafe impl in drivers/iommufd/*.rs: $(count 'unsafe impl\b')"
echo "extern \"C\" blocks in drivers/iommufd/*.rs: $(count 'extern "C" \{')"

# For each `unsafe {` in a code line: look for `// SAFETY:` on that line, else walk up over
# comment, blank and attribute lines (the comment block right above) until a code line.
# shellcheck disable=SC2016 # awk program, not shell
find rust/kernel $( [ -d drivers/iommufd/overlay ] && echo drivers/iommufd/overlay ) -name '*.rs' -print0 | sort -z | xargs -0 awk '
	FNR == 1 { n = 0 }
	{ line[++n] = $0 }
	$0 !~ /^[[:space:]]*\/\// && /unsafe ?\{/ {
		k = gsub(/unsafe ?\{/, "&")
		total += k
		ok = /\/\/ SAFETY:/
		for (i = n - 1; !ok && i > 0; i--) {
			if (line[i] ~ /\/\/ SAFETY:/) ok = 1
			else if (line[i] !~ /^[[:space:]]*(\/\/|#\[|$)/) break
		}
		if (!ok) missing += k
	}
	END {
		printf "unsafe blocks in the kernel-crate overlay (rust/kernel/ and the staged drivers/iommufd/overlay/): %d\n", total
		printf "of them without a // SAFETY: comment: %d\n", missing
	}'

python3 - "${DRV[@]}" <<'EOF'
import os, re, sys

files = sys.argv[1:]
def node(f):
    """A file's top-level module: drivers/iommufd/x.rs and drivers/iommufd/x/*.rs are `x`."""
    rel = os.path.relpath(f, 'drivers/iommufd')
    return rel.split(os.sep)[0].removesuffix('.rs')

nodes = {node(f) for f in files}

def first_segments(group):
    """Top-level items of a `{...}` use group, as their first path segment."""
    depth, item, out = 0, '', []
    for ch in group + ',':
        if ch == ',' and depth == 0:
            seg = item.strip().split('::')[0].split(' as ')[0].strip()
            if seg:
                out.append(seg)
            item = ''
            continue
        depth += (ch == '{') - (ch == '}')
        item += ch
    return out

graph = {n: set() for n in nodes}
for f in files:
    me = node(f)
    # Drop comments: doc links to `crate::x` are not dependencies.
    text = '\n'.join(re.sub(r'//.*', '', l) for l in open(f, encoding='utf-8'))
    for m in re.finditer(r'\bcrate::(\{|\w+)', text):
        if m.group(1) == '{':
            depth, j = 1, m.end()
            while depth and j < len(text):
                depth += (text[j] == '{') - (text[j] == '}')
                j += 1
            targets = first_segments(text[m.end():j - 1])
        else:
            targets = [m.group(1)]
        for t in targets:
            if t in nodes and t != me and t != 'iommufd_core':
                graph[me].add(t)

# Tarjan's strongly connected components.
index, low, on, stack, sccs, counter = {}, {}, set(), [], [], [0]
sys.setrecursionlimit(10000)

def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in sorted(graph[v]):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        sccs.append(sorted(comp))

for v in sorted(graph):
    if v not in index:
        visit(v)

# The largest component; ties go to the alphabetically first. Size 1 means no cycle.
big = sorted(sccs, key=lambda c: (-len(c), c))[0]
print(f'largest import cycle among drivers/iommufd/*.rs files: {len(big)}')
print(f'largest import cycle members: {" ".join(big) if len(big) > 1 else "(no cycle)"}')
EOF
