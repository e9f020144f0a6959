#!/usr/bin/env bash
# Installs the system packages Carve builds against, when they are missing:
# Open MPI (headers, runtime, mpirun), OpenBLAS, libpng, libjpeg-turbo (Debian's
# libjpeg62-turbo-dev) and pkg-config, plus procps (pgrep, for launch/test-mpi.sh; minimal Debian
# images lack it).
# Idempotent and quiet when everything is already there.
set -euo pipefail

packages=(libopenmpi-dev openmpi-bin libopenblas-dev libpng-dev libjpeg62-turbo-dev pkg-config procps)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: this is not a Debian/Ubuntu system; install by hand: Open MPI (dev + mpirun), OpenBLAS (dev), libpng (dev), libjpeg-turbo (dev), pkg-config" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo="sudo"
    else
        echo "setup: missing packages and not root; run: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null || true
if ! $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "setup: apt-get install failed; run: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
