#!/usr/bin/env python3
"""PyTorch CPU baseline for bench/dcae/bench_dcae.cpp: diffusers' AutoencoderDC decoder in the Sana
f32c32 configuration (random weights, fp32), decode of one latent on 2 threads.

    nice -n 10 /work/venv-ref/bin/python tools/reference/bench_dcae_torch.py [--size 512] [--iters 1]

Prints seconds per decode, GFLOP/s (same FLOP count as the C++ benchmark: 2 x the multiply-adds of
every convolution and of the attention core) and the process's peak RSS growth during the decode.
"""
import argparse
import resource
import time

import torch
from diffusers import AutoencoderDC

SANA_F32C32 = dict(
    in_channels=3, latent_channels=32, attention_head_dim=32,
    encoder_block_types=["ResBlock"] * 3 + ["EfficientViTBlock"] * 3,
    decoder_block_types=["ResBlock"] * 3 + ["EfficientViTBlock"] * 3,
    encoder_block_out_channels=[128, 256, 512, 512, 1024, 1024], decoder_block_out_channels=[128, 256, 512, 512, 1024, 1024],
    encoder_layers_per_block=[2, 2, 2, 3, 3, 3], decoder_layers_per_block=[3, 3, 3, 3, 3, 3],
    encoder_qkv_multiscales=[[], [], [], [5], [5], [5]], decoder_qkv_multiscales=[[], [], [], [5], [5], [5]],
    upsample_block_type="interpolate", downsample_block_type="Conv", decoder_norm_types="rms_norm",
    decoder_act_fns="silu", decoder_conv_act_fn="relu", scaling_factor=0.41407)


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--iters", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    vae = AutoencoderDC(**SANA_F32C32).eval()
    dec = vae.decoder
    lat = args.size // 32
    z = torch.randn(1, 32, lat, lat)
    # FLOPs from hooks on every conv / linear, plus the linear-attention core.
    macs = [0.0]

    def conv_hook(m, inp, out):
        macs[0] += m.weight.numel() * out.shape[0] * out.shape[2] * out.shape[3]

    def lin_hook(m, inp, out):
        macs[0] += m.weight.numel() * out.numel() / out.shape[-1]

    hooks = []
    for m in dec.modules():
        if isinstance(m, torch.nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(lin_hook))
    with torch.no_grad():
        dec(z)  # warm-up and FLOP count
    for h in hooks:
        h.remove()
    for blk in dec.modules():
        if blk.__class__.__name__ == "SanaMultiscaleLinearAttention":
            pass  # the attention core is added analytically below
    # attention core: per EfficientViT block, 2*heads groups x 2*(d+1)*d MACs per pixel
    size = lat
    for i in reversed(range(len(dec.up_blocks))):
        stage = dec.up_blocks[i]
        for m in stage:
            if m.__class__.__name__ == "DCUpBlock2d":
                size *= 2
            elif m.__class__.__name__ == "EfficientViTBlock":
                c = m.attn.to_q.weight.shape[0]
                d = m.attn.attention_head_dim
                groups = (1 + len(m.attn.to_qkv_multiscale)) * (c // d)
                macs[0] += groups * 2 * (d + 1) * d * size * size
    base = rss_mib()
    times = []
    with torch.no_grad():
        for _ in range(args.iters):
            t0 = time.perf_counter()
            dec(z)
            times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    t = min(times)
    print(f"pytorch {torch.__version__} decode {args.size}x{args.size}: {t:.3f} s  "
          f"{2 * macs[0] / t * 1e-9:.1f} GFLOP/s  ({2 * macs[0] * 1e-12:.3f} TFLOP)  "
          f"peak RSS {peak:.0f} MiB (model resident {base:.0f} MiB)")


if __name__ == "__main__":
    main()
