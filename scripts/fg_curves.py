#!/usr/bin/env python3
"""Learning curves of fg runs: mean IoU (threshold 0.5) against minutes of training.

Usage: scripts/fg_curves.py RUN [RUN ...]

For each run folder (made by `carve train`), prints one row per evaluation: step, minutes since
the run started (from metrics.jsonl's timestamps), the teacher's and (once distilled) the
student's mean IoU, and the box / inscribed-ellipse baselines of the same crops. With several
runs (e.g. seeds), ends with the mean and spread (min-max) of the last evaluation.
Standard library only.
"""
import json
import os
import sys


def curve(run):
    with open(os.path.join(run, "metrics.jsonl")) as f:
        first = json.loads(f.readline())
    start = first["time"] - first["step"] * first["step_seconds"]
    rows = []
    folder = os.path.join(run, "eval")
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(folder, name)) as f:
            e = json.load(f)
        rows.append({
            "step": e["step"], "minutes": (e["time"] - start) / 60,
            "teacher": e.get("teacher_mean_iou"), "student": e["mean_iou"] if e.get("distilled") else None,
            "box": e.get("box_iou"), "ellipse": e.get("ellipse_iou"),
        })
    return rows


def fmt(x):
    return "  -  " if x is None else f"{x:.3f}"


def main(runs):
    finals = []
    for run in runs:
        rows = curve(run)
        print(f"{run}")
        print("   step  minutes  teacher  student    box  ellipse")
        for r in rows:
            print(f"  {r['step']:5d}  {r['minutes']:7.1f}  {fmt(r['teacher'])}    {fmt(r['student'])}  "
                  f"{fmt(r['box'])}  {fmt(r['ellipse'])}")
        if rows:
            finals.append(rows[-1])
    if len(finals) > 1:
        for key in ["teacher", "student"]:
            values = [r[key] for r in finals if r[key] is not None]
            if values:
                mean = sum(values) / len(values)
                print(f"{key}: mean {mean:.3f} over {len(values)} runs (min {min(values):.3f}, max {max(values):.3f})")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
