#!/usr/bin/env bash
# vmm/guest/debian-disk.sh BASE_IMG AGENT OUTDIR
# The cheap second debian step: OUTDIR/disk.img = a sparse copy of the cached base with
# AGENT written in as /sbin/hearth-agent (root:root 0755) by debugfs, without mounting, and
# /usr/bin/hearth-identity a link to it (the identity helper: the agent run under that name).
set -euo pipefail
base=$1 agent=$2 out=$3
[ -f "$base" ] || { echo "debian-disk: base image $base missing" >&2; exit 1; }
[ -x "$agent" ] || { echo "debian-disk: agent $agent missing or not executable" >&2; exit 1; }
cp --sparse=always "$base" "$out/disk.img"
# Merged-/usr Debian has /sbin -> usr/sbin, and debugfs does not follow that link.
dir=/sbin
debugfs -R "stat /sbin" "$out/disk.img" 2>/dev/null | grep -q 'Type: symlink' && dir=/usr/sbin
cmds=$out/debugfs.cmds
cat >"$cmds" <<CMDS
cd $dir
write $agent hearth-agent
sif hearth-agent mode 0100755
sif hearth-agent uid 0
sif hearth-agent gid 0
cd /usr/bin
symlink hearth-identity $dir/hearth-agent
CMDS
debugfs -w -f "$cmds" "$out/disk.img"
rm -f "$cmds"
# Read it back: the copy inside must be byte-identical to the agent.
got=$(debugfs -R "cat $dir/hearth-agent" "$out/disk.img" 2>/dev/null | sha256sum | cut -d' ' -f1)
want=$(sha256sum <"$agent" | cut -d' ' -f1)
[ "$got" = "$want" ] || { echo "debian-disk: agent in disk.img does not match $agent" >&2; exit 1; }
link=$(debugfs -R "stat /usr/bin/hearth-identity" "$out/disk.img" 2>/dev/null | sed -n 's/^Fast link dest: "\(.*\)"$/\1/p')
[ "$link" = "$dir/hearth-agent" ] || { echo "debian-disk: /usr/bin/hearth-identity is not a link to $dir/hearth-agent" >&2; exit 1; }
e2fsck -fn "$out/disk.img" >/dev/null || { echo "debian-disk: e2fsck found errors" >&2; exit 1; }
