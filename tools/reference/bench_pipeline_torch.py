#!/usr/bin/env python3
"""PyTorch CPU baseline for bench/pipeline/bench_pipeline: diffusers' SanaPipeline, prompt to pixels, with random
weights at the real 0.6B / 1.6B transformer shapes, the DC-AE f32c32 decoder and a Gemma-2-2B of --text-layers
layers (the same reduced depth our run uses), 2 threads, same size / steps / CFG / dtype. Stage times come from
wrapping the pipeline's own calls (encode_prompt, the transformer, vae.decode).

    nice -n 10 /work/venv-ref/bin/python tools/reference/bench_pipeline_torch.py --model 0.6B --size 512 --steps 2 \\
        --text-layers 2 --dtype bf16

--save DIR writes those random weights as a diffusers folder; --folder DIR times from_pretrained(DIR) instead, the
way users load a checkpoint (its peak RSS includes loading from memory-mapped safetensors).
"""
import argparse
import json
import os
import resource
import shutil
import time

import torch
from diffusers import AutoencoderDC, DPMSolverMultistepScheduler, SanaPipeline, SanaTransformer2DModel
from transformers import AutoTokenizer, Gemma2Config, Gemma2Model

torch.set_num_threads(2)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DIT = {
    "0.6B": dict(num_attention_heads=36, num_layers=28, num_cross_attention_heads=16, cross_attention_head_dim=72,
                 cross_attention_dim=1152),
    "1.6B": dict(num_attention_heads=70, num_layers=20, num_cross_attention_heads=20, cross_attention_head_dim=112,
                 cross_attention_dim=2240),
}
VAE = dict(latent_channels=32, encoder_block_types=("ResBlock",) * 3 + ("EfficientViTBlock",) * 3,
           decoder_block_types=("ResBlock",) * 3 + ("EfficientViTBlock",) * 3,
           encoder_block_out_channels=(128, 256, 512, 512, 1024, 1024),
           decoder_block_out_channels=(128, 256, 512, 512, 1024, 1024),
           encoder_qkv_multiscales=((), (), (), (5,), (5,), (5,)), decoder_qkv_multiscales=((), (), (), (5,), (5,), (5,)),
           encoder_layers_per_block=(2, 2, 2, 3, 3, 3), decoder_layers_per_block=(3, 3, 3, 3, 3, 3),
           downsample_block_type="conv", upsample_block_type="interpolate", decoder_norm_types="rms_norm",
           decoder_act_fns="silu", scaling_factor=0.41407)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="0.6B")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--text-layers", type=int, default=2)
    ap.add_argument("--dtype", default="bf16")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="also write the stage times and the peak RSS (load included) as JSON")
    ap.add_argument("--save", metavar="DIR", help="write the random-weight pipeline as a diffusers folder (in --dtype) "
                    "and exit; bench_pipeline --model DIR and this script's --folder DIR then load the same files")
    ap.add_argument("--folder", metavar="DIR", help="load the pipeline from a diffusers folder (from_pretrained, "
                    "memory-mapped safetensors) instead of building random weights")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dt = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    torch.manual_seed(0)
    if a.folder:
        pipe = SanaPipeline.from_pretrained(a.folder, torch_dtype=dt)
        return run(pipe, a)
    tr = SanaTransformer2DModel(in_channels=32, out_channels=32, caption_channels=2304, sample_size=32, **DIT[a.model])
    vae = AutoencoderDC(**VAE)
    te = Gemma2Model(Gemma2Config(num_hidden_layers=a.text_layers, attn_implementation="eager"))
    tok = AutoTokenizer.from_pretrained(os.path.join(ROOT, "tests", "data", "text", "tokenizer"))
    sch = DPMSolverMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0,
                                      algorithm_type="dpmsolver++", final_sigmas_type="zero")
    pipe = SanaPipeline(tokenizer=tok, text_encoder=te.eval().to(dt), vae=vae.eval().to(dt),
                        transformer=tr.eval().to(dt), scheduler=sch)
    if a.save:
        pipe.save_pretrained(a.save, safe_serialization=True)
        # our loader reads the SentencePiece model; transformers 5 saves only tokenizer.json
        src = os.path.join(ROOT, "tests", "data", "text", "tokenizer", "tokenizer.model")
        shutil.copy(src, os.path.join(a.save, "tokenizer", "tokenizer.model"))
        print(f"wrote {a.save}")
        return None
    return run(pipe, a)


def run(pipe, a):
    times = {"text": 0.0, "denoise": 0.0, "decode": 0.0}

    def timed(name, fn):
        def wrapper(*args, **kw):
            t0 = time.perf_counter()
            out = fn(*args, **kw)
            times[name] += time.perf_counter() - t0
            return out
        return wrapper

    pipe.encode_prompt = timed("text", pipe.encode_prompt)
    pipe.transformer.forward = timed("denoise", pipe.transformer.forward)
    pipe.vae.decode = timed("decode", pipe.vae.decode)
    prompt = "a photo of a cat sitting on a red chair, highly detailed"
    kw = dict(num_inference_steps=a.steps, guidance_scale=4.5, height=a.size, width=a.size, output_type="np",
              use_resolution_binning=False, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        t0 = time.perf_counter()
        pipe(prompt, **kw)
        first = time.perf_counter() - t0
        for k in times:
            times[k] = 0.0
        t0 = time.perf_counter()
        for _ in range(a.repeats):
            pipe(prompt, **kw)
        total = (time.perf_counter() - t0) / a.repeats
    print(f"diffusers CPU {a.model} {a.dtype} {a.size}² {a.steps} steps: first image {first:.3f} s; "
          + ", ".join(f"{k} {v / a.repeats:.3f} s" for k, v in times.items()) + f", total {total:.3f} s")
    if a.json:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30  # VmHWM: load and every image
        out = {f"{k}_s": v / a.repeats for k, v in times.items()}
        out.update(model=a.folder or a.model, dtype=a.dtype, size=a.size, steps=a.steps, threads=a.threads, first_s=first,
                   total_s=total, peak_gib=peak, torch=torch.__version__)
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
