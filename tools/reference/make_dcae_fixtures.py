#!/usr/bin/env python3
"""DC-AE parity fixtures from diffusers' AutoencoderDC (fp32, CPU, seeded).

Regenerate (from the repository root):
    nice -n 10 /work/venv-ref/bin/python tools/reference/make_dcae_fixtures.py
Writes tests/data/dcae/<name>/{config.json, model.safetensors, io.safetensors}:
  model.safetensors  the state dict with diffusers key names
  io.safetensors     'sample' (image in), 'latent' (= encode(sample)), 'decoded' (= decode(latent)) and, where
                     tiling is exercised (evit3 also has 'small_latent' / 'small_decoded'), 'tiled_latent_in', 'tiled_decoded', 'tiled_sample_in', 'tiled_latent'
                     plus the tiling parameters as metadata.
Configs: 'diffusers_test' (the diffusers model test, §7.2 of the spec), 'evit3' (3 stages, EfficientViT blocks at
head dim 32, tiny maps take the quadratic attention), 'lite_pixel' (lite-style decoder with no stage-0 blocks,
pixel_shuffle / pixel_unshuffle, batch-norm + ReLU stage, SiLU output activation).
"""
import json
import os

import torch
from diffusers import AutoencoderDC
from safetensors.torch import save_file

torch.set_num_threads(2)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "dcae")

CONFIGS = {
    "diffusers_test": dict(
        in_channels=3, latent_channels=4, attention_head_dim=2,
        encoder_block_types=("ResBlock", "EfficientViTBlock"), decoder_block_types=("ResBlock", "EfficientViTBlock"),
        encoder_block_out_channels=(8, 8), decoder_block_out_channels=(8, 8),
        encoder_qkv_multiscales=((), (5,)), decoder_qkv_multiscales=((), (5,)),
        encoder_layers_per_block=(1, 1), decoder_layers_per_block=[1, 1],
        downsample_block_type="conv", upsample_block_type="interpolate",
        decoder_norm_types="rms_norm", decoder_act_fns="silu", scaling_factor=0.41407),
    "evit3": dict(
        in_channels=3, latent_channels=8, attention_head_dim=32,
        encoder_block_types=("ResBlock", "EfficientViTBlock", "EfficientViTBlock"),
        decoder_block_types=("ResBlock", "EfficientViTBlock", "EfficientViTBlock"),
        encoder_block_out_channels=(16, 32, 64), decoder_block_out_channels=(16, 32, 64),
        encoder_qkv_multiscales=((), (5,), (5,)), decoder_qkv_multiscales=((), (5,), (5,)),
        encoder_layers_per_block=(1, 1, 2), decoder_layers_per_block=(1, 2, 2),
        downsample_block_type="conv", upsample_block_type="interpolate",
        decoder_norm_types="rms_norm", decoder_act_fns="silu", scaling_factor=0.41407),
    "lite_pixel": dict(
        in_channels=3, latent_channels=8, attention_head_dim=8,
        encoder_block_types=("ResBlock", "ResBlock", "EfficientViTBlock"),
        decoder_block_types=("ResBlock", "ResBlock", "EfficientViTBlock"),
        encoder_block_out_channels=(8, 16, 16), decoder_block_out_channels=(8, 16, 16),
        encoder_qkv_multiscales=((), (), (3,)), decoder_qkv_multiscales=((), (), (3,)),
        encoder_layers_per_block=(0, 1, 1), decoder_layers_per_block=(0, 2, 1),
        downsample_block_type="pixel_unshuffle", upsample_block_type="pixel_shuffle",
        decoder_norm_types=("batch_norm", "batch_norm", "rms_norm"), decoder_act_fns=("relu", "relu", "silu"),
        decoder_conv_act_fn="silu", scaling_factor=0.5),
}


def randomize(model, seed):
    """Non-trivial norm parameters and batch-norm statistics (defaults are ones/zeros)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5 + (1.0 if name.endswith("weight") else 0.0))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.3)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)


def write(name, cfg, sample_shape, tiling=None):
    out = os.path.join(ROOT, name)
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    model = AutoencoderDC(**cfg).eval()
    randomize(model, 1)
    state = {k: v.contiguous() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    save_file(state, os.path.join(out, "model.safetensors"))
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(dict(model.config), f, indent=1, default=list)
    g = torch.Generator().manual_seed(0)
    io = {}
    meta = {}
    with torch.no_grad():
        io["sample"] = torch.randn(sample_shape, generator=g)
        io["latent"] = model.encode(io["sample"]).latent
        io["decoded"] = model.decode(io["latent"]).sample
        if name == "evit3":  # a 4x6 latent: the stage-2 maps (24 pixels <= head dim 32) take the quadratic attention
            io["small_latent"] = torch.randn((1, cfg["latent_channels"], 4, 6), generator=g)
            io["small_decoded"] = model.decode(io["small_latent"]).sample
        if tiling:
            tmin, tstride, latent_hw, sample_hw = tiling
            model.enable_tiling(tile_sample_min_height=tmin, tile_sample_min_width=tmin,
                                tile_sample_stride_height=tstride, tile_sample_stride_width=tstride)
            io["tiled_latent_in"] = torch.randn((1, cfg["latent_channels"]) + latent_hw, generator=g)
            io["tiled_decoded"] = model.decode(io["tiled_latent_in"]).sample
            io["tiled_sample_in"] = torch.randn((1, 3) + sample_hw, generator=g)
            io["tiled_latent"] = model.encode(io["tiled_sample_in"]).latent
            meta = {"tile_sample_min": str(tmin), "tile_sample_stride": str(tstride)}
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(out, "io.safetensors"), metadata=meta)
    print(name, {k: tuple(v.shape) for k, v in io.items()})


write("diffusers_test", CONFIGS["diffusers_test"], (2, 3, 32, 32), tiling=(16, 12, (20, 22), (40, 44)))
write("evit3", CONFIGS["evit3"], (1, 3, 32, 24))
write("lite_pixel", CONFIGS["lite_pixel"], (2, 3, 16, 20))
