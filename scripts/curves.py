#!/usr/bin/env python3
"""Learning curves of Carve runs against minutes of training, from RUN/metrics.jsonl and RUN/eval.

Usage: scripts/curves.py RUN [RUN ...]

fg runs: mean IoU (threshold 0.5) of the teacher and, once distilled, the student (refined when the run
has refine=colour, with the networks' own masks as "raw"), with the box,
inscribed-ellipse and GrabCut-from-the-box baselines of the same crops. hoc runs on images with instance maps: the
sampled masks' shape IoU and single-object rate, once distilled the segmenter's AP@0.5,
AP@0.5:0.95 and count error, and the Otsu + watershed baseline's AP@0.5 and count error.
One row per evaluation: step, minutes since the run started (metrics.jsonl's timestamps), the
numbers. With several runs (e.g. seeds), ends with the mean and spread (min-max) of the last
evaluation. Standard library only.
"""
import json
import os
import sys

FG = [("teacher", "teacher"), ("student", "student"), ("teacher raw", "teacher_raw"), ("student raw", "student_raw"),
      ("box", "box"), ("ellipse", "ellipse"), ("GrabCut", "grabcut")]
HOC = [("shape", "shape"), ("single", "single"), ("AP@0.5", "ap50"), ("AP@.5:.95", "ap"), ("count err", "count"),
       ("base AP@0.5", "base_ap50"), ("base count err", "base_count")]


def row(e):
    """The numbers of one evaluation JSON, by application."""
    if "mean_iou" in e:
        # With refine=colour, teacher/student are the refined masks and "raw" the networks' own.
        return {"teacher": e.get("teacher_mean_iou"), "student": e["mean_iou"] if e.get("distilled") else None,
                "teacher_raw": e.get("teacher_raw_mean_iou"),
                "student_raw": e.get("raw_mean_iou") if e.get("distilled") else None,
                "box": e.get("box_iou"), "ellipse": e.get("ellipse_iou"), "grabcut": e.get("grabcut_iou")}
    s, b = e.get("segmenter") or {}, e.get("baseline") or {}
    return {"shape": e.get("shape_iou"), "single": e.get("single_object_rate"), "ap50": s.get("ap50"),
            "ap": s.get("ap_50_95"), "count": s.get("count_error"), "base_ap50": b.get("ap50"),
            "base_count": b.get("count_error")}


def curve(run):
    with open(os.path.join(run, "metrics.jsonl")) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    start = lines[0]["time"] - lines[0]["step"] * lines[0]["step_seconds"]
    times = {m["step"]: m["time"] for m in lines}
    rows = []
    folder = os.path.join(run, "eval")
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(folder, name)) as f:
            e = json.load(f)
        t = e.get("time") or times.get(e["step"]) or os.path.getmtime(os.path.join(folder, name))
        rows.append(dict(row(e), step=e["step"], minutes=(t - start) / 60))
    return rows


def fmt(x):
    return "-" if x is None else f"{x:.3f}"


def main(runs):
    finals = []
    for run in runs:
        rows = curve(run)
        columns = FG if rows and "teacher" in rows[0] else HOC
        print(run)
        print("  " + "  ".join(f"{h:>9s}" for h in ["step", "minutes"] + [c[0] for c in columns]))
        for r in rows:
            print("  " + "  ".join([f"{r['step']:9d}", f"{r['minutes']:9.1f}"] + [f"{fmt(r[c[1]]):>9s}" for c in columns]))
        if rows:
            finals.append((columns, rows[-1]))
    if len(finals) > 1:
        print(f"last evaluation over {len(finals)} runs: mean [min, max]")
        for header, key in finals[0][0] + [("minutes", "minutes")]:
            values = [r[key] for _, r in finals if r.get(key) is not None]
            if values:
                print(f"  {header:>14s} {sum(values) / len(values):.3f} [{min(values):.3f}, {max(values):.3f}]")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
