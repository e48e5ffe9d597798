#!/usr/bin/env bash
# vmm/guest/debian-base.sh SUITE MIRROR OUTDIR
# The debian base recipe (slow, cached by image.sh under a key of this file and the suite):
# debootstrap --variant=minbase SUITE from MIRROR (plus procps: ps/top/free are expected in
# a shell; openssh-sftp-server (and its openssh-client): the SSH ingress runs
# /usr/lib/openssh/sftp-server for sftp and scp; iproute2, nftables, iptables and fuse2fs,
# about 4 MB, so containers' networking and a FUSE filesystem can be used and tested
# without network access from the guest) into a scratch tree, give it a hostname,
# root's shell bash, no downloaded package files, then OUTDIR/base.img = a 1 GiB sparse
# ext4 filesystem made with `mkfs.ext4 -d` (no loop mounts). The agent is added later,
# in a cheap separate step, so a new agent never re-runs debootstrap.
set -euo pipefail
suite=$1 mirror=$2 out=$3
size=1G
[ "$(id -u)" -eq 0 ] || { echo "debian-base: debootstrap needs root" >&2; exit 1; }
root=$out/root
mkdir -p "$root"
echo "stage: debootstrap"
if ! debootstrap --variant=minbase \
	--include=procps,openssh-sftp-server,iproute2,nftables,iptables,fuse2fs \
	"$suite" "$root" "$mirror"; then
	echo "debian-base: debootstrap of $suite from $mirror failed (is the mirror reachable?)" >&2
	tail -n 20 "$root/debootstrap/debootstrap.log" >&2 2>/dev/null || true
	exit 1
fi

echo "stage: configure"
echo hearth >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\thearth\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
# root logs in to bash (minbase already does; make sure, without touching other lines).
sed -i -E '1,/^root:/ s#^(root:[^:]*:0:0:[^:]*:[^:]*:).*$#\1/bin/bash#' "$root/etc/passwd"
grep -q '^root:x:0:0:.*:/bin/bash$' "$root/etc/passwd" || { echo "debian-base: bad /etc/passwd" >&2; exit 1; }
# The agent is PID 1 (init=/sbin/hearth-agent): nothing to start at boot.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*.log \
	"$root/debootstrap"

echo "stage: mkfs"
truncate -s "$size" "$out/base.img"
mkfs.ext4 -q -F -L hearth-root -m 0 -d "$root" "$out/base.img"
rm -rf "$root"
printf '%s\n' "$suite" >"$out/suite"
