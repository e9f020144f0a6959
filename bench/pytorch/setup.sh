#!/usr/bin/env bash
# Makes sure a virtualenv with PyTorch (CPU use), numpy and safetensors exists OUTSIDE the repo and
# prints its python. Default /work/torch-venv, or $CARVE_TORCH_VENV. Nothing here is committed.
#
#   py=$(bash bench/pytorch/setup.sh)
set -euo pipefail
venv=${CARVE_TORCH_VENV:-/work/torch-venv}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
case $(cd "$(dirname "$venv")" 2>/dev/null && pwd)/ in
    "$repo"/*) echo "bench/pytorch/setup.sh: the virtualenv $venv must live outside the repository" >&2; exit 1 ;;
esac
if ! "$venv/bin/python" -c 'import torch' >/dev/null 2>&1; then
    echo "bench/pytorch/setup.sh: installing torch into $venv (once)" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --upgrade pip >&2
    # Plain PyPI: the wheel runs on CPUs as it is (its CUDA parts stay unused).
    "$venv/bin/pip" install --quiet torch numpy safetensors >&2
fi
echo "$venv/bin/python"
