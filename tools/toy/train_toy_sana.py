#!/usr/bin/env python3
"""Train a tiny Sana (real diffusers architecture) from scratch on a procedural shapes dataset and export it.

Environment (the project's convention is SANA_REF_VENV pointing to such a venv):

    python3 -m venv $SANA_REF_VENV
    $SANA_REF_VENV/bin/pip install -r tools/toy/requirements.txt    # CPU torch is enough
    nice -n 10 $SANA_REF_VENV/bin/python tools/toy/train_toy_sana.py --stage all

Stages (each reads the previous stages' outputs from --work, default build/toy/):
    data         render the captioned dataset (uint8 images + triple ids)            -> work/data.npz
    tokenizer    train a Gemma-style SentencePiece BPE tokenizer on captions + CHI,
                 build the HF tokenizer and the frozen random Gemma2Model encoder     -> work/tokenizer/, work/text_encoder/
    vae          train a tiny AutoencoderDC, encode the dataset, set scaling_factor  -> work/vae/, work/latents.pt
    transformer  encode every caption with SanaPipeline.encode_prompt (CHI on; "" without CHI for
                 caption dropout) and train SanaTransformer2DModel with flow matching -> work/transformer/
    export       write the diffusers folder (SanaPipeline.save_pretrained)             -> models/sana-toy/
    fixtures     C++ end-to-end fixtures from diffusers' SanaPipeline                  -> tests/data/toy/
    all          all of the above in order

--quick shrinks everything to a seconds-long smoke run (writes to build/toy-quick and build/toy-quick/{model,fixtures}
unless --out/--fixtures are given) — never use it to produce the committed model.
"""
from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import random
import shutil
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
SEED = 0

# ----------------------------------------------------------------------------------------------------------------
# Model configurations
# ----------------------------------------------------------------------------------------------------------------
GEMMA_HIDDEN = 64
TEXT_ENCODER_CONFIG = dict(
    hidden_size=GEMMA_HIDDEN,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    query_pre_attn_scalar=16,
    max_position_embeddings=1024,
    # Even layers use sliding-window attention (as in Gemma-2). A short window makes the *random, frozen* encoder
    # mix each token with its immediate predecessors, so word order ("red circle on blue" vs "blue circle on red")
    # survives in the features. Real Gemma-2 uses 4096; implementations must honour the config value.
    sliding_window=4,
    layer_types=["sliding_attention", "full_attention"],
    initializer_range=0.02,
    attn_logit_softcapping=50.0,
    final_logit_softcapping=30.0,
    rms_norm_eps=1e-6,
    rope_theta=10000.0,
    pad_token_id=0,
    eos_token_id=1,
    bos_token_id=2,
    hidden_activation="gelu_pytorch_tanh",
)

VAE_CONFIG = dict(
    in_channels=3,
    latent_channels=8,
    attention_head_dim=8,
    encoder_block_types=["ResBlock", "ResBlock", "EfficientViTBlock"],
    decoder_block_types=["ResBlock", "ResBlock", "EfficientViTBlock"],
    encoder_block_out_channels=[16, 32, 64],
    decoder_block_out_channels=[16, 32, 64],
    encoder_layers_per_block=[0, 1, 1],
    decoder_layers_per_block=[0, 1, 2],
    encoder_qkv_multiscales=[[], [], [5]],
    decoder_qkv_multiscales=[[], [], [5]],
    upsample_block_type="interpolate",
    downsample_block_type="Conv",
    decoder_norm_types="rms_norm",
    decoder_act_fns="silu",
    encoder_out_shortcut=True,
    decoder_in_shortcut=True,
    decoder_conv_act_fn="relu",
    scaling_factor=1.0,  # replaced by 1/std of the trained latents
)

TRANSFORMER_CONFIG = dict(
    in_channels=8,
    out_channels=8,
    num_attention_heads=4,
    attention_head_dim=16,
    num_layers=4,
    num_cross_attention_heads=4,
    cross_attention_head_dim=16,
    cross_attention_dim=64,
    caption_channels=GEMMA_HIDDEN,
    mlp_ratio=2.5,
    dropout=0.0,
    attention_bias=False,
    sample_size=tc.IMAGE_SIZE // 4,  # latent size (VAE scale factor 4)
    patch_size=1,
    norm_elementwise_affine=False,
    norm_eps=1e-6,
)

FLOW_SHIFT = 2.0  # chosen by evaluate.py sweeps, see tools/toy/README.md
SCHEDULER_CONFIG = dict(
    algorithm_type="dpmsolver++",
    solver_order=2,
    solver_type="midpoint",
    prediction_type="flow_prediction",
    use_flow_sigmas=True,
    flow_shift=FLOW_SHIFT,
    final_sigmas_type="zero",
    lower_order_final=True,
    euler_at_final=False,
    timestep_spacing="linspace",
    num_train_timesteps=1000,
    thresholding=False,
    use_karras_sigmas=False,
    use_exponential_sigmas=False,
    use_beta_sigmas=False,
    use_lu_lambdas=False,
    use_dynamic_shifting=False,
    variance_type=None,
    beta_schedule="linear",
    beta_start=0.0001,
    beta_end=0.02,
    trained_betas=None,
    dynamic_thresholding_ratio=0.995,
    sample_max_value=1.0,
    steps_offset=0,
    rescale_betas_zero_snr=False,
    time_shift_type="exponential",
)

# Recommended inference defaults (recorded in models/sana-toy/README.md and the fixtures)
DEFAULT_STEPS = 20
DEFAULT_GUIDANCE = 4.5
MAX_SEQUENCE_LENGTH = 300

# Training sizes: (full, quick)
IMAGES_PER_TRIPLE = (48, 2)
VAE_STEPS = (800, 5)
VAE_BATCH = 16
DIT_STEPS = (8000, 5)  # override with --dit-steps; constant LR after warm-up, so stopping early = a shorter run
DIT_BATCH = 32
DIT_CKPT_EVERY = 250
CAPTION_DROPOUT = 0.1
TOKENIZER_VOCAB = 1000


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def complex_human_instruction() -> list[str]:
    from diffusers import SanaPipeline

    return list(inspect.signature(SanaPipeline.__call__).parameters["complex_human_instruction"].default)


# ----------------------------------------------------------------------------------------------------------------
# Stage: data
# ----------------------------------------------------------------------------------------------------------------
def stage_data(a) -> None:
    t0 = time.time()
    rng = np.random.default_rng(SEED)
    triples = tc.train_triples()
    k = IMAGES_PER_TRIPLE[a.quick]
    imgs, tids = [], []
    for ti, (c, s, b) in enumerate(triples):
        for _ in range(k):
            imgs.append(tc.random_render(rng, c, s, b))
            tids.append(ti)
    imgs = np.stack(imgs)
    np.savez_compressed(a.work / "data.npz", images=imgs, triple=np.array(tids, np.int32),
                        triples=np.array(triples))
    # a small preview of the data
    from PIL import Image

    idx = rng.permutation(len(imgs))[:64] if len(imgs) >= 64 else np.arange(len(imgs))
    prev = imgs[idx]
    n = int(math.ceil(math.sqrt(len(prev))))
    S = tc.IMAGE_SIZE
    sheet = np.zeros((n * S, n * S, 3), np.uint8)
    for i, im in enumerate(prev):
        sheet[(i // n) * S:(i // n + 1) * S, (i % n) * S:(i % n + 1) * S] = im
    Image.fromarray(sheet).save(a.work / "data_preview.png")
    log(f"data: {len(imgs)} images of {len(triples)} triples ({len(tc.HELD_OUT)} held out) in {time.time() - t0:.1f}s")


# ----------------------------------------------------------------------------------------------------------------
# Stage: tokenizer (+ frozen text encoder)
# ----------------------------------------------------------------------------------------------------------------
def tokenizer_corpus() -> list[str]:
    lines = []
    for (c, s, b) in tc.all_triples():
        for t in range(len(tc.TEMPLATES)):
            lines.append(tc.caption(c, s, b, t))
    chi = complex_human_instruction()
    lines += chi * 20  # weight the instruction so its words become pieces
    return lines


def stage_tokenizer(a) -> None:
    import sentencepiece as spm
    from transformers import Gemma2Config, Gemma2Model, GemmaTokenizer

    t0 = time.time()
    tdir = a.work / "tokenizer"
    tdir.mkdir(parents=True, exist_ok=True)
    corpus = a.work / "tokenizer_corpus.txt"
    corpus.write_text("\n".join(tokenizer_corpus()) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(tdir / "tokenizer"),
        model_type="bpe",
        vocab_size=TOKENIZER_VOCAB,
        hard_vocab_limit=False,
        character_coverage=1.0,
        byte_fallback=True,
        split_digits=True,
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True,
        normalization_rule_name="identity",
        pad_id=0, eos_id=1, bos_id=2, unk_id=3,
        pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>", unk_piece="<unk>",
        user_defined_symbols=["<mask>"],
        num_threads=1,
        minloglevel=2,
    )
    (tdir / "tokenizer.vocab").unlink(missing_ok=True)
    sp = spm.SentencePieceProcessor(model_file=str(tdir / "tokenizer.model"))
    vocab = sp.get_piece_size()

    # HF tokenizer (transformers converts tokenizer.model into a tokenizers BPE with byte fallback)
    hf = _hf_from_spm(tdir)
    hf.padding_side = "right"
    hdir = a.work / "tokenizer_hf"
    hf.save_pretrained(str(hdir))
    # make the saved config self-contained and explicit (no absolute paths; BOS yes, EOS no, like Gemma)
    cfgp = hdir / "tokenizer_config.json"
    tcfg = json.loads(cfgp.read_text())
    for k in ("vocab_file", "is_local", "local_files_only"):
        tcfg.pop(k, None)
    tcfg.update(add_bos_token=True, add_eos_token=False, padding_side="right")
    cfgp.write_text(json.dumps(tcfg, indent=2, sort_keys=True) + "\n")
    (hdir / "special_tokens_map.json").write_text(json.dumps({
        "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
        "mask_token": "<mask>"}, indent=2) + "\n")
    shutil.copy(tdir / "tokenizer.model", hdir / "tokenizer.model")
    hf = load_tokenizer(a)
    # exactness check: HF tokenizer == SentencePiece (+BOS) on the corpus, the CHI text and CHI+caption
    chi = "\n".join(complex_human_instruction())
    texts = tokenizer_corpus()[:: 7] + [chi, "", " a red circle", "A Red Circle!", "123 circles; ünïcode ☃"]
    texts += [chi + tc.caption(c, s, b, 0) for (c, s, b) in tc.all_triples()[:20]]
    bad = 0
    for t in texts:
        ref = [2] + sp.encode(t)
        got = hf(t, add_special_tokens=True).input_ids
        if ref != got:
            bad += 1
            if bad < 5:
                log(f"tokenizer mismatch for {t[:60]!r}: spm {ref[:20]} hf {got[:20]}")
    if bad:
        raise SystemExit(f"HF tokenizer differs from SentencePiece on {bad}/{len(texts)} texts")

    seed_all(SEED)
    cfg = Gemma2Config(vocab_size=vocab, attn_implementation="eager", **TEXT_ENCODER_CONFIG)
    te = Gemma2Model(cfg).eval()
    te.save_pretrained(str(a.work / "text_encoder"), safe_serialization=True)
    n_chi = len(hf.encode(chi))
    log(f"tokenizer: vocab {vocab}, CHI = {n_chi} tokens; text encoder {sum(p.numel() for p in te.parameters())} params;"
        f" {time.time() - t0:.1f}s")


def _hf_from_spm(tdir: Path):
    """Build transformers' GemmaTokenizer from the SentencePiece model (exact conversion via tokenizers)."""
    from transformers import GemmaTokenizer

    tok = GemmaTokenizer.from_pretrained(str(tdir), add_bos_token=True, add_eos_token=False)
    return tok


def load_tokenizer(a):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(a.work / "tokenizer_hf"))
    tok.padding_side = "right"
    return tok


def load_text_encoder(a):
    from transformers import Gemma2Model

    return Gemma2Model.from_pretrained(str(a.work / "text_encoder"), attn_implementation="eager").eval()


# ----------------------------------------------------------------------------------------------------------------
# Stage: VAE
# ----------------------------------------------------------------------------------------------------------------
def lr_at(step: int, total: int, base: float, warmup: int = 100) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def stage_vae(a) -> None:
    from diffusers import AutoencoderDC

    t0 = time.time()
    d = np.load(a.work / "data.npz")
    x_all = torch.from_numpy(d["images"]).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    seed_all(SEED)
    vae = AutoencoderDC(**VAE_CONFIG).to(a.device)
    opt = torch.optim.AdamW(vae.parameters(), lr=1e-3, weight_decay=0.0)
    steps = VAE_STEPS[a.quick]
    g = torch.Generator().manual_seed(SEED)
    vae.train()
    for step in range(steps):
        for pg in opt.param_groups:
            pg["lr"] = lr_at(step, steps, 1e-3)
        idx = torch.randint(0, len(x_all), (VAE_BATCH,), generator=g)
        x = x_all[idx].to(a.device)
        if torch.rand((), generator=g) < 0.5:
            x = x.flip(-1)
        z = vae.encode(x).latent
        y = vae.decode(z).sample
        mse = torch.nn.functional.mse_loss(y, x)
        loss = mse + 0.1 * (y - x).abs().mean() + 1e-4 * z.pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"vae step {step}/{steps} mse {mse.item():.5f} psnr {10 * math.log10(4 / max(mse.item(), 1e-10)):.1f} dB"
                f" ({time.time() - t0:.0f}s)")
    vae.eval()
    lats = []
    with torch.no_grad():
        for i in range(0, len(x_all), 256):
            lats.append(vae.encode(x_all[i:i + 256].to(a.device)).latent.cpu())
    lat = torch.cat(lats)
    std = lat.std().item()
    sf = float(f"{1.0 / std:.5f}")
    vae.register_to_config(scaling_factor=sf)
    vae.to("cpu").save_pretrained(str(a.work / "vae"), safe_serialization=True)
    # reconstruction quality on the whole set
    with torch.no_grad():
        err = 0.0
        for i in range(0, len(x_all), 256):
            y = vae.decode(lat[i:i + 256]).sample.clamp(-1, 1)
            err += (y - x_all[i:i + 256]).pow(2).sum().item()
        mse = err / x_all.numel()
    torch.save({"latents": lat, "triple": torch.from_numpy(d["triple"]).long()}, a.work / "latents.pt")
    log(f"vae: latent {tuple(lat.shape[1:])}, mean {lat.mean():.3f} std {std:.4f} -> scaling_factor {sf};"
        f" recon PSNR {10 * math.log10(4 / mse):.1f} dB; {sum(p.numel() for p in vae.parameters())} params;"
        f" {time.time() - t0:.0f}s")


# ----------------------------------------------------------------------------------------------------------------
# Stage: transformer
# ----------------------------------------------------------------------------------------------------------------
def make_pipeline(a, transformer=None, vae=None):
    from diffusers import AutoencoderDC, DPMSolverMultistepScheduler, SanaPipeline

    if vae is None:
        vae = AutoencoderDC.from_pretrained(str(a.work / "vae"))
    return SanaPipeline(tokenizer=load_tokenizer(a), text_encoder=load_text_encoder(a), vae=vae.eval(),
                        transformer=transformer, scheduler=DPMSolverMultistepScheduler(**SCHEDULER_CONFIG))


@torch.no_grad()
def encode_captions(pipe, prompts: list[str], batch: int = 32):
    """Exactly SanaPipeline.encode_prompt (CHI on) for the positive prompts, plus the "" negative (no CHI)."""
    chi = complex_human_instruction()
    embs, masks = [], []
    neg = None
    for i in range(0, len(prompts), batch):
        pe, pm, ne, nm = pipe.encode_prompt(prompts[i:i + batch], do_classifier_free_guidance=True, negative_prompt="",
                                            device=torch.device("cpu"), max_sequence_length=MAX_SEQUENCE_LENGTH,
                                            complex_human_instruction=chi)
        embs.append(pe.float())
        masks.append(pm)
        neg = (ne[:1].float(), nm[:1])
    return torch.cat(embs), torch.cat(masks), neg[0], neg[1]


def stage_transformer(a) -> None:
    from diffusers import SanaTransformer2DModel

    t0 = time.time()
    lt = torch.load(a.work / "latents.pt")
    from diffusers import AutoencoderDC

    sf = AutoencoderDC.load_config(str(a.work / "vae"))["scaling_factor"]
    x0_all = lt["latents"] * sf
    tri = lt["triple"]
    triples = tc.train_triples()
    nt = 1 if a.quick else len(tc.TEMPLATES)  # quick: canonical captions only (fast smoke run)
    prompts = [tc.caption(c, s, b, k) for (c, s, b) in triples for k in range(nt)]
    cache = a.work / "captions.pt"
    if cache.exists() and torch.load(cache)["prompts"] == prompts:
        c_ = torch.load(cache)
        emb, mask, nemb, nmask = c_["emb"], c_["mask"], c_["nemb"], c_["nmask"]
    else:
        pipe = make_pipeline(a)
        emb, mask, nemb, nmask = encode_captions(pipe, prompts)
        del pipe
        torch.save({"prompts": prompts, "emb": emb, "mask": mask, "nemb": nemb, "nmask": nmask}, cache)
    # Padded keys get a -10000 attention bias (exp underflows to exactly 0 in fp32), so truncating the cached
    # embeddings after the longest real token is equivalent and makes training much cheaper.
    L = int(max(mask.sum(1).max().item(), nmask.sum().item()))
    L = min(MAX_SEQUENCE_LENGTH, ((L + 7) // 8) * 8)
    assert mask[:, L:].sum() == 0 and nmask[:, L:].sum() == 0
    emb, mask, nemb, nmask = emb[:, :L], mask[:, :L], nemb[:, :L], nmask[:, :L]
    log(f"encoded {len(prompts)} captions (CHI on) + negative in {time.time() - t0:.0f}s; training text length {L}")

    seed_all(SEED)
    model = SanaTransformer2DModel(**TRANSFORMER_CONFIG).to(a.device)
    ema = SanaTransformer2DModel(**TRANSFORMER_CONFIG).to(a.device)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0, betas=(0.9, 0.99))
    steps = a.dit_steps or DIT_STEPS[a.quick]
    g = torch.Generator().manual_seed(SEED + 1)
    emb, mask, nemb, nmask = emb.to(a.device), mask.to(a.device), nemb.to(a.device), nmask.to(a.device)
    x0_all = x0_all.to(a.device)
    tri = tri.to(a.device)
    model.train()
    t_loss = 0.0
    for step in range(steps):
        lr = 1e-3 * min(1.0, (step + 1) / 200)  # constant after warm-up (EMA does the averaging)
        for pg in opt.param_groups:
            pg["lr"] = lr
        idx = torch.randint(0, len(x0_all), (DIT_BATCH,), generator=g).to(a.device)
        x0 = x0_all[idx]
        flip = (torch.rand(DIT_BATCH, generator=g) < 0.5).to(a.device)
        x0 = torch.where(flip[:, None, None, None], x0.flip(-1), x0)  # captions are mirror-invariant
        cap = tri[idx] * nt + torch.randint(0, nt, (DIT_BATCH,), generator=g).to(a.device)
        ctx, cm = emb[cap], mask[cap]
        drop = (torch.rand(DIT_BATCH, generator=g) < CAPTION_DROPOUT).to(a.device)
        ctx = torch.where(drop[:, None, None], nemb.expand_as(ctx), ctx)
        cm = torch.where(drop[:, None], nmask.expand_as(cm), cm)
        t = torch.sigmoid(torch.randn(DIT_BATCH, generator=g)).to(a.device)  # logit-normal(0, 1)
        eps = torch.randn(x0.shape, generator=g).to(a.device)
        tt = t[:, None, None, None]
        xt = (1 - tt) * x0 + tt * eps
        v = model(xt, encoder_hidden_states=ctx, encoder_attention_mask=cm, timestep=t * 1000, return_dict=False)[0]
        loss = torch.nn.functional.mse_loss(v, eps - x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        decay = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe_, pm_ in zip(ema.parameters(), model.parameters()):
                pe_.lerp_(pm_, 1 - decay)
        t_loss += loss.item()
        if step % 200 == 0 or step == steps - 1:
            log(f"dit step {step}/{steps} loss {t_loss / (1 if step == 0 else min(200, step + 1)):.4f} lr {lr:.2e}"
                f" ({time.time() - t0:.0f}s)")
            t_loss = 0.0
        if (step + 1) % DIT_CKPT_EVERY == 0 or step == steps - 1:
            ema.save_pretrained(str(a.work / "transformer"), safe_serialization=True)
            (a.work / "transformer" / "trained_steps.txt").write_text(f"{step + 1}\n")
        if a.time_limit and time.time() - t0 > a.time_limit:
            log(f"time limit reached at step {step}")
            ema.save_pretrained(str(a.work / "transformer"), safe_serialization=True)
            (a.work / "transformer" / "trained_steps.txt").write_text(f"{step + 1}\n")
            break
    log(f"transformer: {n_params} params, {step + 1} steps in {time.time() - t0:.0f}s")


# ----------------------------------------------------------------------------------------------------------------
# Stage: export
# ----------------------------------------------------------------------------------------------------------------
def stage_export(a) -> None:
    from diffusers import SanaPipeline, SanaTransformer2DModel

    t0 = time.time()
    tr = SanaTransformer2DModel.from_pretrained(str(a.work / "transformer"))
    pipe = make_pipeline(a, transformer=tr.eval())
    out = a.out
    out.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(str(out), safe_serialization=True)
    # SentencePiece model beside the HF files (the C++ tokenizer reads tokenizer.model)
    shutil.copy(a.work / "tokenizer" / "tokenizer.model", out / "tokenizer" / "tokenizer.model")
    # same explicit tokenizer config / special tokens map as written by the tokenizer stage
    for fn in ("tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(a.work / "tokenizer_hf" / fn, out / "tokenizer" / fn)
    # verify: diffusers loads it back and generates
    pipe2 = SanaPipeline.from_pretrained(str(out))
    g = torch.Generator().manual_seed(0)
    img = pipe2(tc.caption("red", "circle", "blue"), height=tc.IMAGE_SIZE, width=tc.IMAGE_SIZE,
                num_inference_steps=DEFAULT_STEPS, guidance_scale=DEFAULT_GUIDANCE, generator=g,
                use_resolution_binning=False, output_type="np").images[0]
    r = tc.score(img, "red", "circle", "blue")
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    log(f"export: {out} ({total / 1e6:.2f} MB); reload+generate check: {r}; {time.time() - t0:.0f}s")


# ----------------------------------------------------------------------------------------------------------------
# Stage: fixtures for the C++ end-to-end test
# ----------------------------------------------------------------------------------------------------------------
FIXTURE_PROMPTS = [
    ("red", "circle", "blue", 0, 0),
    ("yellow", "triangle", "black", 3, 1),
    ("white", "square", "green", 2, 2),
    ("blue", "circle", "yellow", 0, 3),  # held-out combination
]


def stage_fixtures(a) -> None:
    from diffusers import SanaPipeline
    from safetensors.torch import save_file

    t0 = time.time()
    pipe = SanaPipeline.from_pretrained(str(a.out))
    chi = complex_human_instruction()
    fx = a.fixtures
    fx.mkdir(parents=True, exist_ok=True)
    H = W = tc.IMAGE_SIZE
    C = pipe.transformer.config.in_channels
    f = pipe.vae_scale_factor
    index = []
    for i, (c, s, b, tmpl, seed) in enumerate(FIXTURE_PROMPTS):
        prompt = tc.caption(c, s, b, tmpl)
        g = torch.Generator().manual_seed(seed)
        lat0 = torch.randn((1, C, H // f, W // f), generator=g, dtype=torch.float32)
        call = dict(prompt=prompt, negative_prompt="", num_inference_steps=DEFAULT_STEPS,
                    guidance_scale=DEFAULT_GUIDANCE, height=H, width=W, use_resolution_binning=False,
                    max_sequence_length=MAX_SEQUENCE_LENGTH, complex_human_instruction=chi)
        steps = []

        def cb(p, step, t, kw):
            steps.append(kw["latents"].detach().clone())
            return {}

        img = pipe(**call, latents=lat0.clone(), output_type="np", callback_on_step_end=cb,
                   callback_on_step_end_tensor_inputs=["latents"]).images[0]
        pe, pm, ne, nm = pipe.encode_prompt(prompt, do_classifier_free_guidance=True, negative_prompt="",
                                            max_sequence_length=MAX_SEQUENCE_LENGTH, complex_human_instruction=chi)
        ids = pipe.tokenizer("\n".join(chi) + prompt.lower().strip(), add_special_tokens=True).input_ids
        u8 = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)  # = diffusers numpy_to_pil rounding
        pipe.scheduler.set_timesteps(DEFAULT_STEPS)
        tensors = {
            "initial_latents": lat0.contiguous(),
            "image_f32": torch.from_numpy(np.ascontiguousarray(img)),
            "image_u8": torch.from_numpy(u8),
            "prompt_embeds": pe.float().contiguous(),
            "prompt_attention_mask": pm.to(torch.int64).contiguous(),
            "negative_prompt_embeds": ne.float().contiguous(),
            "negative_prompt_attention_mask": nm.to(torch.int64).contiguous(),
            "chi_prompt_input_ids": torch.tensor(ids, dtype=torch.int64),
            "step_latents": torch.cat(steps).contiguous(),
            "timesteps": pipe.scheduler.timesteps.to(torch.int64).contiguous(),
            "sigmas": pipe.scheduler.sigmas.float().contiguous(),
        }
        meta = {k: (json.dumps(v) if not isinstance(v, str) else v) for k, v in call.items()}
        meta.update(output_type="np", generator_seed=str(seed), expected=json.dumps([c, s, b]),
                    score=json.dumps({k: (bool(v) if isinstance(v, (bool, np.bool_)) else v)
                                      for k, v in tc.score(img, c, s, b).items()}))
        name = f"case{i}.safetensors"
        save_file(tensors, str(fx / name), metadata=meta)
        entry = {"file": name, **{k: v for k, v in call.items() if k != "complex_human_instruction"},
                 "complex_human_instruction": "diffusers default (SanaPipeline.__call__), CHI on",
                 "initial_latents_seed": seed, "expected": [c, s, b], "held_out": (c, s, b) in tc.HELD_OUT}
        index.append(entry)
        log(f"fixture {name}: {prompt!r} -> {tc.score(img, c, s, b)['ok']}")
    (fx / "cases.json").write_text(json.dumps({
        "model": "models/sana-toy",
        "complex_human_instruction": chi,
        "attn_implementation": "eager",
        "dtype": "float32 everywhere (CPU)",
        "tolerance_hint": "C++ image within 2/255 per pixel of image_f32 (and image_u8)",
        "tensors": {
            "initial_latents": "(1,C,h,w) float32, passed as latents= to SanaPipeline",
            "image_f32": "(H,W,3) float32 in [0,1], output_type='np'",
            "image_u8": "(H,W,3) uint8 = round(clip(image_f32,0,1)*255) (what output_type='pil' would give)",
            "prompt_embeds / prompt_attention_mask": "encode_prompt output for the prompt (CHI on), (1,300,D) / (1,300)",
            "negative_prompt_embeds / negative_prompt_attention_mask": "encode_prompt output for '' (no CHI)",
            "chi_prompt_input_ids": "token ids of CHI + lower-cased prompt, BOS first, unpadded",
            "step_latents": "(steps,C,h,w) latents after each scheduler step",
            "timesteps / sigmas": "DPMSolverMultistepScheduler schedule for the step count",
        },
        "cases": index,
    }, indent=1) + "\n")
    total = sum(p.stat().st_size for p in fx.iterdir())
    log(f"fixtures: {len(index)} cases, {total / 1e6:.2f} MB in {fx}; {time.time() - t0:.0f}s")


# ----------------------------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", default="all",
                    choices=["data", "tokenizer", "vae", "transformer", "export", "fixtures", "all"])
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    ap.add_argument("--quick", action="store_true", help="seconds-long smoke run (tiny data, a few steps)")
    ap.add_argument("--work", type=Path, default=None, help="scratch directory (default build/toy or build/toy-quick)")
    ap.add_argument("--out", type=Path, default=None, help="exported model folder (default models/sana-toy)")
    ap.add_argument("--fixtures", type=Path, default=None, help="fixture folder (default tests/data/toy)")
    ap.add_argument("--time-limit", type=float, default=0.0, help="stop transformer training after this many seconds")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dit-steps", type=int, default=0, help=f"transformer steps (default {DIT_STEPS[0]})")
    a = ap.parse_args()
    a.quick = int(a.quick)
    torch.set_num_threads(a.threads)
    a.work = a.work or REPO / ("build/toy-quick" if a.quick else "build/toy")
    a.out = a.out or (a.work / "model" if a.quick else REPO / "models/sana-toy")
    a.fixtures = a.fixtures or (a.work / "fixtures" if a.quick else REPO / "tests/data/toy")
    a.work.mkdir(parents=True, exist_ok=True)
    a.device = torch.device(a.device)
    stages = ["data", "tokenizer", "vae", "transformer", "export", "fixtures"] if a.stage == "all" else [a.stage]
    times = {}
    for st in stages:
        t0 = time.time()
        globals()[f"stage_{st}"](a)
        times[st] = round(time.time() - t0, 1)
    log(f"stage times (s): {times}")
    with open(a.work / "stage_times.json", "a") as fh:
        fh.write(json.dumps({"quick": bool(a.quick), "device": str(a.device), "times": times}) + "\n")


if __name__ == "__main__":
    main()
