"""LoRA fine-tuning on byte-tokenised documents: the base model is frozen, only lora_A / lora_B learn.

The forward pass is the engine's own (Llama.forward): a causal attention over whole documents packed into one
sequence, and a LoRA object whose apply() adds x A^T B^T * scale with autograd. CPU and a fixed seed make the
run, and so the written adapter and its artifact hash, reproducible byte for byte.
"""

import json
import math
import os
import time

import torch
import torch.nn.functional as F

from . import kernels
from .config import LORA_PROJECTIONS, module_path
from .generate import peft_lora_config, write_adapter
from .model import Llama
from .tokenizer import EOS, ByteTokenizer

SHORT_TARGETS = {p.split("_")[0]: p for p in LORA_PROJECTIONS}  # q -> q_proj, gate -> gate_proj, ...


def parse_targets(spec):
    names = [SHORT_TARGETS.get(t.strip(), t.strip()) for t in spec.split(",") if t.strip()]
    unknown = [n for n in names if n not in LORA_PROJECTIONS]
    if unknown or not names:
        raise ValueError(f"unknown LoRA targets {unknown}; choose from {','.join(SHORT_TARGETS)}")
    return tuple(p for p in LORA_PROJECTIONS if p in names)  # canonical order, whatever order was given


class DocumentAttention:
    """Causal attention within each packed document: spans = [(start, length)]; nothing is cached."""

    def __init__(self, spans):
        self.spans = spans

    def __call__(self, layer, q, k, v):
        return torch.cat([kernels.prefill_attention(q[s : s + n], k[s : s + n], v[s : s + n]) for s, n in self.spans])


class TrainableLora:
    """The same contract as model.LoraBatch.apply, for one adapter on every row, differentiable."""

    def __init__(self, config, rank, targets, scale, generator):
        self.scale, self.a, self.b = scale, {}, {}
        for layer in range(config.num_layers):
            for p in targets:
                fan_in = config.in_features(p)
                # PEFT's init: A uniform (kaiming, a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)); B zero, so step 0 = base
                a = (torch.rand(rank, fan_in, generator=generator) * 2 - 1) / fan_in**0.5
                self.a[(layer, p)] = a.requires_grad_()
                self.b[(layer, p)] = torch.zeros(config.out_features(p), rank, requires_grad=True)

    def parameters(self):
        return [t for key in self.a for t in (self.a[key], self.b[key])]

    def apply(self, layer, group, members, outputs, x):
        # out of place: the outputs are views of one fused GEMM, which autograd does not let us modify in place
        return [
            out + (x @ self.a[(layer, p)].t()) @ self.b[(layer, p)].t() * self.scale if (layer, p) in self.a else out
            for p, out in zip(members, outputs)
        ]

    def tensors(self):
        out = {}
        for (layer, p), a in self.a.items():
            key = f"base_model.model.{module_path(layer, p)}"
            out[f"{key}.lora_A.weight"] = a.detach().clone().contiguous()
            out[f"{key}.lora_B.weight"] = self.b[(layer, p)].detach().clone().contiguous()
        return out


def pack_documents(texts, max_len):
    """Byte tokens of every document (<bos> … <eos>), one after another; spans [(start, length)]."""
    tok, tokens, spans = ByteTokenizer(), [], []
    for text in texts:
        ids = (tok.encode(text) + [EOS])[:max_len]
        spans.append((len(tokens), len(ids)))
        tokens += ids
    return tokens, spans


def train_lora(model, texts, rank=64, steps=160, lr=5e-3, seed=0, targets=LORA_PROJECTIONS, alpha=None, log=None):
    """Adam on the mean next-token loss of all documents at once. Returns (TrainableLora, losses per step)."""
    c = model.config
    tokens, spans = pack_documents(texts, c.max_position_embeddings)
    inputs = torch.tensor(tokens)
    positions = torch.cat([torch.arange(n) for _, n in spans])
    # Targets: the next token inside the same document; the last token of each document predicts nothing.
    labels = torch.tensor(tokens[1:] + [-100])
    for s, n in spans:
        labels[s + n - 1] = -100
    lora = TrainableLora(
        c, rank, targets, (alpha if alpha is not None else 2 * rank) / rank, torch.Generator().manual_seed(seed)
    )
    opt = torch.optim.Adam(lora.parameters(), lr=lr)
    # Short linear warm-up, then cosine decay to zero: the peak rate learns fast, the decay settles the loss low.
    warmup = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps))
    )
    attention, losses = DocumentAttention(spans), []
    for step in range(steps):
        hidden = model.forward(inputs, positions, attention, lora)
        loss = F.cross_entropy(model.logits(hidden), labels, ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lora.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if log and (step % 25 == 0 or step == steps - 1):
            log(f"step {step} loss {losses[-1]:.4f}")
    return lora, losses


def train_adapter(
    model_dir, data_files, out_root, rank=64, steps=160, lr=5e-3, seed=0, targets=LORA_PROJECTIONS, alpha=None, log=None
):
    """Train on the files (one document each), write OUT_ROOT/<sha256>/ and its manifest entry; returns a summary."""
    torch.manual_seed(seed)
    model = Llama.load(model_dir)
    texts = []
    for path in data_files:
        with open(path, encoding="utf-8") as f:
            texts.append(f.read())
    started = time.perf_counter()
    lora, losses = train_lora(model, texts, rank, steps, lr, seed, targets, alpha, log)
    seconds = time.perf_counter() - started
    os.makedirs(out_root, exist_ok=True)
    sha = write_adapter(out_root, peft_lora_config(model.config.name, rank, alpha, targets), lora.tensors())
    entry = {
        "sha256": sha,
        "rank": rank,
        "seed": seed,
        "trained_on": [os.path.basename(p) for p in data_files],
        "steps": steps,
        "lr": lr,
    }
    _append_manifest(out_root, model.config.name, entry)
    return {
        "sha256": sha,
        "model": model.config.name,
        "documents": len(texts),
        "tokens": sum(len(t.encode("utf-8")) + 2 for t in texts),
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "train_seconds": round(seconds, 2),
    }


def _append_manifest(out_root, model_name, entry):
    """manifest.json as generate-adapters writes it; an entry with the same sha256 is replaced, not repeated."""
    path = os.path.join(out_root, "manifest.json")
    manifest = {"model": model_name, "adapters": []}
    if os.path.exists(path):
        with open(path) as f:
            manifest = json.load(f)
    manifest["adapters"] = [a for a in manifest.get("adapters", []) if a.get("sha256") != entry["sha256"]] + [entry]
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2)
