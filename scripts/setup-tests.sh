#!/usr/bin/env bash
# Everything the test suite needs, on a fresh Debian or Ubuntu machine: the C toolchains the
# firmware tests build with (host compiler, Arm toolchain, QEMU), the RFC 2217 server remote-bench
# tests serve ports with (ser2net), then the venv with the test extra.
# Without root or sudo it stops and prints the one command that installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
python3 -m venv --help >/dev/null 2>&1 || packages+=(python3-venv)
for tool in gcc:gcc make:make size:binutils arm-none-eabi-gcc:gcc-arm-none-eabi \
            qemu-system-arm:qemu-system-arm ser2net:ser2net; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || packages+=("${tool#*:}")
done
dpkg -s libnewlib-arm-none-eabi >/dev/null 2>&1 || packages+=(libnewlib-arm-none-eabi)
if [ ${#packages[@]} -gt 0 ]; then
    install=(apt-get install -y -qq "${packages[@]}")
    if [ "$(id -u)" = 0 ]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo)
    else
        echo "setup-tests: missing ${packages[*]}; install them with:" >&2
        echo "    sudo apt-get update && sudo ${install[*]}" >&2
        exit 1
    fi
    echo "setup-tests: installing ${packages[*]}" >&2
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" "${install[@]}" >/dev/null
fi

python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]'
