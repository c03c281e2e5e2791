#!/usr/bin/env python3
"""Automatic quality check of the toy Sana with diffusers' own SanaPipeline.

Generates one image per (colour, shape, background) prompt — all held-out triples (never in the training captions)
plus a fixed selection of training triples — and scores each image automatically (tools/toy/toy_common.py):
background colour from the border pixels, object colour = median of the non-background pixels, shape from the fill
ratio of the object's bounding box (circle ~ pi/4, square ~ 1, triangle ~ 1/2). A prompt is correct when all three
match. Writes a contact sheet (green frame = correct, red = wrong) and a JSON report.

    nice -n 10 $SANA_REF_VENV/bin/python tools/toy/evaluate.py [--model models/sana-toy]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# Passive OpenMP waiting: with the default (spinning) policy, 2 torch threads on a shared, busy 2-core machine
# were measured ~50x slower per step. Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import toy_common as tc  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def prompt_set(n_seen: int, held_out_seeds: int) -> list[tuple[tuple[str, str, str], bool]]:
    rng = np.random.default_rng(1234)
    seen = tc.train_triples()
    pick = rng.permutation(len(seen))[:n_seen]
    out = [(seen[i], False) for i in sorted(pick)]
    out += [(t, True) for _ in range(held_out_seeds) for t in tc.HELD_OUT]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=REPO / "models/sana-toy")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance", type=float, default=4.5)
    ap.add_argument("--flow-shift", type=float, default=None, help="override the scheduler's flow_shift (sweeps)")
    ap.add_argument("--n-seen", type=int, default=40, help="number of training triples to include")
    ap.add_argument("--held-out-seeds", type=int, default=4, help="images (seeds) per held-out triple")
    ap.add_argument("--template", type=int, default=0, help="caption template index (tools/toy/toy_common.py)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--sheet", type=Path, default=REPO / "docs/images/toy_samples.png")
    ap.add_argument("--no-sheet", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.set_num_threads(2)

    from diffusers import DPMSolverMultistepScheduler, SanaPipeline

    pipe = SanaPipeline.from_pretrained(str(a.model)).to(a.device)
    if a.flow_shift is not None:
        pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config, flow_shift=a.flow_shift)
    H = W = pipe.transformer.config.sample_size * pipe.vae_scale_factor
    C = pipe.transformer.config.in_channels
    f = pipe.vae_scale_factor
    items = prompt_set(a.n_seen, a.held_out_seeds)
    t0 = time.time()
    results, images = [], []
    for i in range(0, len(items), a.batch):
        chunk = items[i:i + a.batch]
        prompts = [tc.caption(*t, template=a.template) for t, _ in chunk]
        lat = torch.cat([torch.randn((1, C, H // f, W // f), generator=torch.Generator().manual_seed(a.seed + i + j))
                         for j in range(len(chunk))])
        imgs = pipe(prompts, height=H, width=W, num_inference_steps=a.steps, guidance_scale=a.guidance,
                    latents=lat.to(a.device), use_resolution_binning=False, output_type="np").images
        for (t, held), p, im in zip(chunk, prompts, imgs):
            r = tc.score(im, *t)
            r.update(prompt=p, held_out=held)
            results.append(r)
            images.append(im)
    dt = time.time() - t0

    def pct(rs, key="ok"):
        return 100.0 * sum(r[key] for r in rs) / max(1, len(rs))

    seen = [r for r in results if not r["held_out"]]
    held = [r for r in results if r["held_out"]]
    summary = {
        "model": str(a.model), "steps": a.steps, "guidance": a.guidance,
        "flow_shift": pipe.scheduler.config.flow_shift, "resolution": [H, W], "template": a.template,
        "n": len(results), "correct_pct": pct(results), "seen_n": len(seen), "seen_pct": pct(seen),
        "held_out_n": len(held), "held_out_pct": pct(held),
        "object_colour_pct": pct(results, "ok_obj"), "background_pct": pct(results, "ok_bg"),
        "shape_pct": pct(results, "ok_shape"), "seconds": round(dt, 1),
    }
    for r in results:
        if not r["ok"]:
            print(f"  wrong: {r['prompt']!r}: got object={r['object']} shape={r['shape']} (fill {r['fill']:.2f})"
                  f" background={r['background']}")
    print(json.dumps(summary, indent=1))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({"summary": summary, "results": results}, indent=1, default=str) + "\n")
    if not a.no_sheet:
        from PIL import Image

        cols = 8
        rows = (len(images) + cols - 1) // cols
        pad = 2
        sheet = np.full((rows * (H + 2 * pad), cols * (W + 2 * pad), 3), 255, np.uint8)
        for k, (im, r) in enumerate(zip(images, results)):
            y, x = (k // cols) * (H + 2 * pad), (k % cols) * (W + 2 * pad)
            sheet[y:y + H + 2 * pad, x:x + W + 2 * pad] = (40, 170, 60) if r["ok"] else (220, 30, 30)
            sheet[y + pad:y + pad + H, x + pad:x + pad + W] = (np.clip(im, 0, 1) * 255).round().astype(np.uint8)
        a.sheet.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(sheet).save(a.sheet, optimize=True)
        print(f"contact sheet: {a.sheet} ({a.sheet.stat().st_size / 1e3:.0f} kB); last row(s) = held-out prompts")


if __name__ == "__main__":
    main()
