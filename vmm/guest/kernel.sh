#!/usr/bin/env bash
# vmm/guest/kernel.sh - ensure the hearth guest kernel is in the cache; print its entry dir.
#
# Entry: <cache>/kernel/<key>/ with vmlinux, bzImage, config, release, gen_init_cpio, where
# key = sha256(kernel.config, kernel-build.sh, installed linux-source-6.1 version). A hit
# does nothing; a miss builds in a temp dir renamed into place only on success (lib.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
GUEST_PROG=kernel.sh
. "$here/lib.sh"

pkg=linux-source-6.1
src=/usr/src/$pkg.tar.xz
frag=$here/kernel.config
recipe=$here/kernel-build.sh

ver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) ||
	guest_die "$pkg is not installed (run: make deps)"
[ -f "$src" ] || guest_die "$src missing (reinstall $pkg)"
key=$(guest_key "$frag" "$recipe" "$pkg=$ver")

# Progress: compiled objects against the count of an earlier build of this config
# (kernel.objects, updated by hand when kernel.config changes; the newest cached
# entry's own count when there is one). Not part of the key: it only feeds the
# percentage.
kernel_objects() { find "$1/src" -name '*.o' 2>/dev/null | wc -l; }
GUEST_COUNT=kernel_objects GUEST_UNIT=objects
GUEST_TOTAL=$(cat "$here/kernel.objects" 2>/dev/null || true)
guest_entry "$(guest_cache_root)/kernel" "$key" "kernel $pkg $ver" \
	"$recipe" "$src" "$frag"
