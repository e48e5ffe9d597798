#!/usr/bin/env bash
# Install the Debian packages that hearth's build, guest images and tests need.
# Skips everything when all are present; otherwise `apt-get update` first.
# Needs root (or sudo) only when something is missing.
set -euo pipefail
PKGS=(
	build-essential pkg-config clang libclang-rt-14-dev
	libjson-c-dev libwebsockets-dev libnghttp2-dev libsqlite3-dev libssl-dev libncurses-dev libreadline-dev libcap-dev libssh-dev libarchive-dev
	qemu-system-x86 qemu-utils
	linux-source-6.1 flex bison bc libelf-dev xz-utils cpio kmod
	busybox-static debootstrap e2fsprogs
	openssh-server openssh-client
	python3 python3-pytest python3-pytest-xdist python3-websockets python3-botocore python3-paramiko python3-h2 nghttp2-client nghttp2-server nghttp2-proxy python3-grpcio
	python3-jwt socat sshpass rsync curl wrk hyperfine tmux
	iproute2 nftables
	chromium chromium-driver libnss3-tools
	nodejs
)
missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
# The conformance tests need npm. A nodejs that ships npm (as some builds do)
# conflicts with Debian's npm package, so ask for npm only when it is missing.
[ ${#missing[@]} -eq 0 ] && command -v npm >/dev/null 2>&1 && exit 0
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -q
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "deps: installing npm"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends npm
fi
