"""The lent GPU's one prepared run (issue 21), in order, printing progress and saving results after every phase:
1. the kernel tests on CUDA (Triton BGMV/SGMV, the graph-safe decode step);
2. numerics: bf16 logits of a mixed batch (adapters and base rows) against transformers + peft on the same random
   weights (Llama-3-8B shapes, 2 layers), through the engine's prefill (SGMV) and graph-replayed decode (BGMV);
3. the benchmark on Llama-3-8B shapes (random bf16 weights, 32 layers): batch 64, prompt 512, decode tokens/s of the
   engine (base; 64 distinct rank-16 adapters on all seven projections; the gather + bmm fallback for comparison),
   the copy-bandwidth bounds, cold adapter loads from pinned memory, a sweep of distinct adapters through a device
   tier that holds fewer, and the peers measured in the same run: transformers' generate and peft's mixed batch.
Writes --out (JSON, the keys of bench/results/engine-gpu.json) and --chart (PNG of the sweep, when PIL is there).

--cpu-smoke runs the same code on the CPU with tiny shapes (peers only when transformers and peft import), so that
pytest proves the script executes; --chart-only redraws the PNG from a JSON file.
"""

import argparse
import contextlib
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, replace

import torch

ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(os.path.dirname(ENGINE_DIR))
sys.path.insert(0, ENGINE_DIR)

from openpoa_engine import kernels  # noqa: E402
from openpoa_engine.adapter_cache import DeviceTier, adapter_pages  # noqa: E402
from openpoa_engine.adapters import HostAdapter  # noqa: E402
from openpoa_engine.config import LLAMA3_8B, LORA_PROJECTIONS, ModelConfig  # noqa: E402
from openpoa_engine.model import Llama, LoraBatch, PagedKVCache, PagedPrefillAttention  # noqa: E402
from openpoa_engine.static_decode import StaticDecode  # noqa: E402

START = time.perf_counter()
BLOCK = 16


@dataclass(frozen=True)
class Shapes:
    model: ModelConfig
    numerics_model: ModelConfig
    batch: int = 64
    prompt: int = 512
    steps: int = 32  # timed decode steps
    rank: int = 16
    tier_adapters: int = 128  # device tier size in adapters, for the sweep
    sweep: tuple = (1, 8, 64, 256, 1000)
    sweep_steps: int = 16
    turnover: int = 4  # rows that switch to a newly drawn adapter every sweep step
    host_sets: int = 16  # distinct pinned weight sets behind the sweep's adapter identities
    numerics_batch: int = 8
    numerics_prompt: int = 24
    peft_steps: int = 2


FULL = Shapes(model=replace(LLAMA3_8B, name="llama-3-8b-shapes"), numerics_model=replace(LLAMA3_8B, num_layers=2))
TINY = ModelConfig(
    vocab_size=256, hidden_size=64, intermediate_size=128, num_layers=2, num_heads=4, num_kv_heads=2, head_dim=16
)
SMOKE = Shapes(
    model=TINY,
    numerics_model=TINY,
    batch=4,
    prompt=8,
    steps=3,
    rank=4,
    tier_adapters=6,
    sweep=(1, 4, 12),
    sweep_steps=3,
    turnover=1,
    host_sets=3,
    numerics_batch=5,
    numerics_prompt=10,
    peft_steps=1,
)


def log(message):
    print(f"[{time.perf_counter() - START:7.1f}s] {message}", flush=True)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(device, fn):
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return time.perf_counter() - start, result


def on(device):
    """Allocate new tensors on the device (torch >= 2.0's device context; the CPU needs none)."""
    return torch.device(device) if device.type == "cuda" else contextlib.nullcontext()


# -- models and adapters, random, on the device --


def hf_model(config, device, dtype):
    from transformers import LlamaConfig, LlamaForCausalLM

    hf_config = LlamaConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_kv_heads,
        head_dim=config.head_dim,
        rms_norm_eps=config.rms_norm_eps,
        rope_theta=config.rope_theta,
        max_position_embeddings=config.max_position_embeddings,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    with on(device):
        return LlamaForCausalLM(hf_config).to(dtype).eval()


def random_weights(config, device, dtype):
    """The state dict transformers would hold for this config, random (std 0.02), without transformers."""
    c, g = config, torch.Generator(device).manual_seed(0)

    def normal(*shape):
        return (torch.randn(*shape, generator=g, device=device) * 0.02).to(dtype)

    weights = {
        "model.embed_tokens.weight": normal(c.vocab_size, c.hidden_size),
        "lm_head.weight": normal(c.vocab_size, c.hidden_size),
    }
    weights["model.norm.weight"] = torch.ones(c.hidden_size, device=device, dtype=dtype)
    for i in range(c.num_layers):
        for p in LORA_PROJECTIONS:
            block = "self_attn" if p in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
            weights[f"model.layers.{i}.{block}.{p}.weight"] = normal(c.out_features(p), c.in_features(p))
        for norm in ("input_layernorm", "post_attention_layernorm"):
            weights[f"model.layers.{i}.{norm}.weight"] = torch.ones(c.hidden_size, device=device, dtype=dtype)
    return weights


def random_adapter(config, rank, seed, device, dtype):
    """(lora_A {projection: [layers, r, in]}, lora_B {projection: [layers, out, r]}): std 0.05 each, so with scale 2
    the update is about as large as the base weights."""
    g = torch.Generator(device).manual_seed(1000 + seed)
    c = config

    def normal(*shape):
        return (torch.randn(*shape, generator=g, device=device) * 0.05).to(dtype)

    a = {p: normal(c.num_layers, rank, c.in_features(p)) for p in LORA_PROJECTIONS}
    return a, {p: normal(c.num_layers, c.out_features(p), rank) for p in LORA_PROJECTIONS}


def host_adapter(adapter, rank, dtype, scale=2.0):
    """The engine's HostAdapter of a random adapter (scale folded into b), on the adapter's own device."""
    a, b = adapter
    b = {p: (t * scale).transpose(1, 2).to(dtype).contiguous() for p, t in b.items()}  # [layers, r, out]
    return HostAdapter(rank, {p: t.to(dtype) for p, t in a.items()}, b)


def lora_dtype(device, dtype):
    return kernels.lora_pool_dtype(device, dtype)


def tier_for(config, adapters, rank, device, dtype):
    pages = adapters * adapter_pages(config, rank, LORA_PROJECTIONS)
    return DeviceTier(config, pages, device, lora_dtype(device, dtype))


# -- the engine: packed prefill (SGMV), then a StaticDecode --


def engine_prefill(model, kv, tables, prompts, pages, tier):
    """Prompts packed into one forward, each from position 0 into its block table; pages: per prompt a PageTable or
    None. Returns the hidden states [sum of lengths, hidden]."""
    device = model.device
    tokens, positions, chunks, segments, row = [], [], [], [], 0
    for prompt, table, page in zip(prompts, tables, pages):
        tokens += prompt
        positions += range(len(prompt))
        chunks.append((table, row, len(prompt), 0))
        if page:
            segments.append((row, row + len(prompt), page))
        row += len(prompt)
    lora = LoraBatch(tier.shrink, tier.expand, segments=segments) if segments else None
    tokens, positions = torch.tensor(tokens, device=device), torch.tensor(positions, device=device)
    return model.forward(tokens, positions, PagedPrefillAttention(kv, chunks, device), lora)


def kv_for(model, rows, length, decoders=1):
    """A paged KV cache with a block table per row, grown to `length` tokens (as StaticDecode requires), and a free
    block for each of `decoders` StaticDecodes' sinks."""
    blocks = -(-length // BLOCK)
    kv = PagedKVCache(model.config, rows * blocks + decoders, BLOCK, model.device, model.dtype)
    tables = []
    for _ in range(rows):
        kv.allocator.reserve(blocks)
        tables.append([])
        kv.allocator.grow(tables[-1], length)
    return kv, tables, blocks


def random_prompts(config, rows, length, seed):
    rng = random.Random(seed)
    return [[rng.randrange(config.vocab_size) for _ in range(length)] for _ in range(rows)]


# -- phases --


def kernel_tests():
    """The engine's kernel tests (on CUDA where there is one: the Triton ones compile and run there)."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    tests = ["tests/test_triton_kernels.py", "tests/test_kernels.py", "tests/test_static_decode.py"]
    seconds, done = timed(
        torch.device("cpu"),
        lambda: subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rs", *tests],
            cwd=ENGINE_DIR,
            env=env,
            capture_output=True,
            text=True,
        ),
    )
    print(done.stdout[-3000:], done.stderr[-2000:], flush=True)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "no output"
    return {"passed": done.returncode == 0, "summary": summary, "seconds": round(seconds, 1)}


def numerics(shapes, device, dtype):
    """The engine's logits against transformers + peft for a mixed batch: rows with one of 3 adapters or none.
    Prefill (SGMV) of the first half of each prompt, then teacher-forced decode steps (StaticDecode, BGMV)."""
    from peft import LoraConfig, get_peft_model

    config, rank, rows, length = shapes.numerics_model, shapes.rank, shapes.numerics_batch, shapes.numerics_prompt
    hf = hf_model(config, device, dtype)
    model = Llama(config, hf.state_dict(), device, dtype)
    adapters = [random_adapter(config, rank, i, device, torch.float32) for i in range(3)]
    row_adapter = [i % 4 - 1 for i in range(rows)]  # -1: the base model
    prompts = random_prompts(config, rows, length, seed=1)
    with torch.no_grad():
        hf_base = hf(torch.tensor(prompts, device=device)).logits.float()
        lora_config = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=list(LORA_PROJECTIONS), lora_dropout=0.0)
        peft_model = get_peft_model(hf, lora_config, adapter_name="a0")
        for i in range(1, len(adapters)):
            peft_model.add_adapter(f"a{i}", lora_config)
        load_peft(peft_model, adapters, config)
        peft_model.to(dtype).eval()  # add_adapter may upcast adapters to fp32; mixed batches need eval mode
        reference = torch.empty_like(hf_base)
        for i in set(row_adapter):  # per adapter (peft's set_adapter; its mixed batch needs torch >= 2.0)
            rows_i = [r for r in range(rows) if row_adapter[r] == i]
            tokens = torch.tensor([prompts[r] for r in rows_i], device=device)
            peft_model.set_adapter(f"a{max(i, 0)}")
            with peft_model.disable_adapter() if i < 0 else contextlib.nullcontext():
                reference[rows_i] = peft_model(tokens).logits.float()
        del peft_model, hf

        tier = tier_for(config, len(adapters), rank, device, dtype)
        tables = [tier.place(f"a{i}", host_adapter(a, rank, tier.pool.dtype)) for i, a in enumerate(adapters)]
        tier.await_placements()
        pages = [tables[i] if i >= 0 else None for i in row_adapter]
        kv, block_tables, blocks = kv_for(model, rows, length)
        split = length // 2
        hidden = engine_prefill(model, kv, block_tables, [p[:split] for p in prompts], pages, tier)
        got = [model.logits(hidden.view(rows, split, -1)[:, -1])]
        decode = StaticDecode(model, kv, rows, blocks, (tier.shrink, tier.expand), max_rank=rank)
        decode.set_rows([p[split] for p in prompts], [split] * rows, block_tables, pages)
        for t in range(split, length - 1):
            got.append(decode.step()[:rows].clone())
            decode.advance(torch.tensor([p[t + 1] for p in prompts], device=device))
    got = torch.stack(got, 1)  # [rows, positions split-1 .. length-2, vocab]
    want = reference[:, split - 1 : length - 1]
    diff = (got - want).abs()
    lora_rows = torch.tensor([i >= 0 for i in row_adapter], device=device)
    effect = (want - hf_base[:, split - 1 : length - 1]).abs()[lora_rows].mean()
    cosine = torch.nn.functional.cosine_similarity(got.flatten(1), want.flatten(1), dim=1).min()
    result = {
        "model": f"{config.num_layers} layers, hidden {config.hidden_size}, {dtype_name(dtype)}",
        "rows": rows,
        "adapters": len(adapters),
        "maxAbsDiff": round(diff.max().item(), 4),
        "meanAbsDiff": round(diff.mean().item(), 5),
        "maxAbsLogit": round(want.abs().max().item(), 3),
        "meanAbsLoraEffect": round(effect.item(), 4),  # how far the adapters move the logits: the check's scale
        "minRowCosine": round(cosine.item(), 6),
        "top1Agreement": round((got.argmax(-1) == want.argmax(-1)).float().mean().item(), 4),
    }
    result["ok"] = result["minRowCosine"] > 0.999 and result["meanAbsDiff"] < 0.1 * result["meanAbsLoraEffect"]
    return result


def load_peft(peft_model, adapters, config):
    """Copy each random adapter into peft's LoRA layers (lora_A [r, in], lora_B [out, r])."""
    layers = peft_model.base_model.model.model.layers
    for i, (a, b) in enumerate(adapters):
        for layer in range(config.num_layers):
            for p in LORA_PROJECTIONS:
                block = layers[layer].self_attn if hasattr(layers[layer].self_attn, p) else layers[layer].mlp
                module = getattr(block, p)
                module.lora_A[f"a{i}"].weight.data.copy_(a[p][layer])
                module.lora_B[f"a{i}"].weight.data.copy_(b[p][layer])


def dtype_name(dtype):
    return str(dtype).replace("torch.", "")


def copy_bandwidth(device, nbytes):
    """Device memory bandwidth from a large copy: bytes read + written per second."""
    src = torch.empty(nbytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    seconds, _ = timed(device, lambda: [dst.copy_(src) for _ in range(10)])
    return 2 * nbytes * 10 / seconds


def decode_rate(decode, device, steps, rows):
    """Tokens/s of `steps` graph-replayed steps (after two warm-up steps that compile and capture), each with the
    greedy next token fed back on the device."""

    def run(n):
        for _ in range(n):
            decode.advance(decode.step()[:rows].argmax(-1))

    run(2)
    seconds, _ = timed(device, lambda: run(steps))
    return rows * steps / seconds


def engine_bench(shapes, model, device, dtype, results, phase):
    """The engine's part of the benchmark, each measurement its own phase (one failing leaves the others)."""
    config, rows, rank = shapes.model, shapes.batch, shapes.rank
    length = shapes.prompt + max(shapes.steps + 2, shapes.sweep_steps + 1) + 1  # every phase decodes from the prompt
    kv, tables, blocks = kv_for(model, rows, length, decoders=3 + len(shapes.sweep))
    prompts = random_prompts(config, rows, shapes.prompt, seed=2)
    tier = tier_for(config, max(shapes.tier_adapters, rows + 1), rank, device, dtype)
    adapters = [
        host_adapter(random_adapter(config, rank, i, device, dtype), rank, tier.pool.dtype) for i in range(rows)
    ]
    pages = [tier.place(f"bench{i}", a) for i, a in enumerate(adapters)]
    tier.await_placements()
    first = [p[-1] for p in prompts]
    with torch.no_grad():
        phase("prefill", lambda: results.update(prefill_rates(shapes, model, kv, tables, prompts, pages, tier, device)))
        phase("decode", lambda: results.update(decode_rates(shapes, model, kv, tables, blocks, first, tier, pages)))
        phase("bounds", lambda: results.update(bounds(shapes, model, tier.pool.dtype, device, dtype, results)))
        pinned = [pinned_copy(a, config, rank, tier.pool.dtype, device) for a in adapters[: shapes.host_sets]]
        del adapters
        phase("cold loads", lambda: results.update(cold_loads(tier, pinned[0], device)))
        phase("sweep", lambda: results.update(sweep=sweep(shapes, model, kv, tables, blocks, first, pinned, device)))


def prefill_rates(shapes, model, kv, tables, prompts, pages, tier, device):
    """Prefill tokens/s: every prompt without adapters (chunks of an eighth of the batch), then one chunk with
    a distinct adapter a row (SGMV, one segment each)."""
    rows, chunk = shapes.batch, max(1, shapes.batch // 8)
    base = 0.0
    for i in range(0, rows, chunk):
        base += timed(
            model.device,
            lambda: engine_prefill(model, kv, tables[i : i + chunk], prompts[i : i + chunk], [None] * chunk, tier),
        )[0]
    mixed, _ = timed(device, lambda: engine_prefill(model, kv, tables[:chunk], prompts[:chunk], pages[:chunk], tier))
    return {
        "enginePrefillTokensPerSec": round(rows * shapes.prompt / base),
        "engineMixedPrefillTokensPerSec": round(chunk * shapes.prompt / mixed),
    }


def decode_rates(shapes, model, kv, tables, blocks, first, tier, pages):
    """Decode tokens/s of the base model, of a distinct adapter a row, and (CUDA) of the gather + bmm fallback."""
    rows, rank, device = shapes.batch, shapes.rank, model.device
    rates = {}
    for key, lora, triton in (
        ("baseTokensPerSec", None, True),
        ("multiAdapterTokensPerSec", (tier.shrink, tier.expand), True),
        ("gatherMixedTokensPerSec", (tier.shrink, tier.expand), False),
    ):
        if not triton and device.type != "cuda":
            continue  # the CPU has no Triton path to compare with
        kernels.use_triton = triton
        try:
            decode = StaticDecode(model, kv, rows, blocks, lora, max_rank=rank)
            decode.set_rows(first, [shapes.prompt] * rows, tables, pages if lora else None)
            rates[key] = round(decode_rate(decode, device, shapes.steps, rows), 1)
        finally:
            kernels.use_triton = True
        log(f"{key}: {rates[key]}")
    return rates


def bounds(shapes, model, lora_dtype, device, dtype, results):
    """Decode bounds from the device copy bandwidth: the bytes a step must read (weights without the embedding
    table, the keys and values at the timed steps' mean length, and for the mixed batch each row's adapter)."""
    config, rows = shapes.model, shapes.batch
    bandwidth = copy_bandwidth(device, (2 << 30) if device.type == "cuda" else (64 << 20))
    elem = torch.empty((), dtype=dtype).element_size()
    weights = sum(t.numel() for layer in model.layers for t in vars(layer).values())
    weight_bytes = elem * (weights + model.lm_head.numel() + model.norm.numel())
    kv_length = shapes.prompt + shapes.steps // 2 + 3
    kv_bytes = rows * kv_length * config.num_layers * 2 * config.kv_size * elem
    adapter_bytes = rows * HostAdapter.nbytes_of(shapes.rank, LORA_PROJECTIONS, config, lora_dtype)
    base_bound = rows * bandwidth / (weight_bytes + kv_bytes)
    mixed_bound = rows * bandwidth / (weight_bytes + kv_bytes + adapter_bytes)
    out = {
        "copyBandwidthGBs": round(bandwidth / 1e9, 1),
        "stepBytesGB": {
            k: round(v / 1e9, 2) for k, v in (("weights", weight_bytes), ("kv", kv_bytes), ("adapters", adapter_bytes))
        },
        "baseBoundTokensPerSec": round(base_bound, 1),
        "mixedBoundTokensPerSec": round(mixed_bound, 1),
    }
    if "baseTokensPerSec" in results:
        out["baseFractionOfBound"] = round(results["baseTokensPerSec"] / base_bound, 3)
    if "multiAdapterTokensPerSec" in results:
        out["mixedFractionOfBound"] = round(results["multiAdapterTokensPerSec"] / mixed_bound, 3)
    return out


def pinned_copy(adapter, config, rank, dtype, device):
    host = HostAdapter.empty(rank, LORA_PROJECTIONS, config, dtype, pin=device.type == "cuda")
    for p in LORA_PROJECTIONS:
        host.a[p].copy_(adapter.a[p])
        host.b[p].copy_(adapter.b[p])
    return host


def cold_loads(tier, host, device, reps=5):
    """Median ms of a pinned adapter's copy to the device alone, and of DeviceTier.place (the copy, the page layout,
    the index tensors) of an adapter that is not resident."""
    copies, places = [], []
    for i in range(reps):
        copies.append(
            timed(device, lambda: [t.to(device, non_blocking=True) for t in (*host.a.values(), *host.b.values())])[0]
        )
        places.append(timed(device, lambda: tier.place(f"cold{i}", host))[0])
        tier.remove(f"cold{i}")
    return {
        "coldLoadMs": round(statistics.median(places) * 1e3, 2),
        "coldCopyMs": round(statistics.median(copies) * 1e3, 2),
        "coldLoadMB": round(host.nbytes / 1e6, 3),
    }


def sweep(shapes, model, kv, tables, blocks, first, pinned, device):
    """Decode tokens/s while rows switch adapters: each step `turnover` rows take an adapter drawn uniformly from
    `distinct` identities (as when a request ends and another joins); one not on the device is placed from pinned
    host memory, evicting the least recently used unpinned one, within the step's time. Identities share `host_sets`
    pinned weight sets (a copy costs the same whatever the weights). Prefill is not included: rows keep their keys."""
    rows, rank = shapes.batch, shapes.rank
    points = []
    for distinct in shapes.sweep:
        tier = tier_for(shapes.model, shapes.tier_adapters, rank, device, model.dtype)
        rng, loads = random.Random(distinct), [0]
        row_sha = [f"id{i % distinct}" for i in range(rows)]

        def place(sha):
            loads[0] += sha not in tier.tables
            table = tier.place(sha, pinned[int(sha[2:]) % len(pinned)])
            tier.pages.pin(sha)
            tier.await_placements()  # the next step reads it
            return table

        pages = [place(sha) for sha in row_sha]
        decode = StaticDecode(model, kv, rows, blocks, (tier.shrink, tier.expand), max_rank=rank)
        decode.set_rows(first, [shapes.prompt] * rows, tables, pages)
        decode.advance(decode.step()[:rows].argmax(-1))  # compile and capture
        loads[0] = 0

        def run():
            for _ in range(shapes.sweep_steps):
                for r in rng.sample(range(rows), shapes.turnover):
                    tier.pages.unpin(row_sha[r])
                    row_sha[r] = f"id{rng.randrange(distinct)}"
                    pages[r] = place(row_sha[r])
                decode.plan.refill(pages)  # the rows keep their tokens and positions on the device
                decode.advance(decode.step()[:rows].argmax(-1))

        seconds, _ = timed(device, run)
        points.append(
            {
                "distinctAdapters": distinct,
                "tokensPerSec": round(rows * shapes.sweep_steps / seconds, 1),
                "loadsPerStep": round(loads[0] / shapes.sweep_steps, 2),
            }
        )
        log(f"sweep {points[-1]}")
    return points


def peers(shapes, hf, device, dtype, results, save):
    """transformers' generate (base) and peft's mixed batch (one distinct adapter a row), decode tokens/s from the
    difference of two generate calls (1 token, then 1 + k: the prefill cancels out)."""
    from peft import LoraConfig, get_peft_model

    rows, config = shapes.batch, shapes.model
    prompts = torch.tensor(random_prompts(config, rows, shapes.prompt, seed=3), device=device)

    def rate(model, k, **kwargs):
        def generate(n):
            return model.generate(
                input_ids=prompts,
                attention_mask=torch.ones_like(prompts),
                max_new_tokens=n,
                min_new_tokens=n,
                do_sample=False,
                pad_token_id=0,
                **kwargs,
            )

        generate(1)  # warm-up
        one, _ = timed(device, lambda: generate(1))
        more, _ = timed(device, lambda: generate(1 + k))
        return rows * k / (more - one)

    with torch.no_grad():
        log("transformers generate, base")
        results["hfBaseTokensPerSec"] = round(rate(hf, shapes.steps), 1)
        log(f"transformers: {results['hfBaseTokensPerSec']} tokens/s")
        save()
        log(f"peft: {rows} adapters")
        lora_config = LoraConfig(
            r=shapes.rank, lora_alpha=2 * shapes.rank, target_modules=list(LORA_PROJECTIONS), lora_dropout=0.0
        )
        peft_model = get_peft_model(hf, lora_config, adapter_name="a0")
        for i in range(1, rows):
            peft_model.add_adapter(f"a{i}", lora_config)
        load_peft(peft_model, [random_adapter(config, shapes.rank, i, device, dtype) for i in range(rows)], config)
        peft_model.to(dtype).eval()
        log("peft mixed batch generate")
        results["peftMixedTokensPerSec"] = round(
            rate(peft_model, shapes.peft_steps, adapter_names=[f"a{i}" for i in range(rows)]), 2
        )
        log(f"peft: {results['peftMixedTokensPerSec']} tokens/s")
        save()


def targets(results):
    get = results.get
    checks = {
        "fractionsAtLeast0.70": get("baseFractionOfBound", 0) >= 0.7 and get("mixedFractionOfBound", 0) >= 0.7,
        "mixedAtLeast100xPeft": bool(get("peftMixedTokensPerSec"))
        and get("multiAdapterTokensPerSec", 0) >= 100 * get("peftMixedTokensPerSec"),
        "baseAtLeast2xHf": bool(get("hfBaseTokensPerSec"))
        and get("baseTokensPerSec", 0) >= 2 * get("hfBaseTokensPerSec"),
        "coldLoadAtMost5ms": get("coldLoadMs", math.inf) <= 5,
    }
    return checks


def chart(results, path):
    """Bars of decode tokens/s per distinct-adapter count of the sweep, the base rate as a line (PIL)."""
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        log("no PIL: chart skipped (redraw later with --chart-only)")
        return False
    points = results["sweep"]
    width, height, left, bottom, top = 720, 400, 70, 50, 40
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    peak = max([p["tokensPerSec"] for p in points] + [results.get("baseTokensPerSec", 0)]) * 1.1
    scale = (height - top - bottom) / peak
    slot = (width - left - 20) / len(points)
    draw.line([(left, top), (left, height - bottom), (width - 10, height - bottom)], fill="black")
    for i, p in enumerate(points):
        x0, y0 = left + i * slot + slot * 0.2, height - bottom - p["tokensPerSec"] * scale
        draw.rectangle([x0, y0, x0 + slot * 0.6, height - bottom], fill=(70, 110, 180))
        draw.text((x0, y0 - 14), f"{p['tokensPerSec']:.0f}", fill="black")
        draw.text((x0, height - bottom + 6), f"{p['distinctAdapters']} distinct", fill="black")
    if results.get("baseTokensPerSec"):
        y = height - bottom - results["baseTokensPerSec"] * scale
        draw.line([(left, y), (width - 10, y)], fill=(200, 60, 60))
        draw.text((width - 220, y - 14), f"base model {results['baseTokensPerSec']:.0f} tok/s", fill=(200, 60, 60))
    draw.text((left, 10), f"Decode tokens/s, batch {results['model']['batch']}, {results['device']}", fill="black")
    draw.text((10, top - 14), "tok/s", fill="black")
    image.save(path)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny shapes on the CPU")
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "bench/results/engine-gpu.json"))
    parser.add_argument("--chart", default=os.path.join(REPO_ROOT, "docs/engine-gpu-sweep.png"))
    parser.add_argument("--chart-only", action="store_true", help="redraw --chart from --out")
    parser.add_argument("--skip-tests", action="store_true", help="skip phase 1 (the kernel tests)")
    args = parser.parse_args(argv)
    if args.chart_only:
        with open(args.out) as f:
            return chart(json.load(f), args.chart)
    shapes = SMOKE if args.cpu_smoke else FULL
    device = torch.device("cpu" if args.cpu_smoke else "cuda")
    dtype = torch.bfloat16
    results = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else f"cpu ({platform.machine()})",
        "model": {
            **shapes.model.summary(),
            "dtype": dtype_name(dtype),
            "batch": shapes.batch,
            "prompt": shapes.prompt,
            "adapterRank": shapes.rank,
            "adapterTargets": ",".join(LORA_PROJECTIONS),
        },
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
    }
    for name in ("triton", "transformers", "peft"):
        with contextlib.suppress(ImportError):
            results["versions"][name] = __import__(name).__version__

    def save():
        results["targets"] = targets(results)
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")

    def phase(name, run):
        """A failed phase is recorded and the next one still runs: the device run happens once."""
        log(f"phase: {name}")
        try:
            run()
        except Exception as e:
            traceback.print_exc()
            results.setdefault("errors", {})[name] = f"{type(e).__name__}: {e}"[:2000]
        save()
        log(f"{name}: {'failed' if name in results.get('errors', {}) else 'done'}")

    state = {}

    def benchmark():
        if peers_run:
            state["hf"] = hf_model(shapes.model, device, dtype)
            weights = state["hf"].state_dict()  # the engine shares these tensors and adds its fused copies
        else:
            weights = random_weights(shapes.model, device, dtype)
        engine_bench(shapes, Llama(shapes.model, weights, device, dtype), device, dtype, results, phase)

    have_hf = all(name in results["versions"] for name in ("transformers", "peft"))
    peers_run = have_hf and hasattr(torch, "compile")  # generate and peft's mixed batch need torch >= 2.0
    if not args.skip_tests:
        phase("kernel tests", lambda: results.update(kernelTests=kernel_tests()))
    if have_hf:
        phase("numerics", lambda: results.update(numerics=numerics(shapes, device, dtype)))
    phase("benchmark", benchmark)
    if peers_run:
        phase("peers", lambda: peers(shapes, state.pop("hf"), device, dtype, results, save))
    save()
    if chart(results, args.chart):
        log(f"chart: {args.chart}")
    print(json.dumps(results), flush=True)  # also in the run's output, should its files not come back
    log(f"targets: {results['targets']}")
    log(f"done: {args.out}")
    return results


if __name__ == "__main__":
    main()
