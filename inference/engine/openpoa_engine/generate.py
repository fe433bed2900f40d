"""Deterministic generated checkpoints: a small Llama-architecture model and PEFT adapters, as real files."""

import json
import math
import os
import shutil
import tempfile

import torch

from . import safetensors_io
from .adapters import artifact_hash_of_dir
from .config import LORA_PROJECTIONS, ModelConfig, module_path
from .tokenizer import EOS, ByteTokenizer, write_byte_tokenizer

PRESETS = {
    "tiny": dict(hidden_size=64, intermediate_size=176, num_layers=2, num_heads=4, num_kv_heads=2),
    "demo": dict(hidden_size=128, intermediate_size=344, num_layers=2, num_heads=4, num_kv_heads=2),
    "small": dict(hidden_size=256, intermediate_size=688, num_layers=4, num_heads=8, num_kv_heads=4),
    "bench": dict(hidden_size=1024, intermediate_size=2816, num_layers=8, num_heads=16, num_kv_heads=4),
}
# Rough English character frequencies: random weights plus this unigram prior give text-like, varied output.
_FREQUENT = " etaoinshrdlcumwfgypbvk.,\n'jxqzETAOINS"


def _unigram_log_prior(vocab_size):
    prior = torch.full((vocab_size,), -12.0)
    for rank, ch in enumerate(_FREQUENT):
        prior[ord(ch)] = -math.log(rank + 2)
    prior[EOS] = -6.0  # rare: completions of a few hundred tokens on average
    return prior


def generate_model(out_dir, preset="tiny", seed=0, shards=1, vocab_size=512, max_positions=2048):
    os.makedirs(out_dir, exist_ok=True)
    dims = PRESETS[preset]
    config = ModelConfig(
        vocab_size=vocab_size,
        head_dim=dims["hidden_size"] // dims["num_heads"],
        max_position_embeddings=max_positions,
        bos_token_id=256,
        eos_token_ids=(EOS,),
        name=f"openpoa/generated-{preset}-seed{seed}",
        **dims,
    )
    g = torch.Generator().manual_seed(seed)
    c = config

    def normal(*shape, std=0.02):
        return torch.randn(*shape, generator=g) * std

    # A shared direction u in every embedding gives the final hidden state a steady component along u, through
    # which the lm_head adds a unigram prior to every position's logits; the random rest makes them depend on context.
    u = torch.nn.functional.normalize(torch.randn(c.hidden_size, generator=g), dim=0)
    tensors = {
        "model.embed_tokens.weight": normal(c.vocab_size, c.hidden_size, std=0.5) + 4.0 * u,
        "model.norm.weight": torch.ones(c.hidden_size),
    }
    for i in range(c.num_layers):
        p = f"model.layers.{i}."
        tensors[p + "input_layernorm.weight"] = torch.ones(c.hidden_size)
        tensors[p + "post_attention_layernorm.weight"] = torch.ones(c.hidden_size)
        for name in LORA_PROJECTIONS:
            tensors[f"{module_path(i, name)}.weight"] = normal(c.out_features(name), c.in_features(name))
    head = normal(c.vocab_size, c.hidden_size)
    # Calibrate on a fixed prompt: context part of the logits ~ std 3, prior part ~ log-probabilities.
    tensors["lm_head.weight"] = head
    hidden = _final_hidden(config, tensors, "The quick brown fox jumps over the lazy dog. " * 2)
    context_gain = round(3.0 / (hidden @ head.t()).std().item(), 2)
    prior_gain = round(1.0 / (hidden @ u).mean().item(), 2)
    tensors["lm_head.weight"] = head * context_gain + prior_gain * _unigram_log_prior(c.vocab_size)[:, None] * u
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config.to_hf(), f, indent=2)
    write_byte_tokenizer(out_dir)
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    safetensors_io.save_checkpoint(tensors, out_dir, max_shard_bytes=-(-total // shards) if shards > 1 else None)
    return config


def _final_hidden(config, tensors, text):
    from .model import KVCache, Llama, PrefillAttention  # local: model imports nothing from here, keep it one-way

    model = Llama(config, tensors)
    tokens = ByteTokenizer().encode(text)
    cache = KVCache(config, 1, len(tokens), "cpu", torch.float32)
    return model.forward(
        torch.tensor(tokens), torch.arange(len(tokens)), PrefillAttention(cache, [(0, 0, len(tokens))])
    )


def peft_lora_config(base_model, rank, alpha=None, targets=LORA_PROJECTIONS, use_rslora=False):
    """adapter_config.json as PEFT writes it for these settings (the fields that matter; PEFT fills the rest with
    defaults that mean the same). lora_alpha defaults to 2 * rank and is written as an int when it is whole, as PEFT's
    int field; target_modules is a list of module names, which PEFT matches by exact name or ".name" suffix."""
    alpha = 2 * rank if alpha is None else alpha
    return {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_model,
        "r": rank,
        "lora_alpha": int(alpha) if float(alpha).is_integer() else alpha,
        "lora_dropout": 0.0,
        "target_modules": list(targets),
        "use_rslora": use_rslora,
        "bias": "none",
        "fan_in_fan_out": False,
    }


def write_adapter(out_root, config_dict, tensors):
    """Write adapter files under OUT_ROOT/<artifact hash>/ and return the hash."""
    staging = tempfile.mkdtemp(dir=out_root, prefix=".staging-")
    with open(os.path.join(staging, "adapter_config.json"), "w") as f:
        json.dump(config_dict, f, indent=2, sort_keys=True)
    safetensors_io.save_file(tensors, os.path.join(staging, "adapter_model.safetensors"), {"format": "pt"})
    sha = artifact_hash_of_dir(staging)
    final = os.path.join(out_root, sha)
    if os.path.exists(final):
        shutil.rmtree(staging)
    else:
        os.rename(staging, final)
    return sha


def generate_adapters(
    model_dir, out_root, count, rank=16, alpha=None, targets=LORA_PROJECTIONS, seed=0, use_rslora=False
):
    config = ModelConfig.load(model_dir)
    os.makedirs(out_root, exist_ok=True)
    manifest = []
    for i in range(count):
        g = torch.Generator().manual_seed(seed * 1_000_003 + i)  # adapter i is the same whatever the count
        tensors = {}
        for layer in range(config.num_layers):
            for name in targets:
                key = f"base_model.model.{module_path(layer, name)}"
                # std 0.05 each: the update B A * scale is about as large as the base weights (std 0.02), so
                # every adapter visibly changes the generated text
                tensors[f"{key}.lora_A.weight"] = torch.randn(rank, config.in_features(name), generator=g) * 0.05
                tensors[f"{key}.lora_B.weight"] = torch.randn(config.out_features(name), rank, generator=g) * 0.05
        sha = write_adapter(out_root, peft_lora_config(config.name, rank, alpha, targets, use_rslora), tensors)
        manifest.append({"sha256": sha, "rank": rank, "index": i, "seed": seed})
    with open(os.path.join(out_root, "manifest.json"), "w") as f:
        json.dump({"model": config.name, "adapters": manifest}, f, indent=2)
    return [m["sha256"] for m in manifest]
