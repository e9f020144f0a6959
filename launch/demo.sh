#!/usr/bin/env bash
# `make demo`: trains the demo-hoc preset on the coins photo shipped in the repo (no download,
# no flags), with a live progress bar, then prints where the panels and evaluation are.
# Uses both cores in one process; 1000 steps (about 6–12 minutes on 2 cores). Override with
# e.g. DEMO_STEPS=2000 or DEMO_RUN=runs/mine.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/carve
run=${DEMO_RUN:-runs/demo}
steps=${DEMO_STEPS:-1000}
[ -x "$bin" ] || { echo "demo: $bin is missing (run: make build)" >&2; exit 1; }
rm -rf "$run"
echo "demo: training demo-hoc on the embedded coins photo (scikit-image 'coins'); run folder $run"
# Coins fill more of their 90-pixel windows than beans do (about 0.2 of a patch, not 0.12).
args=(train --preset demo-hoc --run-dir "$run" --set area_target=0.2)
[ -n "$steps" ] && args+=(--steps "$steps")
"$bin" "${args[@]}"
latest=$(ls "$run"/samples/*.png | sort | tail -n 1)
echo
echo "demo: final panel   $latest"
echo "      rows: real patches / composites / the last 4 carved layers / instance appearances / soft masks"
echo "demo: evaluation    $(ls "$run"/eval/*.json | sort | tail -n 1)"
echo "demo: checkpoints   $run/checkpoints/ (try: $bin sample $run/checkpoints/\$(cat $run/checkpoints/latest) --count 16 --out $run/sample)"
