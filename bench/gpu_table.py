#!/usr/bin/env python3
"""Markdown table of bench/gpu.sh results: ours (bench_pipeline JSON) beside diffusers on the same card.

usage: python3 bench/gpu_table.py RESULTS_DIR      (stdlib only)
diffusers' pipe20 numbers are 20 steps + decode with the prompt embeddings given, so they are compared with our
denoise + decode; its text-encoder figure (Gemma-2-2B, batch 2 x 300 tokens) with our text stage.
"""
import glob
import json
import os
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def main(d):
    eager = load(os.path.join(d, "anchor.json"))
    comp = load(os.path.join(d, "anchor_compiled.json"))
    rows = []
    for p in sorted(glob.glob(os.path.join(d, "ours_*.json"))):
        o = load(p)
        if not o:
            continue
        m, px, b, graph = o["model"], o["size"], o["batch"], o.get("cuda_graph", False)
        ours = o["denoise_s"] + o["decode_s"]
        ref_e = eager.get(f"{m}_pipe20_{px}_s") if b == 1 else None
        ref_c = comp.get(f"{m}_compiled_pipe20_{px}_b{b}_s")
        ratio = lambda r: f"{r / ours:.2f}x" if r else "-"
        rows.append("| {} | {}² | {} | {} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.2f} | {:.2f} | {:.3f} | {} | {} | {} | {} |".format(
            m, px, b, "yes" if graph else "no", o["text_s"], o["denoise_s"], o["decode_s"], o["total_s"],
            o["images_per_s"], o["peak_gib"], o["denoise_floor_s"],
            f"{ref_e:.3f}" if ref_e else "-", ratio(ref_e), f"{ref_c:.3f}" if ref_c else "-", ratio(ref_c)))
    gpu = eager.get("gpu") or comp.get("gpu")
    if not gpu and os.path.exists(os.path.join(d, "gpu.txt")):
        gpu = open(os.path.join(d, "gpu.txt")).read().strip().splitlines()[-1]
    print(f"GPU: {gpu or '?'}")
    print()
    print("| model | px | batch | graph | text s | denoise s | decode s | total s | img/s | peak GiB | denoise floor s "
          "| diffusers eager (20 steps + decode) s | ratio | diffusers compiled s | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows) if rows else "| (no results) |")
    if eager.get("gemma2_2b_b2_300tok_s"):
        print(f"\ndiffusers Gemma-2-2B text encoder, batch 2 x 300 tokens: {eager['gemma2_2b_b2_300tok_s']:.3f} s")
    for px in (512, 1024, 2048):
        if f"vae_decode_{px}_s" in eager:
            print(f"diffusers DC-AE decode {px}²: {eager[f'vae_decode_{px}_s']:.3f} s, peak {eager.get(f'vae_decode_{px}_peak_GiB', '?')} GiB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/sana-gpu")
