"""PyTorch CPU baseline for bench/text/bench_gemma2.cpp: the same two Gemma-2-2B layers (hidden 2304, 8/4 heads of
256, MLP 9216, 1000-row embedding), eager attention, random weights, batch 1, over 300 and 500 tokens, fp32 and bf16.

    nice -n 10 /work/venv-ref/bin/python tools/reference/bench_gemma2_cpu.py [--threads 2] [--repeats 3]

Prints the median forward time and GFLOP/s with the FLOP count the C++ benchmark uses.
"""
import argparse
import statistics
import time

import torch
from transformers import Gemma2Config, Gemma2Model


def layer_flops(c, t):
    q, kv = c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim
    return 2.0 * t * c.hidden_size * (2 * q + 2 * kv) + 2.0 * t * 3 * c.hidden_size * c.intermediate_size + 4.0 * t * t * q


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = Gemma2Config(vocab_size=1000, hidden_size=2304, intermediate_size=9216, num_hidden_layers=2,
                       num_attention_heads=8, num_key_value_heads=4, head_dim=256, query_pre_attn_scalar=256,
                       attn_logit_softcapping=50.0, sliding_window=4096, attn_implementation="eager")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, attn {cfg._attn_implementation}")
    for dtype in (torch.float32, torch.bfloat16):
        model = Gemma2Model(cfg).eval().to(dtype)
        for t in (300, 500):
            ids = (torch.arange(t) * 37 % 990 + 4).unsqueeze(0)
            ids[0, 0] = 2
            mask = torch.ones_like(ids)
            with torch.inference_mode():
                model(input_ids=ids, attention_mask=mask)
                times = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    model(input_ids=ids, attention_mask=mask)
                    times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            gflops = cfg.num_hidden_layers * layer_flops(cfg, t) / med * 1e-9
            print(f"{str(dtype):15s} T={t}: {med * 1e3:8.1f} ms for 2 layers, {gflops:6.1f} GFLOP/s, "
                  f"26 layers ~ {med * 13:.2f} s")
        del model


if __name__ == "__main__":
    main()
