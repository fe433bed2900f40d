"""LoRA fine-tuning on documents, tokenised by the model's own tokenizer: the base model is frozen, only lora_A /
lora_B learn.

The forward pass is the engine's own (Llama.forward): a causal attention over whole documents packed into one
sequence, and a LoRA object whose apply() adds x A^T B^T * scale with autograd. CPU and a fixed seed make the
run, and so the written adapter and its artifact hash, reproducible byte for byte.
"""

import json
import math
import os
import random
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from . import kernels
from .config import LORA_PROJECTIONS, module_path
from .generate import peft_lora_config, write_adapter
from .model import Llama
from .tokenizer import load_tokenizer

SHORT_TARGETS = {p.split("_")[0]: p for p in LORA_PROJECTIONS}  # q -> q_proj, gate -> gate_proj, ...
# Beside the adapter's files (never part of its artifact hash): what it was trained on, how, and how it went.
TRAINING_MANIFEST = "openpoa-training.json"


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


def pack_sequences(documents, seq_len):
    """Token documents packed one after another into sequences of at most seq_len tokens.

    Returns [(tokens, spans)] with spans [(start, length)] inside each sequence; a document longer than seq_len
    is cut into pieces, each a span of its own (its first token then predicts nothing across the cut).
    """
    sequences, tokens, spans = [], [], []
    for ids in documents:
        for start in range(0, len(ids), seq_len):
            piece = ids[start : start + seq_len]
            if len(tokens) + len(piece) > seq_len:
                sequences.append((tokens, spans))
                tokens, spans = [], []
            spans.append((len(tokens), len(piece)))
            tokens = tokens + piece
    if tokens:
        sequences.append((tokens, spans))
    return sequences


def _batch(sequence):
    """Inputs, positions and next-token labels of one packed sequence (no label across a document's end)."""
    tokens, spans = sequence
    labels = torch.tensor(tokens[1:] + [-100])
    for s, n in spans:
        labels[s + n - 1] = -100
    positions = torch.cat([torch.arange(n) for _, n in spans])
    return torch.tensor(tokens), positions, labels, DocumentAttention(spans)


def sequence_loss(model, lora, sequence, reduction="mean"):
    inputs, positions, labels, attention = _batch(sequence)
    hidden = model.forward(inputs, positions, attention, lora)
    return F.cross_entropy(model.logits(hidden), labels, ignore_index=-100, reduction=reduction)


def mean_loss(model, lora, sequences):
    """Mean next-token loss over every labelled token of the sequences; None when there are none."""
    total, count = 0.0, 0
    with torch.no_grad():
        for sequence in sequences:
            total += sequence_loss(model, lora, sequence, reduction="sum").item()
            count += sum(n - 1 for _, n in sequence[1])
    return total / count if count else None


@dataclass
class TrainConfig:
    rank: int = 64
    alpha: float = None  # default 2 * rank
    steps: int = 160
    lr: float = 5e-3
    seed: int = 0
    targets: tuple = LORA_PROJECTIONS
    seq_len: int = None  # default: the model's context
    holdout: float = 0.0  # share of each dataset's documents kept out of training to measure on

    @property
    def lora_alpha(self):
        return self.alpha if self.alpha is not None else 2 * self.rank


@dataclass
class Dataset:
    """The documents of one source (a datanet version), and what the training manifest says of it."""

    name: str
    texts: list
    meta: dict = field(default_factory=dict)


def split_holdout(datasets, share, seed):
    """(training texts, held-out texts): per dataset, round(share * n) documents, at least one when share > 0 and
    the dataset has two or more, chosen by the seed; the rest trains, in the given order."""
    train, held, counts = [], [], []
    rng = random.Random(seed)
    for ds in datasets:
        n = len(ds.texts)
        k = min(n - 1, max(1, round(share * n))) if share > 0 and n >= 2 else 0
        out = set(rng.sample(range(n), k))
        train += [t for i, t in enumerate(ds.texts) if i not in out]
        held += [t for i, t in enumerate(ds.texts) if i in out]
        counts.append(k)
    return train, held, counts


def train_lora(model, documents, config, log=None, eval_sequences=()):
    """Adam on the next-token loss, one packed sequence per step (seeded order, cycling). Returns (TrainableLora,
    losses per step, held-out loss before and after, tokens trained on)."""
    c = model.config
    sequences = pack_sequences(documents, config.seq_len or c.max_position_embeddings)
    generator = torch.Generator().manual_seed(config.seed)
    lora = TrainableLora(c, config.rank, config.targets, config.lora_alpha / config.rank, generator)
    held_before = mean_loss(model, lora, eval_sequences)
    opt = torch.optim.Adam(lora.parameters(), lr=config.lr)
    # Short linear warm-up, then cosine decay to zero: the peak rate learns fast, the decay settles the loss low.
    steps, warmup = config.steps, max(1, config.steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps))
    )
    order, losses, tokens_seen, started = [], [], 0, time.perf_counter()
    for step in range(steps):
        if not order:
            order = torch.randperm(len(sequences), generator=generator).tolist()
        sequence = sequences[order.pop()]
        loss = sequence_loss(model, lora, sequence)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lora.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        tokens_seen += len(sequence[0])
        if log and (step % max(1, steps // 20) == 0 or step == steps - 1):
            elapsed = time.perf_counter() - started
            rate = tokens_seen / elapsed if elapsed else 0.0
            log(
                json.dumps(
                    {
                        "step": step + 1,
                        "steps": steps,
                        "loss": round(losses[-1], 4),
                        "tokensPerSec": round(rate, 1),
                        "etaSeconds": round(elapsed / (step + 1) * (steps - step - 1), 1),
                    }
                )
            )
    return lora, losses, (held_before, mean_loss(model, lora, eval_sequences)), tokens_seen


def train_adapter(model_dir, datasets, out_root, config=None, log=None, base_artifact_hash=None):
    """Train on the datasets' documents, write OUT_ROOT/<sha256>/ with its training manifest; returns a summary."""
    config = config or TrainConfig()
    torch.manual_seed(config.seed)
    model = Llama.load(model_dir)
    tokenizer = load_tokenizer(model_dir, model.config)
    eos = [] if tokenizer.eos_token_id is None else [tokenizer.eos_token_id]
    encode = lambda text: tokenizer.encode(text) + eos  # noqa: E731
    train_texts, held_texts, held_counts = split_holdout(datasets, config.holdout, config.seed)
    documents = [encode(t) for t in train_texts]
    seq_len = config.seq_len or model.config.max_position_embeddings
    started = time.perf_counter()
    lora, losses, (held_before, held_after), tokens_seen = train_lora(
        model, documents, config, log, pack_sequences([encode(t) for t in held_texts], seq_len)
    )
    seconds = time.perf_counter() - started
    os.makedirs(out_root, exist_ok=True)
    sha = write_adapter(
        out_root, peft_lora_config(model.config.name, config.rank, config.alpha, config.targets), lora.tensors()
    )
    tokens = sum(len(d) for d in documents)
    manifest = {
        "format": "openpoa-training-v1",
        "adapter": sha,
        "baseModel": {"name": model.config.name, "artifactHash": base_artifact_hash},
        "datasets": [
            {"name": ds.name, "documents": len(ds.texts), "heldOut": k, **ds.meta}
            for ds, k in zip(datasets, held_counts)
        ],
        "hyperparameters": {
            "rank": config.rank,
            "loraAlpha": config.lora_alpha,
            "targets": list(config.targets),
            "steps": config.steps,
            "lr": config.lr,
            "seed": config.seed,
            "seqLen": seq_len,
            "holdout": config.holdout,
        },
        "tokens": tokens,
        "losses": [round(x, 6) for x in losses],
        "heldOutLoss": {"before": held_before, "after": held_after},
        "trainSeconds": round(seconds, 2),
    }
    with open(os.path.join(out_root, sha, TRAINING_MANIFEST), "w") as f:
        json.dump(manifest, f, indent=2)
    _append_manifest(
        out_root,
        model.config.name,
        {
            "sha256": sha,
            "rank": config.rank,
            "seed": config.seed,
            "trained_on": [ds.name for ds in datasets],
            "steps": config.steps,
            "lr": config.lr,
        },
    )
    return {
        "sha256": sha,
        "model": model.config.name,
        "documents": len(train_texts),
        "heldOutDocuments": len(held_texts),
        "tokens": tokens,
        "tokensPerSec": round(tokens_seen / seconds, 1),
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "heldOutLoss": {"before": held_before, "after": held_after},
        "train_seconds": round(seconds, 2),
    }


def read_spec(path):
    """--spec FILE: {"datasets": [{"name", "files": [...], "meta": {...}}]}: one document per file."""
    with open(path) as f:
        spec = json.load(f)
    datasets = []
    for ds in spec["datasets"]:
        texts = []
        for file in ds["files"]:
            with open(file, encoding="utf-8") as f:
                texts.append(f.read())
        datasets.append(Dataset(ds["name"], texts, ds.get("meta", {})))
    return datasets


def read_files(paths):
    """--data FILE…: one dataset, one document per file."""
    texts = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            texts.append(f.read())
    return [Dataset(",".join(os.path.basename(p) for p in paths), texts)]


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
