#!/usr/bin/env bash
# `make demo`: trains the real-hoc preset on the coins photo shipped in the repo (no download,
# no flags) with a live progress bar — the generator, then the instance segmenter distilled from
# it — segments the photo (label map, outlines, count) and prints where everything is.
# Uses both cores in one process; 1000 + 500 steps (about 8–15 minutes on 2 cores). Override
# with e.g. DEMO_STEPS=2000, DEMO_DISTILL_STEPS=1000 or DEMO_RUN=runs/mine.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/carve
run=${DEMO_RUN:-runs/demo}
steps=${DEMO_STEPS:-1000}
distill=${DEMO_DISTILL_STEPS:-500}
photo=Sources/Imaging/Resources/coins.png
[ -x "$bin" ] || { echo "demo: $bin is missing (run: make build)" >&2; exit 1; }
rm -rf "$run"
echo "demo: training real-hoc on the embedded coins photo (scikit-image 'coins'); run folder $run"
# real-hoc measures the coins' window and size on the photo itself (auto_scale).
args=(train --preset real-hoc --run-dir "$run" --set distill_steps="$distill")
[ -n "$steps" ] && args+=(--steps "$steps")
"$bin" "${args[@]}"
checkpoint="$run/checkpoints/$(cat "$run/checkpoints/latest")"
"$bin" segment "$checkpoint" --images "$photo" --out "$run/segment"
latest=$(ls "$run"/samples/*.png | sort | tail -n 1)
echo
echo "demo: final panel   $latest"
echo "      rows: real patches / composites / the last 4 carved layers / instance appearances / soft masks / segmented patches"
echo "demo: the photo's instances  $run/segment/coins-overlay.png (outlines), coins_labels.png (16-bit ids), coins.csv; count: $(tail -n 1 "$run/segment/counts.csv" | cut -d, -f2)"
echo "demo: evaluation    $(ls "$run"/eval/*.json | sort | tail -n 1)"
echo "demo: checkpoints   $run/checkpoints/ (try: $bin sample $run/checkpoints/\$(cat $run/checkpoints/latest) --count 16 --out $run/sample)"
