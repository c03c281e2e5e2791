#!/usr/bin/env python3
"""LoRA parity fixtures for sana::dit::MergedLoras (issue 17), written with peft + diffusers on the committed
tiny transformer tests/data/dit/small/transformer.

Regenerate (CPU, deterministic, a few seconds; needs peft in the reference venv):
    PYTHONHASHSEED=0 nice -n 10 /work/venv-ref/bin/python tools/reference/lora_fixtures.py --out tests/data/lora
(PEFT keeps target_modules as a set: without a fixed hash seed the metadata lists them in another order.)

Files:
  meta.safetensors    SanaPipeline.save_lora_weights with transformer_lora_adapter_metadata (r=4, lora_alpha=8:
                      scale 2) on self/cross-attention q/k/v/out, the Mix-FFN 1x1 convs, proj_out,
                      caption_projection.linear_1 and time_embed.linear
  plain.safetensors   the same writer without metadata, ranks 2 and 6 mixed (diffusers infers rank_pattern and
                      alpha = rank per module: scale 1) and lora_B biases (lora_bias=True) on the layers with a bias
  kohya.safetensors   kohya-ss names (lora_unet_<module with _>.lora_down/lora_up/alpha), alpha 3 at rank 4
  peft/adapter_model.safetensors + adapter_config.json   PEFT's save_pretrained (base_model.model. keys)
  tiny_sana.safetensors  a rank-2 LoRA on q/k/v for tests/data/pipeline/tiny_sana (the CLI tests)
  case.safetensors    inputs hidden_states, encoder_hidden_states, timestep and outputs (f32, diffusers fp32):
                      out_base, out_meta (meta at 1.0), out_mix (meta 0.7 + plain -0.5), out_kohya (kohya 1.0),
                      out_peft (peft 1.0); unfused PEFT layers (set_adapters), which equals merging to ~1e-6
"""
import argparse
import copy
import json
import os
import shutil

import torch
from safetensors.torch import save_file
from diffusers import SanaPipeline, SanaTransformer2DModel
from peft import LoraConfig, get_peft_model, get_peft_model_state_dict

torch.set_num_threads(2)
TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "conv_inverted", "conv_point", "proj_out",
           "caption_projection.linear_1", "time_embed.linear"]
PLAIN_TARGETS = r".*(attn2\.to_[qkv]|to_out\.0|conv_inverted|proj_out|caption_projection\.linear_1|time_embed\.linear)$"


def randomise_lora(model, seed, std=0.05):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # peft starts lora_B at zero; make both factors random so the update is visible
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=g) * std)


def with_lora(base, config, seed, adapter="default"):
    m = copy.deepcopy(base)
    m.add_adapter(config, adapter_name=adapter)
    randomise_lora(m, seed)
    return m


def forward(model, inputs):
    with torch.no_grad():
        return model(hidden_states=inputs["hidden_states"], encoder_hidden_states=inputs["encoder_hidden_states"],
                     timestep=inputs["timestep"], return_dict=False)[0].float().contiguous()


def kohya_file(base, path, rank=4, alpha=3.0, seed=31):
    """kohya-ss names for every Linear / 1x1 conv in TARGETS, and the reference merged by hand."""
    g = torch.Generator().manual_seed(seed)
    tensors, merged = {}, copy.deepcopy(base)
    mods = dict(merged.named_modules())
    for name, mod in list(mods.items()):
        if not any(name == t or name.endswith("." + t) for t in TARGETS):
            continue
        w = mod.weight
        down = torch.randn((rank,) + tuple(w.shape[1:]), generator=g) * 0.05
        up = torch.randn((w.shape[0], rank) + ((1, 1) if w.dim() == 4 else ()), generator=g) * 0.05
        k = "lora_unet_" + name.replace(".", "_")
        tensors[k + ".lora_down.weight"] = down.contiguous()
        tensors[k + ".lora_up.weight"] = up.contiguous()
        tensors[k + ".alpha"] = torch.tensor(alpha)
        with torch.no_grad():
            w += (alpha / rank) * (up.flatten(1) @ down.flatten(1)).reshape(w.shape)
    save_file(tensors, path)
    return merged


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--base", default=os.path.join(os.path.dirname(__file__), "../../tests/data/dit/small/transformer"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    base = SanaTransformer2DModel.from_pretrained(a.base).eval()

    meta_cfg = LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS, init_lora_weights=False)
    meta = with_lora(base, meta_cfg, 11)
    SanaPipeline.save_lora_weights(a.out, transformer_lora_layers=get_peft_model_state_dict(meta),
                                   weight_name="meta.safetensors", transformer_lora_adapter_metadata=meta_cfg.to_dict())

    # lora_bias needs a bias to add to: only the layers that have one (not attn1's q/k/v, not conv_point).
    plain_cfg = LoraConfig(r=2, lora_alpha=2, target_modules=PLAIN_TARGETS, rank_pattern={"to_v": 6, "conv_inverted": 6},
                           alpha_pattern={"to_v": 6, "conv_inverted": 6}, lora_bias=True, init_lora_weights=False)
    plain = with_lora(base, plain_cfg, 12)
    SanaPipeline.save_lora_weights(a.out, transformer_lora_layers=get_peft_model_state_dict(plain),
                                   weight_name="plain.safetensors")

    peft_dir = os.path.join(a.out, "peft")
    shutil.rmtree(peft_dir, ignore_errors=True)
    peft_cfg = LoraConfig(r=3, lora_alpha=5, target_modules=["to_q", "to_k", "to_v"], use_rslora=True,
                          init_lora_weights=False)
    peft_model = get_peft_model(copy.deepcopy(base), peft_cfg)
    randomise_lora(peft_model, 13)
    peft_model.save_pretrained(peft_dir)

    # A LoRA for the CLI tests' pipeline folder (tests/data/pipeline/tiny_sana).
    tiny = SanaTransformer2DModel.from_pretrained(os.path.join(os.path.dirname(a.base), "../../pipeline/tiny_sana/transformer"))
    tiny_cfg = LoraConfig(r=2, lora_alpha=2, target_modules=["to_q", "to_k", "to_v"], init_lora_weights=False)
    SanaPipeline.save_lora_weights(a.out, transformer_lora_layers=get_peft_model_state_dict(with_lora(tiny, tiny_cfg, 14)),
                                   weight_name="tiny_sana.safetensors", transformer_lora_adapter_metadata=tiny_cfg.to_dict())

    g = torch.Generator().manual_seed(5)
    cfg = base.config
    inputs = {"hidden_states": torch.randn(2, cfg.in_channels, 4, 6, generator=g),
              "encoder_hidden_states": torch.randn(2, 5, cfg.caption_channels, generator=g),
              "timestep": torch.tensor([999.0, 250.0])}
    out = {k: v.contiguous() for k, v in inputs.items()}
    out["out_base"] = forward(base, inputs)

    loaded = copy.deepcopy(base)
    # Folder + weight_name, as load_lora_weights(dir) after save_lora_weights(dir): diffusers 0.42.1 reads the
    # lora_adapter_metadata only on this path (given the file's own path it drops it and takes alpha = rank).
    loaded.load_lora_adapter(a.out, weight_name="meta.safetensors", prefix="transformer", adapter_name="meta")
    loaded.load_lora_adapter(a.out, weight_name="plain.safetensors", prefix="transformer", adapter_name="plain")
    loaded.set_adapters(["meta"], [1.0])
    out["out_meta"] = forward(loaded, inputs)
    loaded.set_adapters(["meta", "plain"], [0.7, -0.5])
    out["out_mix"] = forward(loaded, inputs)
    out["out_kohya"] = forward(kohya_file(base, os.path.join(a.out, "kohya.safetensors")), inputs)
    out["out_peft"] = forward(peft_model, inputs)
    save_file(out, os.path.join(a.out, "case.safetensors"))
    for k in ("out_meta", "out_mix", "out_kohya", "out_peft"):
        d = float((out[k] - out["out_base"]).norm() / out["out_base"].norm())
        print(f"{k}: relative change from the base model {d:.3e}")


if __name__ == "__main__":
    main()
