# shellcheck shell=bash
# tests/bench/sshd.sh - sourced by benchmarks: a throwaway OpenSSH server on a
# free loopback port, as the named peer the agent is compared with.
#   sshd_start DIR   host key, client key, config and sshd -D in DIR; sets
#                    SSHD_PID, SSHD_PORT, the client command array SSH (ssh
#                    and its options) and SSHD_DEST (user@127.0.0.1):
#                    "${SSH[@]}" [more options] "$SSHD_DEST" COMMAND
#   sshd_stop        stops the server (safe to call twice)
# Every wait has a deadline; nothing here touches the system's own sshd config.
# As root, sshd runs in a private mount namespace whose /etc/passwd gives the
# user tests/integration/host-shell, the shell hearth's agent runs in the
# benchmarks: both sides then run the same bash, without the host user's
# dotfiles (bash reads ~/.bashrc under sshd even for `ssh host cmd`, and an rc
# file that waits on a lock would stall every login).

SSHD_PID=
SSHD_PORT=
SSH=()
SSHD_DEST=
SSHD_HOST_SHELL=$(cd "$(dirname "${BASH_SOURCE[0]}")/../integration" && pwd)/host-shell

sshd_free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

sshd_start() {
	local dir=$1 user
	user=$(id -un)
	mkdir -p "$dir"
	ssh-keygen -q -t ed25519 -N '' -C hearth-bench-host -f "$dir/host_ed25519" </dev/null || return 1
	ssh-keygen -q -t ed25519 -N '' -C hearth-bench-client -f "$dir/client_ed25519" </dev/null || return 1
	cp "$dir/client_ed25519.pub" "$dir/authorized_keys"
	local run=()
	if [ "$(id -u)" = 0 ]; then
		mkdir -p /run/sshd # sshd's privilege separation needs it as root
		awk -F: -v OFS=: -v u="$user" -v sh="$SSHD_HOST_SHELL" '$1 == u { $7 = sh } 1' \
			/etc/passwd >"$dir/passwd" || return 1
		# unshare and sh exec: $! stays sshd's pid.
		run=(unshare --mount --propagation private
			sh -c 'mount --bind "$0" /etc/passwd && exec "$@"' "$dir/passwd")
	fi
	for _ in 1 2 3 4 5; do
		SSHD_PORT=$(sshd_free_port) || return 1
		cat >"$dir/sshd_config" <<-EOF
			ListenAddress 127.0.0.1:$SSHD_PORT
			HostKey $dir/host_ed25519
			AuthorizedKeysFile $dir/authorized_keys
			PidFile $dir/sshd.pid
			UsePAM no
			StrictModes no
			PermitRootLogin prohibit-password
			PubkeyAuthentication yes
			PasswordAuthentication no
			KbdInteractiveAuthentication no
			X11Forwarding no
			PrintMotd no
			PrintLastLog no
			UseDNS no
			LogLevel ERROR
		EOF
		"${run[@]}" /usr/sbin/sshd -D -e -f "$dir/sshd_config" 2>>"$dir/sshd.log" &
		SSHD_PID=$!
		SSH=(ssh -F /dev/null -p "$SSHD_PORT" -i "$dir/client_ed25519"
			-o IdentitiesOnly=yes -o StrictHostKeyChecking=no
			-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR
			-o ConnectTimeout=5)
		SSHD_DEST=$user@127.0.0.1
		# Ready when a real login works; give up on this port after 10 s.
		for _ in $(seq 100); do
			if ! kill -0 "$SSHD_PID" 2>/dev/null; then break; fi
			if timeout 5 "${SSH[@]}" "$SSHD_DEST" true </dev/null 2>/dev/null; then return 0; fi
			sleep 0.1
		done
		sshd_stop
	done
	echo "sshd did not come up; log:" >&2
	cat "$dir/sshd.log" >&2
	return 1
}

sshd_stop() {
	[ -n "$SSHD_PID" ] || return 0
	kill "$SSHD_PID" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$SSHD_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$SSHD_PID" 2>/dev/null
	wait "$SSHD_PID" 2>/dev/null
	SSHD_PID=
}
