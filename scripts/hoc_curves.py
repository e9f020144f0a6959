#!/usr/bin/env python3
"""Learning curves of hoc runs against instance maps: the sampled masks' shape IoU, the distilled
segmenter's AP@0.5 and count error, and the Otsu + watershed baseline's, against minutes.

Usage: scripts/hoc_curves.py RUN [RUN ...]

For each run folder (made by `carve train` on images with NAME_instances.png beside them), prints
one row per evaluation: step, minutes since the run started (metrics.jsonl's timestamps), shape
IoU, single-object rate, and once distilled the segmenter's AP@0.5, AP@0.5:0.95 and count error,
with the baseline's AP@0.5 and count error. With several runs (e.g. seeds), ends with the mean and
spread (min-max) of the last evaluation. Standard library only.
"""
import json
import os
import sys


def curve(run):
    times = {}
    with open(os.path.join(run, "metrics.jsonl")) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    start = lines[0]["time"] - lines[0]["step"] * lines[0]["step_seconds"]
    for m in lines:
        times[m["step"]] = m["time"]
    rows = []
    folder = os.path.join(run, "eval")
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(folder, name)) as f:
            e = json.load(f)
        t = times.get(e["step"], os.path.getmtime(os.path.join(folder, name)))
        s, b = e.get("segmenter") or {}, e.get("baseline") or {}
        rows.append({
            "step": e["step"], "minutes": (t - start) / 60, "shape": e.get("shape_iou"),
            "single": e.get("single_object_rate"), "ap50": s.get("ap50"), "ap": s.get("ap_50_95"),
            "count": s.get("count_error"), "base_ap50": b.get("ap50"), "base_count": b.get("count_error"),
        })
    return rows


def fmt(x):
    return "  -  " if x is None else f"{x:.3f}"


def main(runs):
    finals = []
    for run in runs:
        rows = curve(run)
        print(run)
        print("   step  minutes  shape  single  AP@0.5  AP@.5:.95  count err | baseline AP@0.5  count err")
        for r in rows:
            print(f"  {r['step']:5d}  {r['minutes']:7.1f}  {fmt(r['shape'])}  {fmt(r['single'])}  {fmt(r['ap50'])}    "
                  f"{fmt(r['ap'])}     {fmt(r['count'])}  |     {fmt(r['base_ap50'])}        {fmt(r['base_count'])}")
        if rows:
            finals.append(rows[-1])
    if len(finals) > 1:
        print("last evaluation over", len(finals), "runs: mean [min, max]")
        for key in ["shape", "ap50", "ap", "count", "minutes"]:
            values = [r[key] for r in finals if r[key] is not None]
            if values:
                print(f"  {key:8s} {sum(values) / len(values):.3f} [{min(values):.3f}, {max(values):.3f}]")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
