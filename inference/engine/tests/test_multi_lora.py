"""A batch mixing adapters (and adapter-less rows) equals running each adapter merged into the base weights.

Tolerance (fp32): logits agree to 5e-5 absolute (observed <= 8e-6, logits of magnitude ~10; a 1% error in
the LoRA scale shows as 1e-3), and greedy
generations are token-for-token identical.
"""

import os

import torch

from conftest import acquire, make_cache, make_scheduler, packed_prefill, run_to_completion
from openpoa_engine import safetensors_io
from openpoa_engine.adapters import parse_adapter, read_artifact
from openpoa_engine.config import module_path
from openpoa_engine.kernels import BgmvPlan
from openpoa_engine.model import DecodeAttention, KVCache, Llama, LoraBatch, PrefillAttention
from openpoa_engine.scheduler import Request, SamplingParams
from openpoa_engine.tokenizer import ByteTokenizer

ATOL = 5e-5


def merged_model(model_dir, model, root, sha):
    weights = {}
    for path in safetensors_io.checkpoint_files(model_dir):
        weights.update(safetensors_io.load_file(path))
    lora = parse_adapter(*read_artifact(os.path.join(root, sha)), model.config)
    for (layer, projection), a in lora.a.items():
        key = f"{module_path(layer, projection)}.weight"
        weights[key] = weights[key] + lora.scale * lora.b[(layer, projection)] @ a
    return Llama(model.config, weights)


def teacher_forced_logits(model, tokens, lora_pages=None, cache=None):
    """Logits at every position: prefill of tokens[:4], then one decode step per remaining token (batch of one)."""
    kv = KVCache(model.config, 1, len(tokens), "cpu", torch.float32)
    lora = None
    if lora_pages:
        lora = LoraBatch(cache.device_tier.shrink, cache.device_tier.expand, segments=[(0, 4, lora_pages)])
    hidden = model.forward(torch.tensor(tokens[:4]), torch.arange(4), PrefillAttention(kv, [(0, 0, 4)]), lora)
    logits = [model.logits(hidden)]
    for pos in range(4, len(tokens)):
        positions = torch.tensor([pos])
        if lora_pages:
            lora = LoraBatch(
                cache.device_tier.shrink, cache.device_tier.expand, plan=BgmvPlan.build([lora_pages], "cpu")
            )
        logits.append(
            model.logits(model.forward(torch.tensor([tokens[pos]]), positions, DecodeAttention(kv, positions), lora))
        )
    return torch.cat(logits)


def test_mixed_batch_logits_equal_merged_models(model_dir, model, adapters):
    root, shas = adapters
    chosen = [shas["r8"][0], None, shas["r40"][0], shas["r16"][1], shas["attn_rslora"][0], shas["r8"][0], None]
    cache = make_cache(model, root)
    pages = [acquire(cache, s) if s else None for s in chosen]
    tok = ByteTokenizer()
    prompts = [
        tok.encode(t) for t in ("Hello there", "abc", "The quick brown", "x y z w", "LoRA!", "Hello there", "zz")
    ]
    n, steps = len(chosen), 6

    # Engine path: packed prefill with SGMV segments, then batched decode with BGMV, rows with different lengths.
    kv = KVCache(model.config, n, 64, "cpu", torch.float32)
    hidden, spans = packed_prefill(model, cache, kv, prompts, pages)
    last = torch.tensor([s + length - 1 for _, s, length in spans])
    engine_logits = [[row] for row in model.logits(hidden.index_select(0, last))]
    forced = torch.randint(0, 256, (steps, n), generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([len(p) for p in prompts])
    plan = BgmvPlan.build(pages, "cpu")
    for step in range(steps):
        lora = LoraBatch(cache.device_tier.shrink, cache.device_tier.expand, plan=plan)
        out = model.logits(model.forward(forced[step], lengths, DecodeAttention(kv, lengths), lora))
        for row in range(n):
            engine_logits[row].append(out[row])
        lengths = lengths + 1

    for row, sha in enumerate(chosen):
        reference = merged_model(model_dir, model, root, sha) if sha else model
        sequence = prompts[row] + forced[:, row].tolist()
        kv_ref = KVCache(model.config, 1, 64, "cpu", torch.float32)
        t = len(prompts[row])
        expected = [
            reference.logits(
                reference.forward(torch.tensor(prompts[row]), torch.arange(t), PrefillAttention(kv_ref, [(0, 0, t)]))
            )[-1]
        ]
        for pos in range(t, len(sequence)):
            p = torch.tensor([pos])
            expected.append(
                reference.logits(reference.forward(torch.tensor([sequence[pos]]), p, DecodeAttention(kv_ref, p)))[0]
            )
        torch.testing.assert_close(torch.stack(engine_logits[row]), torch.stack(expected), rtol=0, atol=ATOL)
        if sha:  # the adapter must actually change the output, or this test proves nothing
            assert (torch.stack(expected) - teacher_forced_logits(model, sequence)[t - 1 :]).abs().max() > 0.05


def test_greedy_generation_through_scheduler_equals_merged_models(model_dir, model, adapters):
    root, shas = adapters
    chosen = [shas["r16"][0], None, shas["r40"][0], shas["r8"][2]]
    prompts = ["one", "two two", "three three three", "four"]
    scheduler = make_scheduler(model, root)
    results = {}
    for i, (sha, prompt) in enumerate(zip(chosen, prompts)):
        params = SamplingParams(max_tokens=12, temperature=0.0, ignore_eos=True)
        scheduler.submit(
            Request(
                f"r{i}",
                ByteTokenizer().encode(prompt),
                params,
                sha,
                lambda e, i=i: results.__setitem__(i, e) if e["type"] == "done" else None,
            )
        )
    run_to_completion(scheduler)

    def alone(reference, prompt):
        scheduler, out = make_scheduler(reference, root), {}
        params = SamplingParams(max_tokens=12, temperature=0.0, ignore_eos=True)
        emit = lambda e: out.__setitem__("done", e) if e["type"] == "done" else None  # noqa: E731
        scheduler.submit(Request("a", ByteTokenizer().encode(prompt), params, None, emit))
        run_to_completion(scheduler)
        return out["done"]["text"]

    changed = 0
    for i, (sha, prompt) in enumerate(zip(chosen, prompts)):
        merged = merged_model(model_dir, model, root, sha) if sha else model
        assert results[i]["text"] == alone(merged, prompt), i
        changed += bool(sha) and results[i]["text"] != alone(model, prompt)
    assert changed >= 2  # generated adapters change the text (greedy decoding can still fall into the same loop)
