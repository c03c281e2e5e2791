#!/usr/bin/env python3
"""Reads bench/cpu_compare.sh's JSON files (sana-*.json / torch-*.json, one pair per run) and prints, per
model / dtype / size, PyTorch time / ours for each stage (> 1: we are faster; the best of each side's
runs, and the range over pairs) and both peak RSS figures (load included)."""
import glob
import json
import os
import sys
from collections import defaultdict

STAGES = [("text_s", "text"), ("denoise_s", "denoising"), ("decode_s", "decoding"), ("total_s", "total")]


def main(folder):
    runs = defaultdict(lambda: {"sana": [], "torch": []})
    for path in sorted(glob.glob(os.path.join(folder, "*-pair*.json"))):
        side, rest = os.path.basename(path).split("-", 1)
        key = rest.rsplit("-pair", 1)[0]
        with open(path) as f:
            runs[key][side].append(json.load(f))
    print("| model-dtype-size | " + " | ".join(n for _, n in STAGES) + " | peak RSS ours / PyTorch |")
    print("|---|" + "---|" * (len(STAGES) + 1))
    for key, r in sorted(runs.items()):
        if not r["sana"] or not r["torch"]:
            continue
        cells = []
        for field, _ in STAGES:
            ours = [x[field] for x in r["sana"]]
            theirs = [x[field] for x in r["torch"]]
            pairs = [t / s for s, t in zip(ours, theirs) if s > 0]
            best = min(theirs) / min(ours)
            cells.append(f"{best:.2f}x ({min(pairs):.2f}-{max(pairs):.2f}; {min(ours):.2f} vs {min(theirs):.2f} s)")
        # ours: the larger of the load-and-first-image peak and the timed images' peak (VmHWM is reset between)
        ours_peak = max(max(x["peak_gib"], x.get("steady_peak_gib", 0.0)) for x in r["sana"])
        peak = f"{ours_peak:.2f} / {max(x['peak_gib'] for x in r['torch']):.2f} GiB"
        print(f"| {key} | " + " | ".join(cells) + f" | {peak} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
