#!/usr/bin/env bash
# The README's real-hoc table in one command: the four settings (cells3d and scratch-assay folders,
# scratch-assay image 000 and cells3d slice 004 alone) × seeds 1–3, two runs at a time (one thread
# each, ~3 h on 2 cores), each followed by `carve ckpt eval`, then one line per run.
#
#   scripts/hoc_table.sh OUT [--set key=value ...]     e.g. --set mask_star=2 --set layout_transpose=true
#   RUNS="scr-one-s1 c3d-one-s3" scripts/hoc_table.sh OUT ...   only the runs named (default: all 12)
#
# Development data from ../shared/data/masks (not needed by the tests); carve from .build/release.
set -u
out=${1:?usage: scripts/hoc_table.sh OUT [train flags]}; shift
carve=${CARVE:-$(pwd)/.build/release/carve}
masks=${MASKS:-$(pwd)/../shared/data/masks}
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=1 CARVE_THREADS=1

one() {  # NAME DATA SEED
    local name=$1 data=$2 seed=$3 run="$out/$1"
    local start end
    start=$(date +%s)
    "$carve" train --preset real-hoc --data "$data" --run-dir "$run" --seed "$seed" --quiet "${flags[@]}" > "$run.log" 2>&1 || { echo "$name: training failed (see $run.log)"; return; }
    end=$(date +%s)
    "$carve" ckpt eval "$run/checkpoints/step-00002500.safetensors" --data "$data" --out "$run/final-eval" >> "$run.log" 2>&1 \
        || { echo "$name: evaluation failed (see $run.log)"; return; }
    python3 - "$run/final-eval/metrics.json" "$name" "$(( (end - start) / 60 ))" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1])); s = m["segmenter"]; b = m["baseline"]
print(f"{sys.argv[2]:<14} {sys.argv[3]:>3} min  shape {m['shape_iou']:.3f} (objects {m.get('shape_iou_objects') or 0:.3f})  "
      f"AP@0.5 {s['ap50']:.3f}  AP@0.5:0.95 {s['ap_50_95']:.3f}  count error {s['count_error']:.3f} "
      f"({s['predicted_count']}/{s['true_count']})  baseline AP@0.5 {b['ap50']:.3f}")
EOF
}

flags=("$@")
queue=()
for seed in 1 2 3; do
    for entry in "c3d-s$seed:$masks/nuclei_cells3d_napari:$seed" "scr-s$seed:$masks/nuclei_scratch_assay_ndev:$seed" \
                 "scr-one-s$seed:$masks/nuclei_scratch_assay_ndev/000_image.png:$seed" "c3d-one-s$seed:$masks/nuclei_cells3d_napari/004_image.png:$seed"; do
        [[ -z "${RUNS:-}" || " $RUNS " == *" ${entry%%:*} "* ]] && queue+=("$entry")
    done
done
worker() {  # every other entry of the queue, from $1
    for ((i = $1; i < ${#queue[@]}; i += 2)); do
        IFS=: read -r name data seed <<< "${queue[$i]}"
        one "$name" "$data" "$seed"
    done
}
worker 0 > "$out/results-0.txt" &
worker 1 > "$out/results-1.txt" &
wait
cat "$out"/results-*.txt | sort
