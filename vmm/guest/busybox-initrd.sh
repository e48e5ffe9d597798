#!/usr/bin/env bash
# vmm/guest/busybox-initrd.sh GEN_INIT_CPIO AGENT OUTDIR
# The busybox image recipe: a gzip newc initramfs (OUTDIR/initrd.cpio.gz) holding
# busybox-static with its applet links, a minimal /etc, /dev/console, and AGENT as /init
# (PID 1: it mounts proc, sys, dev, devpts, tmp and run itself), and /usr/bin/hearth-identity
# a link to it. gen_init_cpio from the
# kernel tree writes owners 0:0 and the device node, so no root or fakeroot is needed.
set -euo pipefail
gen=$1 agent=$2 out=$3
bb=/bin/busybox
[ -x "$bb" ] || { echo "busybox-initrd: $bb missing (install busybox-static)" >&2; exit 1; }
[ -x "$agent" ] || { echo "busybox-initrd: agent $agent missing or not executable" >&2; exit 1; }
file "$bb" 2>/dev/null | grep -q 'statically linked' ||
	ldd "$bb" 2>&1 | grep -q 'not a dynamic' ||
	{ echo "busybox-initrd: $bb is not static" >&2; exit 1; }

etc=$out/etc
mkdir -p "$etc"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$etc/passwd"
printf 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n' >"$etc/shadow"
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' >"$etc/group"
printf 'hearth\n' >"$etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost\n' >"$etc/hosts"
cat >"$etc/profile" <<'PROFILE'
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=${HOME:-/root}
PS1='\u@\h:\w\$ '
PROFILE

list=$out/initrd.list
{
	for d in /bin /sbin /usr /usr/bin /usr/sbin /etc /dev /proc /sys /run /mnt /home \
		/var /var/log /usr/local /usr/local/bin; do
		echo "dir $d 0755 0 0"
	done
	echo "dir /root 0700 0 0"
	echo "dir /tmp 1777 0 0"
	echo "dir /var/tmp 1777 0 0"
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "nod /dev/null 0666 0 0 c 1 3"
	echo "file /bin/busybox $bb 0755 0 0"
	# Applet links: `busybox --list-full` names each applet's canonical path.
	"$bb" --list-full | while read -r p; do
		case $p in */*) ;; *) continue;; esac # skip top-level names like linuxrc
		[ "$p" = bin/busybox ] && continue
		echo "slink /$p /bin/busybox 0777 0 0"
	done
	for f in passwd group hostname hosts profile; do echo "file /etc/$f $etc/$f 0644 0 0"; done
	echo "file /etc/shadow $etc/shadow 0600 0 0"
	echo "file /init $agent 0755 0 0"
	# The identity helper is the agent under another name (it looks at argv[0]).
	echo "slink /usr/bin/hearth-identity /init 0777 0 0"
} >"$list"
"$gen" "$list" | gzip -9 -n >"$out/initrd.cpio.gz"
rm -rf "$etc" "$list"
