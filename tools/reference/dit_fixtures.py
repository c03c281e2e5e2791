#!/usr/bin/env python3
"""Parity fixtures for sana::dit::SanaTransformer (issue 4), written from diffusers' SanaTransformer2DModel.

Regenerate (CPU, deterministic, ~1 min):
    nice -n 10 /work/venv-ref/bin/python tools/reference/dit_fixtures.py --out tests/data/dit
Only the qk-norm PAG case (from the committed qk_norm model, leaving every other fixture as it is):
    nice -n 10 /work/venv-ref/bin/python tools/reference/dit_fixtures.py --qk-norm-pag --out tests/data/dit
Extra, uncommitted check for the component runner (a config that is in no fixture):
    nice -n 10 /work/venv-ref/bin/python tools/reference/dit_fixtures.py --runner-check /tmp/dit_runner_check

Layout: <out>/<model>/transformer/{config.json, diffusion_pytorch_model*.safetensors[, index json]} written by
diffusers' save_pretrained, and <out>/<model>/<case>.safetensors holding the inputs
    hidden_states (B, Cin, h, w) f32, encoder_hidden_states (B, L, caption) f32, timestep (B) f32,
    [guidance (B) f32], [encoder_attention_mask (B, L) f32 of 0/1]
and the outputs
    output (B, Cout, h, w) f32            diffusers in fp32 (weights as stored, upcast to fp32)
    output_bf16 (B, Cout, h, w) f32       diffusers with the model and inputs cast to bf16
    bf16_rel_l2 (1) f32                   ||output_bf16 - output|| / ||output||
Metadata "pag_blocks": comma-separated block indices whose self-attention uses diffusers'
PAGIdentitySanaLinearAttnProcessor2_0 (the second half of the batch is the perturbed branch).
qk_norm/original.safetensors holds the same weights under the NVlabs .pth key names (fused qkv / kv_linear).
"""
import argparse
import copy
import json
import os
import shutil

import torch
from safetensors.torch import save_file
from diffusers import SanaTransformer2DModel
from diffusers.models.attention_processor import PAGIdentitySanaLinearAttnProcessor2_0

torch.set_num_threads(2)


def make_model(seed, **cfg):
    torch.manual_seed(seed)
    m = SanaTransformer2DModel(**cfg).eval()
    with torch.no_grad():  # RMSNorm weights start at 1; perturb them so the test sees them
        for name, p in m.named_parameters():
            if name.endswith("norm.weight") or ".norm_q." in name or ".norm_k." in name:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
    return m


def rel_l2(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm())


def run(model, inputs, dtype, pag_blocks=()):
    m = copy.deepcopy(model).to(dtype)  # never round the caller's weights
    for i, blk in enumerate(m.transformer_blocks):
        blk.attn1.set_processor(PAGIdentitySanaLinearAttnProcessor2_0() if i in pag_blocks
                                else type(blk.attn1.processor)())
    kw = dict(hidden_states=inputs["hidden_states"].to(dtype),
              encoder_hidden_states=inputs["encoder_hidden_states"].to(dtype),
              timestep=inputs["timestep"], return_dict=False)
    if "guidance" in inputs:
        kw["guidance"] = inputs["guidance"]
    if "encoder_attention_mask" in inputs:
        kw["encoder_attention_mask"] = inputs["encoder_attention_mask"]
    with torch.no_grad():
        out = m(**kw)[0].float()
    return out


def write_case(model, path, inputs, pag_blocks=()):
    out = run(model, inputs, torch.float32, pag_blocks)
    out16 = run(model, inputs, torch.bfloat16, pag_blocks)
    tensors = {k: v.float().contiguous() for k, v in inputs.items()}
    tensors["output"] = out.contiguous()
    tensors["output_bf16"] = out16.contiguous()
    tensors["bf16_rel_l2"] = torch.tensor([rel_l2(out16, out)])
    save_file(tensors, path, metadata={"pag_blocks": ",".join(map(str, pag_blocks))})
    print(f"{path}: out {tuple(out.shape)}, diffusers bf16 vs fp32 rel L2 {rel_l2(out16, out):.3e}")


def save_model(model, folder, weight_dtype=torch.float32, shard=None):
    if os.path.exists(folder):
        shutil.rmtree(folder)
    kw = {"safe_serialization": True}
    if shard:
        kw["max_shard_size"] = shard
    model.to(weight_dtype).save_pretrained(folder, **kw)
    model.to(torch.float32)
    # The fixture's reference output uses the weights exactly as stored.
    if weight_dtype != torch.float32:
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(weight_dtype).float())


def inputs_for(model, seed, b, h, w, L, mask_valid=None, flow_time=False, guidance=False):
    cfg = model.config
    g = torch.Generator("cpu").manual_seed(seed)
    d = {"hidden_states": torch.randn(b, cfg.in_channels, h, w, generator=g),
         "encoder_hidden_states": torch.randn(b, L, cfg.caption_channels, generator=g)}
    if flow_time:
        d["timestep"] = torch.rand(b, generator=g) * 1.5  # Sprint: TrigFlow time in [0, pi/2]
    else:
        d["timestep"] = torch.randint(0, 1000, (b,), generator=g).float()
    if guidance:
        d["guidance"] = torch.full((b,), 4.5 * 0.1).to(torch.bfloat16).float()
    if mask_valid is not None:
        m = torch.zeros(b, L)
        for i, n in enumerate(mask_valid):
            m[i, :n] = 1.0
        d["encoder_attention_mask"] = m
    return d


SMALL = dict(in_channels=32, out_channels=32, num_attention_heads=2, attention_head_dim=32, num_layers=2,
             num_cross_attention_heads=4, cross_attention_head_dim=16, cross_attention_dim=64, caption_channels=40,
             sample_size=8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/data/dit")
    ap.add_argument("--runner-check", default=None)
    ap.add_argument("--qk-norm-pag", action="store_true")
    a = ap.parse_args()

    if a.qk_norm_pag:
        # diffusers' PAG processors on a qk-norm model: they skip norm_q/norm_k in the PAG block (all branches).
        m = SanaTransformer2DModel.from_pretrained(f"{a.out}/qk_norm/transformer", torch_dtype=torch.float32).eval()
        pag_in = inputs_for(m, 12, 1, 4, 6, 12)
        pag_in = {k: torch.cat([v, v]) for k, v in pag_in.items()}  # [cond, cond_perturbed]
        write_case(m, f"{a.out}/qk_norm/pag.safetensors", pag_in, pag_blocks=(0,))
        return

    if a.runner_check:
        # Not a fixture: 0.6B-like head structure at a toy width, fp16 weights, 3 layers, qk norm, PAG off.
        cfg = dict(SMALL, num_layers=3, num_attention_heads=3, cross_attention_dim=96, num_cross_attention_heads=2,
                   cross_attention_head_dim=48, caption_channels=24, qk_norm="rms_norm_across_heads")
        m = make_model(7, **cfg)
        save_model(m, os.path.join(a.runner_check, "transformer"), torch.float16)
        write_case(m, os.path.join(a.runner_check, "case.safetensors"),
                   inputs_for(m, 8, 2, 5, 7, 9, mask_valid=[9, 3]))
        return

    out = a.out
    os.makedirs(out, exist_ok=True)

    # 1. diffusers' own model-test config (tests/models/transformers/test_models_transformer_sana.py).
    m = make_model(0, patch_size=1, in_channels=4, out_channels=4, num_layers=1, attention_head_dim=4,
                   num_attention_heads=2, num_cross_attention_heads=2, cross_attention_head_dim=4,
                   cross_attention_dim=8, caption_channels=8, sample_size=32)
    save_model(m, f"{out}/diffusers_test/transformer")
    g = lambda: torch.Generator("cpu").manual_seed(0)
    write_case(m, f"{out}/diffusers_test/case.safetensors",
               {"hidden_states": torch.randn(2, 4, 32, 32, generator=g()),
                "encoder_hidden_states": torch.randn(2, 8, 8, generator=g()),
                "timestep": torch.randint(0, 1000, (2,), generator=g()).float()})

    # 2. Small model with the real head dim 32 and a separate cross-attention head structure; sharded fp32.
    m = make_model(1, **SMALL)
    save_model(m, f"{out}/small/transformer", shard="200KB")
    write_case(m, f"{out}/small/square.safetensors", inputs_for(m, 2, 2, 8, 8, 12))
    write_case(m, f"{out}/small/nonsquare.safetensors", inputs_for(m, 3, 2, 5, 11, 12))
    write_case(m, f"{out}/small/mask.safetensors", inputs_for(m, 4, 3, 6, 6, 12, mask_valid=[12, 5, 1]))
    pag_in = inputs_for(m, 5, 1, 6, 6, 12)
    pag_in = {k: torch.cat([v, v]) for k, v in pag_in.items()}  # [cond, cond_perturbed]
    write_case(m, f"{out}/small/pag.safetensors", pag_in, pag_blocks=(1,))

    # 3. Sana 1.5: qk RMSNorm across heads in self and cross attention; bf16 weights; NVlabs key names too.
    m = make_model(6, **dict(SMALL, num_layers=1, qk_norm="rms_norm_across_heads"))
    save_model(m, f"{out}/qk_norm/transformer", torch.bfloat16)
    write_case(m, f"{out}/qk_norm/case.safetensors", inputs_for(m, 7, 2, 4, 6, 12, mask_valid=[12, 7]))
    sd = {k: v.to(torch.bfloat16) for k, v in m.state_dict().items()}
    save_file(to_original(sd), f"{out}/qk_norm/original.safetensors")

    # 4. Sana-Sprint: qk norm + guidance embedder, flow-time input; fp16 weights.
    m = make_model(8, **dict(SMALL, num_layers=1, qk_norm="rms_norm_across_heads", guidance_embeds=True))
    save_model(m, f"{out}/sprint/transformer", torch.float16)
    write_case(m, f"{out}/sprint/case.safetensors", inputs_for(m, 9, 2, 4, 4, 12, flow_time=True, guidance=True))

    # 5. 2K/4K-style sincos positional embedding with interpolation (4K uses 2.0), at a grid != the base grid.
    m = make_model(10, **dict(SMALL, num_layers=1, sample_size=4, interpolation_scale=2.0))
    save_model(m, f"{out}/pos_embed/transformer")
    write_case(m, f"{out}/pos_embed/case.safetensors", inputs_for(m, 11, 2, 6, 4, 12))


def to_original(sd):
    """diffusers keys -> NVlabs Sana .pth keys (inverse of diffusers' convert_sana_to_diffusers.py)."""
    o = {}
    ren = {"patch_embed.proj.": "x_embedder.proj.", "caption_projection.linear_1.": "y_embedder.y_proj.fc1.",
           "caption_projection.linear_2.": "y_embedder.y_proj.fc2.",
           "time_embed.emb.timestep_embedder.linear_1.": "t_embedder.mlp.0.",
           "time_embed.emb.timestep_embedder.linear_2.": "t_embedder.mlp.2.",
           "time_embed.linear.": "t_block.1.", "caption_norm.weight": "attention_y_norm.weight",
           "proj_out.": "final_layer.linear.", "scale_shift_table": "final_layer.scale_shift_table"}
    blocks = {}
    for k, v in sd.items():
        if k.startswith("transformer_blocks."):
            _, i, rest = k.split(".", 2)
            blocks.setdefault(int(i), {})[rest] = v
            continue
        for a, b in ren.items():
            if k.startswith(a):
                o[b + k[len(a):]] = v
                break
        else:
            raise KeyError(k)
    for i, p in blocks.items():
        q = f"blocks.{i}."
        o[q + "scale_shift_table"] = p["scale_shift_table"]
        o[q + "attn.qkv.weight"] = torch.cat([p["attn1.to_q.weight"], p["attn1.to_k.weight"], p["attn1.to_v.weight"]])
        o[q + "attn.proj.weight"] = p["attn1.to_out.0.weight"]
        o[q + "attn.proj.bias"] = p["attn1.to_out.0.bias"]
        o[q + "cross_attn.q_linear.weight"] = p["attn2.to_q.weight"]
        o[q + "cross_attn.q_linear.bias"] = p["attn2.to_q.bias"]
        o[q + "cross_attn.kv_linear.weight"] = torch.cat([p["attn2.to_k.weight"], p["attn2.to_v.weight"]])
        o[q + "cross_attn.kv_linear.bias"] = torch.cat([p["attn2.to_k.bias"], p["attn2.to_v.bias"]])
        o[q + "cross_attn.proj.weight"] = p["attn2.to_out.0.weight"]
        o[q + "cross_attn.proj.bias"] = p["attn2.to_out.0.bias"]
        for n in ("norm_q", "norm_k"):
            if f"attn1.{n}.weight" in p:
                o[q + f"attn.{n[-1]}_norm.weight"] = p[f"attn1.{n}.weight"]
                o[q + f"cross_attn.{n[-1]}_norm.weight"] = p[f"attn2.{n}.weight"]
        for a, b in (("conv_inverted", "inverted_conv"), ("conv_depth", "depth_conv")):
            o[q + f"mlp.{b}.conv.weight"] = p[f"ff.{a}.weight"]
            o[q + f"mlp.{b}.conv.bias"] = p[f"ff.{a}.bias"]
        o[q + "mlp.point_conv.conv.weight"] = p["ff.conv_point.weight"]
    return {k: v.contiguous() for k, v in o.items()}


if __name__ == "__main__":
    main()
