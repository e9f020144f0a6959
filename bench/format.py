#!/usr/bin/env python3
"""Formats bench/run.sh's JSON lines (Carve and PyTorch per configuration) as one Markdown table.

    python3 bench/format.py results.jsonl
"""
import json
import sys


def main(path):
    runs = [json.loads(line) for line in open(path) if line.strip().startswith("{")]
    key = lambda r: (r["preset"], r["batch_size"], r["world_size"], r["threads"])
    carve = {key(r): r for r in runs if r["impl"] == "carve"}
    torch = {key(r): r for r in runs if r["impl"] == "pytorch"}
    order = list(dict.fromkeys(key(r) for r in runs))
    any_run = runs[0] if runs else {}
    core = next((r["core"] for r in runs if r["impl"] == "carve"), "?")
    torch_core = next((r["core"] for r in runs if r["impl"] == "pytorch"), "?")
    print(f"CPU: {any_run.get('cpu', '?')}; Carve: OpenBLAS core {core}; PyTorch: {torch_core}. "
          f"Median of {any_run.get('steps', '?')} steps after {any_run.get('warmup', '?')} warm-up.\n")
    print("| preset | batch | W × threads | s/step Carve | s/step PyTorch | **Carve/PyTorch** | images/s Carve | images/s PyTorch "
          "| GFLOP/step | GFLOP/s Carve | GFLOP/s PyTorch | sgemm GFLOP/s OpenBLAS | sgemm GFLOP/s MKL | peak RSS Carve | peak RSS PyTorch |")
    print("|" + "---|" * 15)

    def f(r, field, fmt):
        return fmt.format(r[field]) if r and r.get(field) is not None else "–"

    def mb(r):
        return f"{r['peak_rss_bytes'] / 2**20:.0f} MiB" if r else "–"

    for k in order:
        c, t = carve.get(k), torch.get(k)
        ratio = (f"**{c['seconds_per_step_median'] / t['seconds_per_step_median']:.2f}**" if c and t else "–")
        gflop = (c or t)["gflop_per_step"]
        print(f"| {k[0]} | {k[1]} | {k[2]} × {k[3]} | {f(c, 'seconds_per_step_median', '{:.3f}')} "
              f"| {f(t, 'seconds_per_step_median', '{:.3f}')} | {ratio} | {f(c, 'images_per_second', '{:.1f}')} "
              f"| {f(t, 'images_per_second', '{:.1f}')} | {gflop:.1f} | {f(c, 'gflops', '{:.1f}')} | {f(t, 'gflops', '{:.1f}')} "
              f"| {f(c, 'sgemm_gflops', '{:.1f}')} | {f(t, 'sgemm_gflops', '{:.1f}')} | {mb(c)} | {mb(t)} |")
    comm = [(k, carve[k]["comm_share"]) for k in order if k in carve and k[2] > 1 and carve[k].get("comm_share") is not None]
    if comm:
        print("\nCarve's communication share at W > 1 (collectives incl. waiting for the other rank): "
              + ", ".join(f"{k[0]} {100 * s:.1f}%" for k, s in comm) + ".")


if __name__ == "__main__":
    main(sys.argv[1])
