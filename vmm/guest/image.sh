#!/usr/bin/env bash
# vmm/guest/image.sh NAME OUTDIR AGENT
# Ensure managed image NAME (busybox | debian-12) and the kernel are in the cache, then
# write OUTDIR/image.json: {"name","version","kernel","initrd","disk","cmdline","memoryMiB"}
# with absolute paths into the cache; version is a short hash of everything it names.
# The engine boots it as is; disks are only ever used as read-only qcow2 backing files.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
GUEST_PROG=image.sh
. "$here/lib.sh"

[ $# -eq 3 ] || guest_die "usage: image.sh busybox|debian-12 OUTDIR AGENT"
name=$1 outdir=$2 agent=$3
[ -x "$agent" ] || guest_die "agent binary $agent missing or not executable (build it first)"
agent=$(realpath "$agent")
cache=$(guest_cache_root)

kentry=$("$here/kernel.sh")
# Measured under TCG on -M microvm (see README.md): PVH entry into the uncompressed
# vmlinux reaches /init sooner than the bzImage, which must decompress itself first.
kernel=$kentry/vmlinux
[ -f "$kernel" ] || guest_die "kernel $kernel missing"

initrd='' disk=''
case $name in
busybox)
	key=$(guest_key "$here/busybox-initrd.sh" /bin/busybox "$agent" "$kentry/gen_init_cpio")
	entry=$(guest_entry "$cache/images/busybox" "$key" "busybox initramfs" \
		"$here/busybox-initrd.sh" "$kentry/gen_init_cpio" "$agent")
	initrd=$entry/initrd.cpio.gz
	cmdline="console=ttyS0 quiet panic=-1 reboot=t init_on_free=1"
	mem=128
	;;
debian-12)
	suite=bookworm
	bkey=$(guest_key "$here/debian-base.sh" "suite=$suite")
	base=$cache/images/debian-12/base
	if [ ! -f "$base/$bkey/.done" ]; then
		[ "$(id -u)" -eq 0 ] || guest_die "building the debian-12 base needs root (debootstrap); run as root once"
		mirror=$(guest_apt_mirror) || guest_die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
		guest_log "debian-12 base: debootstrap $suite from this machine's apt mirror $mirror"
	else
		mirror=unused
	fi
	# Progress: debootstrap's "I:" lines (one per package and step) against an earlier
	# base build's log; about 580 for this package list.
	debian_steps() { grep -c '^I: ' "$2" 2>/dev/null || true; }
	prev=$(ls -t "$base"/*/build.log 2>/dev/null | head -n 1)
	GUEST_COUNT=debian_steps GUEST_UNIT=steps
	GUEST_TOTAL=$(if [ -n "$prev" ]; then grep -c '^I: ' "$prev"; else echo 580; fi)
	bentry=$(guest_entry "$base" "$bkey" "debian-12 base ($suite minbase)" \
		"$here/debian-base.sh" "$suite" "$mirror")
	GUEST_COUNT='' GUEST_TOTAL=''
	key=$(guest_key "$here/debian-disk.sh" "base=$bkey" "$agent")
	entry=$(guest_entry "$cache/images/debian-12/disk" "$key" "debian-12 disk with agent" \
		"$here/debian-disk.sh" "$bentry/base.img" "$agent")
	disk=$entry/disk.img
	cmdline="console=ttyS0 quiet panic=-1 reboot=t init_on_free=1 root=/dev/vda rw init=/sbin/hearth-agent"
	mem=256
	;;
*) guest_die "unknown image '$name' (known: busybox, debian-12)";;
esac

version=$(guest_key "kernel=$(basename "$kentry")" "image=$key" "cmdline=$cmdline" "mem=$mem")
mkdir -p "$outdir"
NAME=$name VERSION=$version KERNEL=$kernel INITRD=$initrd DISK=$disk CMDLINE=$cmdline MEM=$mem \
	/usr/bin/python3 -c '
import json, os, sys
e = os.environ
print(json.dumps({"name": e["NAME"], "version": e["VERSION"], "kernel": e["KERNEL"],
	"initrd": e["INITRD"] or None, "disk": e["DISK"] or None,
	"cmdline": e["CMDLINE"], "memoryMiB": int(e["MEM"])}, indent=2))' >"$outdir/image.json.tmp"
mv "$outdir/image.json.tmp" "$outdir/image.json"
guest_log "$name $version: $outdir/image.json"
