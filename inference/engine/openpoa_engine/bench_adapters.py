"""A thousand adapters on the CPU: memory under the budgets, and throughput while requests cycle through them.

The adapters: ranks 8 and 16 on four sets of targets (adapter i has shape i % 8), for the generated `small` model,
served over HTTP from a local server, so the engine reads them through its disk cache.

memory: peak RSS of `serve --host-budget-mb 64` answering one request per adapter, minus the same run with no
  adapters (both allocate and zero the same device pool at start, so it cancels): the median over three alternating
  pairs of runs, since where the heap's free space lies varies the peak by a few MB from run to run; and adapters
  resident per GiB of device budget for rank-8 q,v adapters on Llama-3-8B shapes in bf16, counted by the page
  allocator (no weights).
cycling: 2,048 requests cycle twice through the thousand adapters, cold (a 64 MB host tier: every adapter is read
  from the disk cache) and warm (every adapter in the host tier, a device tier too small to keep them), as tokens/s
  relative to the same requests on one resident adapter of each request's shape ("one adapter" per shape: the LoRA
  work per token is the same, so the ratio is what cycling costs). Against one adapter for all requests the ratio
  mostly measures the mix's shapes against that adapter's (lighter or heavier LoRA work per token); both extremes
  are reported too.
  The cases alternate in rounds of 128 requests, in a rotating order, so load from other processes hits them alike;
  a ratio is the median over rounds of the case's tokens/s over the baseline's tokens/s in that round.
"""

import concurrent.futures
import functools
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager

import torch

from .adapter_cache import AdapterCache, PageAllocator, adapter_pages, page_bytes
from .adapters import HostAdapter
from .config import LLAMA3_8B, LORA_PROJECTIONS, ModelConfig
from .generate import generate_adapters, generate_model
from .model import Llama
from .scheduler import Request, SamplingParams, Scheduler
from .sources import DiskCache, HttpSource
from .tokenizer import load_tokenizer

TARGET_SETS = (
    ("q_proj", "v_proj"),
    ("q_proj", "k_proj", "v_proj", "o_proj"),
    ("gate_proj", "up_proj", "down_proj"),
    LORA_PROJECTIONS,
)
SHAPES = [(rank, targets) for targets in TARGET_SETS for rank in (8, 16)]
LIGHTEST, HEAVIEST = 0, 7  # adapters of rank 8 on q, v and of rank 16 on all seven targets
PROMPT = "Request {:04d}: tell me something. "
ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def adapters_per_gib(config, rank, targets, dtype=torch.bfloat16):
    """Adapters of this shape resident at once in 1 GiB of device budget, counted by the page allocator."""
    allocator, count = PageAllocator((1 << 30) // page_bytes(config, dtype)), 0
    while True:
        allocator.allocate(count, adapter_pages(config, rank, targets))
        if allocator.evictions:
            return count
        count += 1


def prepare(cache_dir, count):
    """The generated small model and `count` adapters of the mixed shapes (made once, kept in cache_dir)."""
    model_dir = os.path.join(cache_dir, "bench-model-small")
    if not os.path.exists(os.path.join(model_dir, "config.json")):
        generate_model(model_dir, "small", seed=0)
    root = os.path.join(cache_dir, f"bench-adapters-small-mixed-{count}")
    listing = os.path.join(root, "mixed.json")
    if not os.path.exists(listing):
        per_shape = [
            generate_adapters(model_dir, root, -(-count // len(SHAPES)), rank, targets=targets, seed=10 + k)
            for k, (rank, targets) in enumerate(SHAPES)
        ]
        shas = [per_shape[i % len(SHAPES)][i // len(SHAPES)] for i in range(count)]
        with open(listing, "w") as f:
            json.dump({"adapters": shas}, f)
    with open(listing) as f:
        return model_dir, root, json.load(f)["adapters"]


@contextmanager
def served(root):
    """root's files over HTTP on localhost: the base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=root))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _peak_rss_mb(model_dir, url, adapters, host_mb, device_mb, max_tokens):
    """VmHWM (MB) of a serve process once it has answered one request per entry of adapters (None: the base model),
    and its adapter stats then."""
    with tempfile.TemporaryDirectory() as disk:
        command = [sys.executable, "-m", "openpoa_engine", "serve", "--model", model_dir, "--adapters", url]
        command += ["--host-budget-mb", str(host_mb), "--device-budget-mb", str(device_mb), "--disk-cache-dir", disk]
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        engine = subprocess.Popen(
            command, cwd=ENGINE_DIR, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        engine.stdout.readline()  # hello
        for i, sha in enumerate(adapters):
            request = {"id": str(i), "type": "generate", "prompt": PROMPT.format(i), "max_tokens": max_tokens}
            engine.stdin.write(json.dumps({**request, "seed": i, "ignore_eos": True, "adapter": sha}) + "\n")
        engine.stdin.flush()
        finished = errors = 0
        while finished < len(adapters):
            message = json.loads(engine.stdout.readline())
            finished += message["type"] in ("done", "error")
            errors += message["type"] == "error"
        with open(f"/proc/{engine.pid}/status") as f:
            peak_kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        engine.stdin.write(json.dumps({"id": "stats", "type": "stats"}) + "\n")
        engine.stdin.flush()
        stats = json.loads(engine.stdout.readline())["adapters"]
        engine.stdin.write(json.dumps({"id": "bye", "type": "shutdown"}) + "\n")
        engine.stdin.close()
        engine.wait(timeout=60)
        if errors:
            raise RuntimeError(f"{errors} requests failed")
        return peak_kb / 1024, stats


def bench_memory(model_dir, url, shas, host_mb=64, device_mb=64, max_tokens=8, loader_threads=2, pairs=3):
    config = ModelConfig.load(model_dir)
    largest = max(HostAdapter.nbytes_of(rank, t, config, torch.float32) for rank, t in SHAPES) / 2**20
    with_adapters, without = [], []
    for _ in range(pairs):
        peak, stats = _peak_rss_mb(model_dir, url, shas, host_mb, device_mb, max_tokens)
        with_adapters.append(round(peak, 1))
        without.append(round(_peak_rss_mb(model_dir, url, [None] * len(shas), host_mb, device_mb, max_tokens)[0], 1))
    return {
        "hostBudgetMb": host_mb,
        "peakExtraRssMb": round(statistics.median(with_adapters) - statistics.median(without), 1),
        "adaptersPerGbRank8QV": adapters_per_gib(LLAMA3_8B, 8, ("q_proj", "v_proj")),
        "targetMb": round(host_mb + loader_threads * largest, 1),
        "peakRssMb": {"adapters": with_adapters, "noAdapters": without},
        "requests": len(shas),
        "hostTierAtEnd": {"adapters": stats["host"]["adapters"], "mb": round(stats["host"]["bytes"] / 2**20, 1)},
        "loadsThatWaitedForHostRoom": stats["host_waits"],
        "deviceBudgetMb": device_mb,
        "adaptersPerGbNote": "1 GiB of device budget, Llama-3-8B shapes in bf16; 12 with pages of all seven at rank 16",
    }


def _run(scheduler, requests, tokenizer, max_tokens, tag):
    """Submit every request, serve them to completion; returns tokens/s (loads and prefill included). Request i asks
    for max_tokens / 2 to 3 * max_tokens / 2 new tokens, the same in every case: lengths that vary keep sequences
    from finishing in lockstep, as they do in service."""
    before, start = scheduler.generated_tokens, time.perf_counter()
    for i, sha in requests:
        tokens = max_tokens // 2 + i * 7919 % (max_tokens + 1)
        params = SamplingParams(max_tokens=tokens, temperature=1.0, seed=i, ignore_eos=True)
        scheduler.submit(Request(f"{tag}-{i}", tokenizer.encode(PROMPT.format(i)), params, sha, lambda e: None))
    while scheduler.by_id:
        if not scheduler.has_work:  # every waiting request's adapter is loading: wait for the first
            futures = [s.handle.future for s in scheduler.waiting if s.handle is not None]
            concurrent.futures.wait(futures, timeout=30, return_when=concurrent.futures.FIRST_COMPLETED)
        scheduler.step()
    return (scheduler.generated_tokens - before) / (time.perf_counter() - start)


def bench_cycling(model_dir, url, shas, requests=2048, per_round=128, batch=32, max_tokens=32, host_mb=64):
    model = Llama.load(model_dir)
    tokenizer = load_tokenizer(model_dir, model.config)
    config, f32 = model.config, torch.float32
    with tempfile.TemporaryDirectory() as disk_dir:
        source = HttpSource(url, DiskCache(disk_dir, 10 << 30))
        for sha in shas:  # fill the disk cache (not timed)
            with source.open(sha):
                pass
        device = 2 * batch * adapter_pages(config, 16, LORA_PROJECTIONS) * page_bytes(config, f32)  # two batches
        all_host = sum(HostAdapter.nbytes_of(*SHAPES[i % len(SHAPES)], config, f32) for i in range(len(shas)))
        caches = {
            "resident": AdapterCache(source, config, "cpu", f32, device, 1 << 30),
            "cold": AdapterCache(source, config, "cpu", f32, device, host_mb << 20),
            "warm": AdapterCache(source, config, "cpu", f32, device, all_host),
        }
        for sha in shas:  # warm: every adapter in the host tier (not timed)
            handle = caches["warm"].request(sha, count=False)
            handle.future.result(timeout=60)
            handle.release()
        schedulers = {name: Scheduler(model, tokenizer, cache, batch, 128) for name, cache in caches.items()}
        adapter = {  # case -> the adapter of request i
            "perShape": lambda i: shas[i % len(SHAPES)],  # adapter i has shape i % 8: adapters 0..7, one per shape
            "lightest": lambda i: shas[LIGHTEST],
            "heaviest": lambda i: shas[HEAVIEST],
            "cold": lambda i: shas[i % len(shas)],
            "warm": lambda i: shas[i % len(shas)],
        }
        cache_of = {
            "perShape": "resident",
            "lightest": "resident",
            "heaviest": "resident",
            "cold": "cold",
            "warm": "warm",
        }
        cases = list(adapter)
        for name in cases:  # warm-up: first allocations, the resident adapters' loads (not counted)
            _run(schedulers[cache_of[name]], [(i, adapter[name](i)) for i in range(batch)], tokenizer, 4, "warmup")
        loads = {name: cache.stats()["source_loads"] for name, cache in caches.items()}
        downloads = source.disk.counters["downloads"]
        rates = {name: [] for name in cases}
        for k in range(requests // per_round):
            for name in cases[k % len(cases) :] + cases[: k % len(cases)]:
                chunk = [(i, adapter[name](i)) for i in range(k * per_round, (k + 1) * per_round)]
                rates[name].append(_run(schedulers[cache_of[name]], chunk, tokenizer, max_tokens, f"{name}{k}"))
        stats = {name: cache.stats() for name, cache in caches.items()}
        for cache in caches.values():
            cache.close()

    def ratio(case, baseline):
        return round(statistics.median(c / b for c, b in zip(rates[case], rates[baseline])), 3)

    return {
        "adapters": len(shas),
        "coldRatio": ratio("cold", "perShape"),
        "warmRatio": ratio("warm", "perShape"),
        "baseline": "each request on the one resident adapter of its shape (8 adapters, one per shape)",
        "vsOneAdapterForAll": {
            "lightest": {"coldRatio": ratio("cold", "lightest"), "warmRatio": ratio("warm", "lightest")},
            "heaviest": {"coldRatio": ratio("cold", "heaviest"), "warmRatio": ratio("warm", "heaviest")},
        },
        "tokensPerSec": {name: round(statistics.median(r), 1) for name, r in rates.items()},
        "requests": requests // per_round * per_round,
        "requestsPerRound": per_round,
        "batch": batch,
        "maxTokens": f"{max_tokens // 2} to {max_tokens // 2 + max_tokens} (mean {max_tokens})",
        "coldHostBudgetMb": host_mb,
        "coldLoadsFromDisk": stats["cold"]["source_loads"] - loads["cold"],
        "warmHostHits": stats["warm"]["host_hits"],
        "warmLoadsFromDisk": stats["warm"]["source_loads"] - loads["warm"],
        "downloadsWhileTimed": source.disk.counters["downloads"] - downloads,
        "shapes": "ranks 8, 16 on q,v / q,k,v,o / gate,up,down / all seven; lightest: rank 8 q,v; heaviest: 16, all",
    }


def run_bench_adapters(args):
    model_dir, root, shas = prepare(args.cache_dir, args.adapters)
    result = {}
    with served(root) as url:
        if "memory" in args.sections:
            result["memory"] = bench_memory(model_dir, url, shas, args.host_mb)
        if "cycling" in args.sections:
            result["cycling"] = bench_cycling(model_dir, url, shas, args.requests, host_mb=args.host_mb)
    result["machineLoadAverage1m"] = round(os.getloadavg()[0], 2)
    return result
