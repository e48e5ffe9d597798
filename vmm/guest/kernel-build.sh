#!/usr/bin/env bash
# vmm/guest/kernel-build.sh SRC_TARBALL FRAGMENT OUTDIR
# The kernel recipe: unpack the source, `make tinyconfig`, merge FRAGMENT, refuse the
# build if any fragment line was dropped by Kconfig, build, and copy vmlinux, bzImage,
# .config, the release string and the number of compiled objects into OUTDIR. Its hash
# is part of the cache key (kernel.sh), so any change here rebuilds. "stage: X" lines
# in the log name the step for the progress lines kernel.sh prints (lib.sh heartbeat).
set -euo pipefail
src=$1 frag=$2 out=$3
work=$out/src
ARCH=x86_64
export ARCH
jobs=$(nproc)
[ "$jobs" -gt 2 ] && jobs=2 # the machine is shared; never more than -j2

echo "stage: unpack"
mkdir -p "$work"
tar -xJf "$src" -C "$work" --strip-components=1
cd "$work"

echo "stage: config"
make -s tinyconfig
scripts/kconfig/merge_config.sh -m .config "$frag" >/dev/null
make -s olddefconfig

# Every fragment line must survive: CONFIG_X=v present verbatim, "# CONFIG_X is not set"
# means no CONFIG_X= line at all.
dropped=()
while IFS= read -r line; do
	case $line in
	CONFIG_*=*)
		grep -qxF -- "$line" .config || dropped+=("$line (got: $(grep -E "^(# )?${line%%=*}[= ]" .config || echo unset))");;
	'# CONFIG_'*' is not set')
		opt=${line#\# }; opt=${opt%% *}
		! grep -q "^$opt=" .config || dropped+=("$line (got: $(grep "^$opt=" .config))");;
	esac
done <"$frag"
if [ "${#dropped[@]}" -gt 0 ]; then
	echo "kernel-build: these config fragment options were dropped by Kconfig:" >&2
	printf '  %s\n' "${dropped[@]}" >&2
	exit 1
fi

echo "stage: compile"
make -s -j"$jobs" bzImage
# gen_init_cpio writes initramfs archives with device nodes and 0:0 owners, no root needed.
make -s usr/gen_init_cpio
echo "stage: install"
# The object count is what kernel.sh measures progress against (vmm/guest/kernel.objects).
find . -name '*.o' | wc -l >"$out/objects"
cp vmlinux "$out/vmlinux"
cp usr/gen_init_cpio "$out/gen_init_cpio"
cp arch/x86/boot/bzImage "$out/bzImage"
cp .config "$out/config"
make -s kernelrelease >"$out/release"
cd "$out"
rm -rf "$work"
