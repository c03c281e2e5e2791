"""Tiny random-weight Sana folder in the diffusers layout plus diffusers' pipeline outputs.

Regenerate (from the repository root):
    nice -n 10 /work/venv-ref/bin/python tools/reference/pipeline_fixtures.py

Writes tests/data/pipeline/tiny_sana/ (model_index.json, transformer/, vae/, text_encoder/, tokenizer/,
scheduler/; fp32, seeded) and tests/data/pipeline/outputs.safetensors with, for 2 prompts at 64x64:
  latents (2, 8, 16, 16)   initial latents handed to every pipeline call
  cfg     (2, 64, 64, 3)   SanaPipeline(output_type="np", use_resolution_binning=False), 4 steps, cfg 4.5
  pag     (2, 64, 64, 3)   SanaPAGPipeline, pag_applied_layers transformer_blocks.1, pag 3.0, cfg 4.5
and tests/data/pipeline/tiny_sana_sprint/ (the same VAE, text encoder and tokenizer; a Sprint transformer with
qk norms and the guidance embedder; SCMScheduler) with, from the same latents:
  sprint       (2, 64, 64, 3)    SanaSprintPipeline, 2 steps (angles 1.5708, 1.3, 0), embedded guidance 4.5
  step_noise (2, 2, 8, 16, 16) the noise SCMScheduler.step drew at each step (recorded, so we can feed it)
The tokenizer is the trained test tokenizer of the text fixtures (tests/data/text/tokenizer).
"""
import json
import os
import shutil

import torch
from safetensors.torch import save_file

torch.set_num_threads(2)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "tests", "data", "pipeline")
PROMPTS = ["A cat sleeping on a sunny windowsill", "a red fox in the snow"]
NEG = "blurry"


def spread(model, scale=1.0):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and p.dim() == 1:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))


def build(folder):
    from diffusers import AutoencoderDC, DPMSolverMultistepScheduler, SanaPipeline, SanaTransformer2DModel
    from transformers import AutoTokenizer, Gemma2Config, Gemma2Model

    torch.manual_seed(0)
    tr = SanaTransformer2DModel(in_channels=8, out_channels=8, num_attention_heads=2, attention_head_dim=8,
                                num_layers=2, num_cross_attention_heads=2, cross_attention_head_dim=8,
                                cross_attention_dim=16, caption_channels=32, mlp_ratio=2.5, sample_size=16,
                                patch_size=1).eval()
    spread(tr)
    torch.manual_seed(1)
    vae = AutoencoderDC(in_channels=3, latent_channels=8, attention_head_dim=8,
                        encoder_block_types=["ResBlock", "ResBlock", "EfficientViTBlock"],
                        decoder_block_types=["ResBlock", "ResBlock", "EfficientViTBlock"],
                        encoder_block_out_channels=[8, 16, 16], decoder_block_out_channels=[8, 16, 16],
                        encoder_layers_per_block=[1, 1, 1], decoder_layers_per_block=[1, 1, 1],
                        encoder_qkv_multiscales=[[], [], [5]], decoder_qkv_multiscales=[[], [], [5]],
                        upsample_block_type="interpolate", downsample_block_type="conv",
                        decoder_norm_types="rms_norm", decoder_act_fns="silu", scaling_factor=0.41407).eval()
    torch.manual_seed(2)
    cfg = Gemma2Config(attn_implementation="eager", hidden_size=32, intermediate_size=64, num_attention_heads=4,
                       num_key_value_heads=2, head_dim=8, num_hidden_layers=2, sliding_window=4, vocab_size=700,
                       query_pre_attn_scalar=16, attn_logit_softcapping=2.0)
    te = Gemma2Model(cfg).eval()
    with torch.no_grad():
        for name, p in te.named_parameters():
            if "norm" in name:
                p.copy_(torch.randn_like(p) * 0.3)
            elif "embed" in name:
                p.copy_(torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) * (1.5 / p.shape[1] ** 0.5))
    tok = AutoTokenizer.from_pretrained(os.path.join(ROOT, "tests", "data", "text", "tokenizer"))
    sch = DPMSolverMultistepScheduler(num_train_timesteps=1000, beta_schedule="linear", prediction_type="flow_prediction",
                                      use_flow_sigmas=True, flow_shift=3.0, solver_order=2,
                                      algorithm_type="dpmsolver++", final_sigmas_type="zero")
    pipe = SanaPipeline(tokenizer=tok, text_encoder=te, vae=vae, transformer=tr, scheduler=sch)
    if os.path.exists(folder):
        shutil.rmtree(folder)
    pipe.save_pretrained(folder, safe_serialization=True)
    # The SentencePiece files as the hub ships them (save_pretrained writes only tokenizer.json).
    shutil.rmtree(os.path.join(folder, "tokenizer"))
    shutil.copytree(os.path.join(ROOT, "tests", "data", "text", "tokenizer"), os.path.join(folder, "tokenizer"))
    return pipe


def build_sprint(folder, base):
    from diffusers import SanaSprintPipeline, SanaTransformer2DModel, SCMScheduler

    torch.manual_seed(3)
    tr = SanaTransformer2DModel(in_channels=8, out_channels=8, num_attention_heads=2, attention_head_dim=8,
                                num_layers=2, num_cross_attention_heads=2, cross_attention_head_dim=8,
                                cross_attention_dim=16, caption_channels=32, mlp_ratio=2.5, sample_size=16,
                                patch_size=1, qk_norm="rms_norm_across_heads", guidance_embeds=True).eval()
    spread(tr)
    pipe = SanaSprintPipeline(tokenizer=base.tokenizer, text_encoder=base.text_encoder, vae=base.vae, transformer=tr,
                              scheduler=SCMScheduler())
    if os.path.exists(folder):
        shutil.rmtree(folder)
    pipe.save_pretrained(folder, safe_serialization=True)
    shutil.rmtree(os.path.join(folder, "tokenizer"))
    shutil.copytree(os.path.join(ROOT, "tests", "data", "text", "tokenizer"), os.path.join(folder, "tokenizer"))
    return pipe


def run_sprint(pipe, latents):
    """SanaSprintPipeline from `latents`, recording the per-step noise SCMScheduler draws."""
    import diffusers.schedulers.scheduling_scm as scm

    drawn, original = [], scm.randn_tensor

    def recording(*args, **kwargs):
        t = original(*args, **kwargs)
        drawn.append(t.clone())
        return t

    scm.randn_tensor = recording
    try:
        images = pipe(PROMPTS, num_inference_steps=2, guidance_scale=4.5, height=64, width=64,
                      latents=latents.clone(), output_type="np", use_resolution_binning=False,
                      generator=torch.Generator().manual_seed(5)).images
    finally:
        scm.randn_tensor = original
    return images, torch.stack(drawn)


def main():
    from diffusers import SanaPAGPipeline

    os.makedirs(OUT, exist_ok=True)
    folder = os.path.join(OUT, "tiny_sana")
    pipe = build(folder)
    g = torch.Generator().manual_seed(42)
    latents = torch.randn(2, 8, 16, 16, generator=g)
    common = dict(negative_prompt=NEG, num_inference_steps=4, guidance_scale=4.5, height=64, width=64,
                  latents=latents.clone(), output_type="np", use_resolution_binning=False)
    with torch.no_grad():
        cfg = pipe(PROMPTS, **common).images
        pag_pipe = SanaPAGPipeline(tokenizer=pipe.tokenizer, text_encoder=pipe.text_encoder, vae=pipe.vae,
                                   transformer=pipe.transformer, scheduler=pipe.scheduler,
                                   pag_applied_layers=["transformer_blocks.1"])
        common["latents"] = latents.clone()
        pag = pag_pipe(PROMPTS, pag_scale=3.0, **common).images
        sprint, step_noise = run_sprint(build_sprint(os.path.join(OUT, "tiny_sana_sprint"), pipe), latents)
    save_file({"latents": latents.contiguous(), "cfg": torch.from_numpy(cfg).float().contiguous(),
               "pag": torch.from_numpy(pag).float().contiguous(),
               "sprint": torch.from_numpy(sprint).float().contiguous(), "step_noise": step_noise.contiguous()},
              os.path.join(OUT, "outputs.safetensors"),
              metadata={"prompts": json.dumps(PROMPTS), "negative_prompt": NEG, "steps": "4", "guidance_scale": "4.5",
                        "pag_scale": "3.0", "pag_blocks": "1", "sprint_steps": "2"})
    print("cfg range", cfg.min(), cfg.max(), "pag-cfg max diff", abs(pag - cfg).max(), "sprint range", sprint.min(),
          sprint.max(), "noise", tuple(step_noise.shape))


if __name__ == "__main__":
    main()
