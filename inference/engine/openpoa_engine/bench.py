"""Decode throughput: base-only batch vs a batch whose rows each use a distinct adapter, measured side by side.

Repetitions interleave the two modes (base, multi, multi, base, ...) so drift on a shared machine hits both alike.
"""

import json
import os
import statistics
import time

import torch

from .generate import generate_adapters, generate_model
from .server import build_scheduler
from .adapter_cache import page_bytes
from .config import ModelConfig
from .kernels import PAGE_RANK
from .scheduler import Request, SamplingParams

PROMPT = "Benchmark prompt number {:02d}: "


def _prepare(cache_dir, preset, count, rank):
    model_dir = os.path.join(cache_dir, f"bench-model-{preset}")
    adapters_dir = os.path.join(cache_dir, f"bench-adapters-{preset}-r{rank}")
    if not os.path.exists(os.path.join(model_dir, "config.json")):
        generate_model(model_dir, preset, seed=0)
    manifest = os.path.join(adapters_dir, "manifest.json")
    shas = None
    if os.path.exists(manifest):
        with open(manifest) as f:
            shas = [a["sha256"] for a in json.load(f)["adapters"]]
    if shas is None or len(shas) < count:
        shas = generate_adapters(model_dir, adapters_dir, count, rank, seed=0)
    return model_dir, adapters_dir, shas[:count]


def _decode_rate(scheduler, batch, steps, adapters):
    for i in range(batch):
        params = SamplingParams(max_tokens=steps + 2, temperature=1.0, seed=i, ignore_eos=True)
        prompt = scheduler.tokenizer.encode(PROMPT.format(i))
        scheduler.submit(Request(f"bench-{i}", prompt, params, adapters[i] if adapters else None, lambda e: None))
    scheduler.step()  # admits and prefills every request, plus the first decode step
    assert len(scheduler.running) == batch, "all requests must run in one batch"
    start = time.perf_counter()
    for _ in range(steps):
        scheduler.step()
    elapsed = time.perf_counter() - start
    for i in range(batch):
        scheduler.cancel(f"bench-{i}")
    return batch * steps / elapsed


def run_bench(args, dtype):
    model_dir, adapters_dir, shas = _prepare(args.cache_dir, args.preset, args.batch, args.rank)
    pages = args.batch * -(-args.rank // PAGE_RANK) + 4  # every adapter resident, a little slack
    budget = pages * page_bytes(ModelConfig.load(model_dir), dtype)
    scheduler = build_scheduler(model_dir, adapters_dir, args.device, dtype, max_batch_size=args.batch,
                                max_seq_len=args.steps + 64, device_budget_bytes=budget, host_budget_bytes=8 << 30)
    cache = scheduler.cache

    cold_ms = []  # source -> verified, parsed, packed -> device pages
    for sha in shas:
        start = time.perf_counter()
        cache.make_resident(sha, cache.fetch(sha, count=False).result())
        if scheduler.model.device.type == "cuda":
            torch.cuda.synchronize()
        cold_ms.append((time.perf_counter() - start) * 1e3)

    _decode_rate(scheduler, args.batch, 2, None)  # warm-up
    _decode_rate(scheduler, args.batch, 2, shas)
    base, multi = [], []
    for rep in range(args.reps):
        order = (("base", None), ("multi", shas)) if rep % 2 == 0 else (("multi", shas), ("base", None))
        for mode, adapters in order:
            (base if mode == "base" else multi).append(_decode_rate(scheduler, args.batch, args.steps, adapters))
    base_rate, multi_rate = statistics.median(base), statistics.median(multi)
    c = scheduler.model.config
    return {
        "device": scheduler.model.device.type,
        "model": f"{c.name} (hidden {c.hidden_size}, {c.num_layers} layers, {c.num_heads} heads / {c.num_kv_heads} kv, "
                 f"intermediate {c.intermediate_size}, vocab {c.vocab_size}, {str(dtype).replace('torch.', '')})",
        "batch": args.batch,
        "baseTokensPerSec": round(base_rate, 1),
        "multiAdapterTokensPerSec": round(multi_rate, 1),
        "ratio": round(multi_rate / base_rate, 3),
        "adapterColdLoadMs": round(statistics.median(cold_ms), 2),
        "residentAdapters": cache.stats()["resident_adapters"],
        "adapterRank": args.rank,
        "adapterTargets": "q,k,v,o,gate,up,down",
        "decodeStepsPerRep": args.steps,
        "reps": args.reps,
        "baseRuns": [round(x, 1) for x in base],
        "multiAdapterRuns": [round(x, 1) for x in multi],
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
