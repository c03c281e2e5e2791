#!/usr/bin/env python3
"""PyTorch CPU baseline for bench/dit/bench_dit_step: one classifier-free-guided step (batch 2, L = 300) of
diffusers' SanaTransformer2DModel at the real 0.6B / 1.6B shapes, random weights, fp32 and bf16.

A full-depth 1.6B model at 1024² takes minutes per step on 2 cores, so the step is measured as
    t(step) = t(model with 1 block) + (depth - 1) * (t(2 blocks) - t(1 block))
(blocks are identical in cost; the caption projection, embeddings and output head are in t(1 block)).
This is stated in docs/performance.md beside the numbers.

    nice -n 10 /work/venv-ref/bin/python tools/reference/dit_bench_torch.py [--px 512 1024] [--iters 2]
"""
import argparse
import time

import torch
from diffusers import SanaTransformer2DModel

torch.set_num_threads(2)

CONFIGS = {
    "0.6B": dict(num_attention_heads=36, num_layers=28, num_cross_attention_heads=16, cross_attention_head_dim=72,
                 cross_attention_dim=1152),
    "1.6B": dict(num_attention_heads=70, num_layers=20, num_cross_attention_heads=20, cross_attention_head_dim=112,
                 cross_attention_dim=2240),
}


def forward_time(cfg, layers, px, dtype, iters):
    torch.manual_seed(0)
    m = SanaTransformer2DModel(**dict(cfg, num_layers=layers)).eval().to(dtype)
    hw = px // 32
    x = torch.randn(2, 32, hw, hw).to(dtype)
    y = torch.randn(2, 300, 2304).to(dtype)
    t = torch.tensor([500, 500])
    with torch.inference_mode():
        m(x, y, t, return_dict=False)  # warm-up
        best = float("inf")
        for _ in range(iters):
            t0 = time.perf_counter()
            m(x, y, t, return_dict=False)
            best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--px", type=int, nargs="+", default=[512])
    ap.add_argument("--models", nargs="+", default=["0.6B", "1.6B"])
    ap.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"])
    ap.add_argument("--iters", type=int, default=2)
    a = ap.parse_args()
    for name in a.models:
        cfg = CONFIGS[name]
        for px in a.px:
            for dn in a.dtypes:
                dtype = torch.float32 if dn == "fp32" else torch.bfloat16
                t1 = forward_time(cfg, 1, px, dtype, a.iters)
                t2 = forward_time(cfg, 2, px, dtype, a.iters)
                step = t1 + (cfg["num_layers"] - 1) * (t2 - t1)
                print(f"torch {name} {px}px {dn}: 1 block {t1:.3f} s, 2 blocks {t2:.3f} s -> "
                      f"step (depth {cfg['num_layers']}) {step:.2f} s", flush=True)


if __name__ == "__main__":
    main()
