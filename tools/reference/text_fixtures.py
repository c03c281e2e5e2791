"""Fixtures for the text encoder (tests/data/text/), from transformers 5.23 / diffusers 0.42.1 on the CPU.

Regenerate (a few seconds; deterministic):
    nice -n 10 /work/venv-ref/bin/python tools/reference/text_fixtures.py tests/data/text

Writes
  tokenizer/                 a SentencePiece BPE model trained here in Gemma's style (byte fallback, no dummy
                             prefix, identity normalization, Gemma's special ids) + tokenizer_config.json and
                             special_tokens_map.json as the Gemma-2 folder has them
  tokenizer_json_only/       tokenizer.json alone (the C++ side must refuse it clearly)
  tokenizer_cases.safetensors ids/masks of AutoTokenizer (what SanaPipeline uses) for every prompt of
                             text_common.PROMPTS at two max lengths, plus diffusers' lower().strip() of each prompt
  gemma2_tiny/               Gemma2Model (hidden 32, 4 q / 2 kv heads, head_dim 8, 3 layers, sliding window 4,
                             soft-cap 2) weights + config, and io.safetensors: padded batch in, last_hidden_state out
  gemma2_hd256/              Gemma2Model with the real head_dim 256 and 8:4 GQA, keys saved with a `model.` prefix
                             (as Gemma2ForCausalLM saves them), bf16-representable weights stored as bf16
  encode_prompt.safetensors  SanaPipeline.encode_prompt (CHI on, max_sequence_length 300) over the trained
                             tokenizer + gemma2_tiny: prompt embeddings/mask and negative embeddings/mask
All models run in fp32 with attn_implementation="eager" (soft-capping applied; recorded in the metadata); the encoder
fixtures also hold the bf16 model's output (last_hidden_state_bf16).
"""
import copy
import io
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from text_common import CHI, PROMPTS, training_sentences  # noqa: E402

torch.set_num_threads(2)


def train_tokenizer(out):
    import sentencepiece as spm

    os.makedirs(out, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(training_sentences()), model_writer=model, model_type="bpe", vocab_size=700,
        byte_fallback=True, add_dummy_prefix=False, remove_extra_whitespaces=False, normalization_rule_name="identity",
        split_digits=True, allow_whitespace_only_pieces=True, character_coverage=0.995, pad_id=0, eos_id=1, bos_id=2,
        unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>", unk_piece="<unk>",
        user_defined_symbols=["<mask>", "<start_of_turn>", "<end_of_turn>", "\n"], num_threads=1, minloglevel=2)
    with open(os.path.join(out, "tokenizer.model"), "wb") as f:
        f.write(model.getvalue())
    tok = lambda c: {"content": c, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}
    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>"]
    cfg = {"add_bos_token": True, "add_eos_token": False,
           "added_tokens_decoder": {str(i): dict(tok(c), special=True) for i, c in enumerate(specials)},
           "additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"],
           "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
           "clean_up_tokenization_spaces": False, "model_max_length": 1000000000000000019884624838656,
           "padding_side": "left", "sp_model_kwargs": {}, "spaces_between_special_tokens": False,
           "tokenizer_class": "GemmaTokenizer", "use_default_system_prompt": False}
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
        json.dump({"additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"], "bos_token": tok("<bos>"),
                   "eos_token": tok("<eos>"), "pad_token": tok("<pad>"), "unk_token": tok("<unk>")}, f, indent=2)


def tokenizer_cases(tok_dir, out_file, json_only_dir):
    from safetensors.torch import save_file
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tok_dir)
    os.makedirs(json_only_dir, exist_ok=True)
    tok.backend_tokenizer.save(os.path.join(json_only_dir, "tokenizer.json"))
    tok.padding_side = "right"  # as SanaPipeline sets it
    tensors = {}
    for max_length in (64, 700):
        enc = tok(PROMPTS, padding="max_length", max_length=max_length, truncation=True, add_special_tokens=True,
                  return_tensors="pt")
        tensors[f"ids_{max_length}"] = enc.input_ids.to(torch.int64).contiguous()
        tensors[f"mask_{max_length}"] = enc.attention_mask.to(torch.int64).contiguous()
    chi = "\n".join(CHI)
    meta = {"prompts": json.dumps(PROMPTS, ensure_ascii=False),
            "processed": json.dumps([p.lower().strip() for p in PROMPTS], ensure_ascii=False),
            "chi_tokens": str(len(tok.encode(chi))),
            "tokenizer_class": type(tok).__name__,
            # Python's str.lower() per code point over the scripts with case
            "lowercase_table": json.dumps([[c, chr(c).lower()] for a, b in ((0x20, 0x3000), (0xA640, 0xA800), (0xFF00, 0xFF60), (0x10400, 0x10450))
                                           for c in range(a, b)], ensure_ascii=False)}
    save_file(tensors, out_file, metadata=meta)
    return tok


def gemma_model(cfg_kwargs, seed):
    from transformers import Gemma2Config, Gemma2Model

    torch.manual_seed(seed)
    cfg = Gemma2Config(attn_implementation="eager", **cfg_kwargs)
    model = Gemma2Model(cfg).eval()
    with torch.no_grad():  # spread the weights so every part of the layer matters (incl. 1 + w norms)
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(torch.randn_like(p) * 0.3)
            elif "embed" in name:
                p.copy_(torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) * (1.5 / p.shape[1] ** 0.5))
    assert model.config._attn_implementation == "eager"
    return model


def padded_batch(vocab, lengths, total, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, vocab, (len(lengths), total), generator=g)
    ids[:, 0] = 2
    mask = torch.zeros(len(lengths), total, dtype=torch.int64)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
        ids[b, n:] = 0
    return ids, mask


def encoder_fixture(out, cfg_kwargs, seed, lengths, total, prefix="", bf16_weights=False):
    from safetensors.torch import save_file

    os.makedirs(out, exist_ok=True)
    model = gemma_model(cfg_kwargs, seed)
    if bf16_weights:
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(torch.bfloat16).to(torch.float32))
    model.config.to_json_file(os.path.join(out, "config.json"))
    sd = {prefix + k: (v.to(torch.bfloat16) if bf16_weights else v).contiguous() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    ids, mask = padded_batch(cfg_kwargs["vocab_size"], lengths, total, seed + 1)
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
        # The production dtype: the same weights rounded to bf16, everything computed in bf16 (eager).
        hidden_bf16 = copy.deepcopy(model).to(torch.bfloat16)(input_ids=ids, attention_mask=mask).last_hidden_state
    save_file({"input_ids": ids, "attention_mask": mask, "last_hidden_state": hidden.contiguous(),
               "last_hidden_state_bf16": hidden_bf16.contiguous()},
              os.path.join(out, "io.safetensors"),
              metadata={"attn_implementation": model.config._attn_implementation, "dtype": "float32"})
    return model


def encode_prompt_fixture(tok_dir, model, out_file):
    from diffusers import SanaPipeline
    from safetensors.torch import save_file
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tok_dir)
    pipe = SanaPipeline(tokenizer=tok, text_encoder=model, vae=None, transformer=None, scheduler=None)
    prompts = ["A cat sleeping on a sunny windowsill", "  一只可爱的小猫 🐱 ", " ".join(["Red fox in the snow"] * 80), "   "]
    with torch.no_grad():
        pe, pm, ne, nm = pipe.encode_prompt(prompts, do_classifier_free_guidance=True, negative_prompt="",
                                            num_images_per_prompt=1, device=torch.device("cpu"),
                                            max_sequence_length=300, complex_human_instruction=CHI)
    save_file({"prompt_embeds": pe.contiguous(), "prompt_attention_mask": pm.to(torch.int64).contiguous(),
               "negative_prompt_embeds": ne.contiguous(),
               "negative_prompt_attention_mask": nm.to(torch.int64).contiguous()}, out_file,
              metadata={"prompts": json.dumps(prompts, ensure_ascii=False), "negative_prompt": "",
                        "max_sequence_length": "300", "complex_human_instruction": json.dumps(CHI),
                        "attn_implementation": model.config._attn_implementation})


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/text"
    tok_dir = os.path.join(out, "tokenizer")
    train_tokenizer(tok_dir)
    tokenizer_cases(tok_dir, os.path.join(out, "tokenizer_cases.safetensors"), os.path.join(out, "tokenizer_json_only"))
    tiny = dict(vocab_size=700, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                num_key_value_heads=2, head_dim=8, query_pre_attn_scalar=16, attn_logit_softcapping=2.0,
                final_logit_softcapping=30.0, sliding_window=4, max_position_embeddings=8192, pad_token_id=0)
    model = encoder_fixture(os.path.join(out, "gemma2_tiny"), tiny, 0, [12, 7, 1], 12)
    hd256 = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=8,
                 num_key_value_heads=4, head_dim=256, query_pre_attn_scalar=256, attn_logit_softcapping=50.0,
                 final_logit_softcapping=30.0, sliding_window=4096, max_position_embeddings=8192, pad_token_id=0)
    encoder_fixture(os.path.join(out, "gemma2_hd256"), hd256, 1, [9, 5], 9, prefix="model.", bf16_weights=True)
    encode_prompt_fixture(tok_dir, model, os.path.join(out, "encode_prompt.safetensors"))


if __name__ == "__main__":
    main()
