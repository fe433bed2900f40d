"""Benchmarks.

run_bench, decode throughput: a base-only batch vs a batch whose rows each use a distinct adapter, side by side.
Two schedulers share the model and the adapter cache; their decode steps alternate (base, multi, multi, base, ...)
and each step is timed. A rate is the batch size over the median step time. The ratio is the median, over adjacent
(base, multi) step pairs, of base time / multi time: the two steps of a pair run within a fraction of a second of
each other, so load from other processes on a shared machine hits both alike.

run_scheduling_bench, no timing: what the KV block allocator admits in a fixed budget (kv), and how long requests
for rarely used adapters queue under the scheduler (fairness). Both count (sequences, steps), so they need no model.
"""

import itertools
import json
import math
import os
import random
import shutil
import statistics
import tempfile
import time

import torch

from .adapter_cache import AdapterCache, adapter_pages, page_bytes
from .config import LLAMA3_8B, LORA_PROJECTIONS, ModelConfig
from .generate import generate_adapters, generate_model
from .kernels import lora_pool_dtype
from .model import BlockAllocator, PagedKVCache
from .sources import LocalSource
from .scheduler import Request, SamplingParams, Scheduler
from .tokenizer import ByteTokenizer
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


def kv_admitted(lengths, num_blocks, block_size):
    """How many sequences of these lengths, taken in order, the block allocator admits before the first refusal."""
    allocator = BlockAllocator(num_blocks, block_size)
    admitted = 0
    while admitted < len(lengths) and allocator.reserve(allocator.blocks_for(lengths[admitted])):
        admitted += 1
    return admitted


def bench_kv(budget_gib=16, block_size=16, max_len=4096, min_len=64, trials=20):
    """Sequences admitted at once in a KV budget: paged (each reserves the blocks of its own length) over contiguous
    (each a row of max_len), mean over `trials` random queues of lengths in [min_len, max_len]."""
    num_blocks = int(budget_gib * 2**30 // PagedKVCache.block_bytes(LLAMA3_8B, block_size, torch.bfloat16))
    contiguous = num_blocks * block_size // max_len
    draws = {
        "logUniform": lambda g: round(math.exp(g.uniform(math.log(min_len), math.log(max_len)))),
        "uniform": lambda g: g.randint(min_len, max_len),
    }
    paged = {}
    for name, draw in draws.items():
        queues = ([draw(g) for _ in range(100 * contiguous)] for g in map(random.Random, range(trials)))
        paged[name] = statistics.mean(kv_admitted(lengths, num_blocks, block_size) for lengths in queues)
    return {
        "pagedOverContiguous": round(paged["logUniform"] / contiguous, 2),
        "pagedOverContiguousUniformLengths": round(paged["uniform"] / contiguous, 2),
        "pagedSequences": paged["logUniform"],
        "contiguousSequences": contiguous,
        "lengths": f"log-uniform in [{min_len}, {max_len}] tokens (median {round(math.sqrt(min_len * max_len))}); "
        "also uniform",
        "kvBudget": f"{budget_gib} GiB of Llama-3-8B bf16 KV: {num_blocks} blocks of {block_size} tokens, or "
        f"{contiguous} contiguous rows of {max_len}",
        "method": "the engine's BlockAllocator, no tensors: a sequence reserves ceil(length / block size) blocks; "
        "sequences taken in queue order until the first that does not fit",
    }


class _NoModel:
    """Stands in for the model where only scheduling is measured: a forward pass computes nothing, logits are 0."""

    def __init__(self, config):
        self.config, self.device, self.dtype = config, torch.device("cpu"), torch.float32

    def forward(self, tokens, positions, attention, lora=None):
        return torch.zeros(len(tokens), 1)

    def logits(self, hidden):
        return torch.zeros(len(hidden), self.config.vocab_size)


def _fairness_workload(num_adapters, requests, rate, zipf, seed=0):
    """(arrival step, adapter popularity rank, prompt tokens, max_tokens) per request: Poisson arrivals at `rate` a
    step, adapter rank i drawn with probability proportional to 1 / (i + 1)^zipf."""
    g = random.Random(seed)
    cumulative = list(itertools.accumulate(1 / (i + 1) ** zipf for i in range(num_adapters)))
    t, workload = 0.0, []
    for _ in range(requests):
        t += g.expovariate(rate)
        rank = g.choices(range(num_adapters), cum_weights=cumulative)[0]
        workload.append((int(t), rank, g.randint(16, 128), g.randint(8, 64)))
    return workload


def _fairness_run(model_dir, adapters_dir, shas, workload, pages, **scheduler_args):
    """The real Scheduler and AdapterCache, the model stubbed out (_NoModel); an adapter load completes within a step.
    Returns [(adapter rank, steps queued)] per request, decoded tokens per step, device-tier evictions, and the share
    of steps that ended with the batch at its cap on distinct adapters."""
    config = ModelConfig.load(model_dir)
    budget = pages * adapter_pages(config, 16, LORA_PROJECTIONS) * page_bytes(config, torch.float32)
    cache = AdapterCache(LocalSource(adapters_dir), config, "cpu", torch.float32, budget, 1 << 30)
    scheduler = Scheduler(
        _NoModel(config), ByteTokenizer(), cache, max_batch_size=32, max_seq_len=512, **scheduler_args
    )
    submitted, pending, at_cap = [], list(workload), 0
    cap = scheduler.max_adapters_per_batch
    while pending or scheduler.by_id:
        while pending and pending[0][0] <= scheduler.steps:
            _, rank, prompt_len, max_tokens = pending.pop(0)
            params = SamplingParams(max_tokens=max_tokens, temperature=0.0, ignore_eos=True)
            scheduler.submit(Request(str(len(submitted)), [1] * prompt_len, params, shas[rank], lambda e: None))
            submitted.append((rank, scheduler.by_id[str(len(submitted))]))
        for seq in scheduler.waiting:
            if seq.handle is not None:
                seq.handle.future.result()
        scheduler.step()
        at_cap += cap is not None and len({s.request.adapter for s in scheduler.running} - {None}) >= cap
    evictions = cache.stats()["evictions"]
    cache.close()
    waits = [(rank, seq.admitted - seq.arrival) for rank, seq in submitted]
    return waits, scheduler.generated_tokens / scheduler.steps, evictions, at_cap / scheduler.steps


def bench_fairness(cache_dir, num_adapters=1000, requests=3000, zipf=1.0, rare_from=100, aging_steps=64):
    """Queue waits (steps from submission to admission) of requests for rarely used adapters (popularity rank >=
    rare_from) under a Zipf workload over num_adapters adapters (rank 8 on q,v, 16 on all seven, 64 on q,k,v,o), with
    aging and without it: in a device tier the size of 48 rank-16 adapters on all seven projections ("pages": the page
    of the layout before pages fit the adapter), and of 32 (pages bind) at a load it serves and at one it cannot; and
    of 12 with a cap of 8 adapters per batch (capAndPagesBind: both bind, at a load they leave it able to serve)."""
    model_dir = os.path.join(cache_dir, "bench-model-tiny")
    if not os.path.exists(os.path.join(model_dir, "config.json")):
        generate_model(model_dir, "tiny", seed=0)
    adapters_dir = tempfile.mkdtemp(prefix="openpoa-fairness-")
    kinds = (
        (8, ("q_proj", "v_proj")),
        (16, ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")),
        (64, ("q_proj", "k_proj", "v_proj", "o_proj")),
    )
    by_kind = [
        generate_adapters(model_dir, adapters_dir, -(-num_adapters // 3), rank, targets=targets, seed=k)
        for k, (rank, targets) in enumerate(kinds)
    ]
    shas = [by_kind[i % 3][i // 3] for i in range(num_adapters)]  # popularity rank i: kinds alternate
    result = {}
    cases = (("main", 48, None, 0.7), ("tightPages", 32, None, 0.6), ("tightPagesOverloaded", 32, None, 0.7))
    cases += (("capAndPagesBind", 12, 8, 0.2),)
    for name, pages, cap, rate in cases:
        workload = _fairness_workload(num_adapters, requests, rate, zipf)
        for aging in (aging_steps, None):
            waits, tokens_per_step, evictions, at_cap = _fairness_run(
                model_dir,
                adapters_dir,
                shas,
                workload,
                pages,
                aging_steps=aging or requests * 1000,
                max_adapters_per_batch=cap,
            )
            rare = sorted(w for rank, w in waits if rank >= rare_from)
            result[name, aging] = {
                "p99WaitSteps": rare[int(0.99 * (len(rare) - 1))],
                "maxWaitSteps": max(w for _, w in waits),
                "tokensPerStep": round(tokens_per_step, 2),
            }
            if cap is not None:
                result[name, aging].update(evictions=evictions, stepsAtCap=round(at_cap, 3))
        if name == "main":
            rare_requests = sum(rank >= rare_from for _, rank, _, _ in workload)
        else:
            head = {"pages": pages, "arrivalsPerStep": rate} | ({"maxAdaptersPerBatch": cap} if cap else {})
            result[name, aging_steps] = head | result[name, aging_steps]
        result[name, aging_steps]["withoutAging"] = result[name, None]
    shutil.rmtree(adapters_dir)
    return {
        **result["main", aging_steps],
        "tightPages": result["tightPages", aging_steps],
        "tightPagesOverloaded": result["tightPagesOverloaded", aging_steps],
        "capAndPagesBind": result["capAndPagesBind", aging_steps],
        "rareRequests": rare_requests,
        "agingSteps": aging_steps,
        "workload": f"{requests} requests, Poisson arrivals 0.7 a step, adapters by Zipf {zipf} over {num_adapters} "
        f"(ranks 8 q,v / 16 all / 64 q,k,v,o); rare: popularity rank >= {rare_from}; prompts 16-128 tokens, "
        "max_tokens 8-64; batch 32, no cap, a device tier of 48 rank-16 all-seven adapters (pages)",
        "method": "the engine's Scheduler and AdapterCache with the model forward stubbed out: waits are counted in "
        "steps, not timed; an adapter load completes within a step",
    }


def run_scheduling_bench(cache_dir):
    return {"kv": bench_kv(), "fairness": bench_fairness(cache_dir)}
