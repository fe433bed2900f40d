"""Decode throughput: a base-only batch vs a batch whose rows each use a distinct adapter, measured side by side.

Two schedulers share the model and the adapter cache; their decode steps alternate (base, multi, multi, base, ...)
and each step is timed. A rate is the batch size over the median step time. The ratio is the median, over adjacent
(base, multi) step pairs, of base time / multi time: the two steps of a pair run within a fraction of a second of
each other, so load from other processes on a shared machine hits both alike.
"""

import json
import os
import statistics
import time

import torch

from .adapter_cache import adapter_pages, page_bytes
from .config import LORA_PROJECTIONS, ModelConfig
from .generate import generate_adapters, generate_model
from .kernels import lora_pool_dtype
from .scheduler import Request, SamplingParams, Scheduler
from .server import build_scheduler

PROMPT = "Benchmark prompt number {:02d}: "


def _prepare(cache_dir, preset, count, rank, model=None):
    """The generated preset model, or a given model directory, and `count` generated adapters for it."""
    if model:
        model_dir = model
        slug = "".join(c if c.isalnum() else "-" for c in ModelConfig.load(model).name.lower())
        adapters_dir = os.path.join(cache_dir, f"bench-adapters-{slug}-r{rank}")
    else:
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


def _fill(scheduler, batch, max_tokens, adapters):
    for i in range(batch):
        params = SamplingParams(max_tokens=max_tokens, temperature=1.0, seed=i, ignore_eos=True)
        prompt = scheduler.tokenizer.encode(PROMPT.format(i))
        scheduler.submit(Request(f"bench-{i}", prompt, params, adapters[i] if adapters else None, lambda e: None))
    scheduler.step()  # admits and prefills every request, plus the first decode step
    assert len(scheduler.running) == batch, "all requests must run in one batch"


def _timed_step(scheduler, device):
    start = time.perf_counter()
    scheduler.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def run_bench(args, dtype):
    model_dir, adapters_dir, shas = _prepare(args.cache_dir, args.preset, args.batch, args.rank, args.model)
    load_before = os.getloadavg()[0]  # other processes on the machine skew timings: record how busy it was
    config = ModelConfig.load(model_dir)
    pages = (args.batch + 1) * adapter_pages(config, args.rank, LORA_PROJECTIONS)  # every adapter resident, and one
    budget = pages * page_bytes(config, lora_pool_dtype(args.device, dtype))
    multi = build_scheduler(
        model_dir,
        adapters_dir,
        args.device,
        dtype,
        max_batch_size=args.batch,
        max_seq_len=args.steps + 64,
        device_budget_bytes=budget,
        host_budget_bytes=8 << 30,
    )
    base = Scheduler(multi.model, multi.tokenizer, multi.cache, args.batch, args.steps + 64)
    cache, device = multi.cache, multi.model.device

    cold_ms = []  # source -> verified, parsed, packed -> device pages
    for sha in shas:
        start = time.perf_counter()
        handle = cache.request(sha, count=False)
        handle.future.result()
        cache.make_resident(handle)
        if device.type == "cuda":
            torch.cuda.synchronize()
        cold_ms.append((time.perf_counter() - start) * 1e3)

    times = {base: [], multi: []}
    for rep in range(args.reps + 1):  # repetition 0 warms up and is not counted
        _fill(base, args.batch, args.steps + 2, None)
        _fill(multi, args.batch, args.steps + 2, shas)
        for step in range(args.steps if rep else 2):
            for scheduler in (base, multi) if step % 2 == 0 else (multi, base):
                elapsed = _timed_step(scheduler, device)
                if rep:
                    times[scheduler].append(elapsed)
        for scheduler in (base, multi):
            for i in range(args.batch):
                scheduler.cancel(f"bench-{i}")
    base_times, multi_times = times[base], times[multi]
    base_rate = args.batch / statistics.median(base_times)
    multi_rate = args.batch / statistics.median(multi_times)
    paired_ratio = statistics.median(b / m for b, m in zip(base_times, multi_times))  # steps i ran back to back
    c = multi.model.config
    return {
        "device": device.type,
        "model": f"{c.name} (hidden {c.hidden_size}, {c.num_layers} layers, {c.num_heads} heads / {c.num_kv_heads} kv, "
        f"intermediate {c.intermediate_size}, vocab {c.vocab_size}, {str(dtype).replace('torch.', '')})",
        "batch": args.batch,
        "baseTokensPerSec": round(base_rate, 1),
        "multiAdapterTokensPerSec": round(multi_rate, 1),
        "ratio": round(paired_ratio, 3),
        "adapterColdLoadMs": round(statistics.median(cold_ms), 2),
        "residentAdapters": cache.stats()["resident_adapters"],
        "adapterRank": args.rank,
        "adapterTargets": "q,k,v,o,gate,up,down",
        "decodeStepsPerRep": args.steps,
        "reps": args.reps,
        "baseStepMsP10P90": [round(statistics.quantiles(base_times, n=10)[i] * 1e3, 1) for i in (0, 8)],
        "multiAdapterStepMsP10P90": [round(statistics.quantiles(multi_times, n=10)[i] * 1e3, 1) for i in (0, 8)],
        "ratioOfMedians": round(multi_rate / base_rate, 3),
        "machineLoadAverage1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
