import concurrent.futures
import functools
import http.server
import json
import os
import sys
import threading

import pytest
import torch

ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ENGINE_DIR)
torch.set_num_threads(1)

# The real pretrained model that scripts/setup.sh (setup-engine.sh) fetches and converts; CI sets
# OPENPOA_REQUIRE_REAL_MODEL=1 so that a missing model or package fails there instead of skipping.
REPO_ROOT = os.path.dirname(os.path.dirname(ENGINE_DIR))
REAL_MODEL_DIR = os.environ.get("OPENPOA_REAL_MODEL", os.path.join(REPO_ROOT, ".cache/models/smollm2-135m-instruct"))
REAL_GGUF = os.environ.get(
    "OPENPOA_REAL_GGUF", os.path.join(REPO_ROOT, ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf")
)


def require(condition, reason):
    if not condition:
        if os.environ.get("OPENPOA_REQUIRE_REAL_MODEL") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def require_packages(*names):
    import importlib.util

    missing = [n for n in names if importlib.util.find_spec(n) is None]
    require(not missing, f"needs {', '.join(missing)}: run scripts/setup.sh and test with .venv/bin/python")


from openpoa_engine.adapter_cache import AdapterCache, adapter_pages, page_bytes  # noqa: E402
from openpoa_engine.config import LORA_PROJECTIONS  # noqa: E402
from openpoa_engine.generate import generate_adapters, generate_model, write_adapter  # noqa: E402
from openpoa_engine.kernels import BgmvPlan, lora_pool_dtype  # noqa: E402
from openpoa_engine.model import DecodeAttention, KVCache, Llama, LoraBatch, PrefillAttention  # noqa: E402
from openpoa_engine.scheduler import Scheduler  # noqa: E402
from openpoa_engine.sources import LocalSource  # noqa: E402
from openpoa_engine.tokenizer import ByteTokenizer  # noqa: E402


@pytest.fixture
def http_server():
    """serve(root) -> (base URL, {"gets": count}): a local HTTP server of root's files, as an adapter source."""
    servers = []

    def serve(root):
        counter = {"gets": 0}

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                counter["gets"] += 1
                super().do_GET()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=root))
        server.handle_error = lambda *args: None  # a client that gave up mid-file (a refused download)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", counter

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("model"))
    generate_model(path, "tiny", seed=0)
    return path


@pytest.fixture(scope="session")
def model(model_dir):
    return Llama.load(model_dir)


@pytest.fixture(scope="session")
def adapters(model_dir, tmp_path_factory):
    """Adapters of several ranks and targets in one content-addressed directory."""
    root = str(tmp_path_factory.mktemp("adapters"))
    shas = {
        "r8": generate_adapters(model_dir, root, 3, rank=8, seed=1),
        "r16": generate_adapters(model_dir, root, 2, rank=16, seed=2),
        "r40": generate_adapters(model_dir, root, 1, rank=40, seed=3),  # three pages, the last one partly used
        "attn_rslora": generate_adapters(
            model_dir, root, 1, rank=12, seed=4, targets=("q_proj", "v_proj", "o_proj"), use_rslora=True
        ),
    }
    return root, shas


def pages_of(model, rank, targets=LORA_PROJECTIONS):
    """Device pages an adapter of this rank and these targets takes."""
    return adapter_pages(model.config, rank, targets)


def make_cache(model, root, budget_pages=None, host_bytes=1 << 30, source=None):
    """budget_pages: device pages (default: room for 16 rank-16 adapters on every projection)."""
    return AdapterCache(
        source or LocalSource(root),
        model.config,
        model.device,
        model.dtype,
        (budget_pages or 16 * pages_of(model, 16))
        * page_bytes(model.config, lora_pool_dtype(model.device, model.dtype)),
        host_bytes,
    )


def make_scheduler(model, root, budget_pages=None, **kwargs):
    return Scheduler(model, ByteTokenizer(), make_cache(model, root, budget_pages), **kwargs)


def acquire(cache, sha):
    """The adapter placed on the device and pinned, once loaded: its PageTable."""
    handle = cache.request(sha)
    handle.future.result(timeout=30)
    table = cache.acquire(handle)
    cache.device_tier.await_placements()
    return table


def wait_for_loads(scheduler, first=False):
    """Block until no waiting request has an adapter load in flight (loads run in loader threads); first: until one
    load ends (under backpressure a load may wait for an earlier request's admission)."""
    futures = [s.handle.future for s in scheduler.waiting if s.handle is not None]
    when = concurrent.futures.FIRST_COMPLETED if first else concurrent.futures.ALL_COMPLETED
    concurrent.futures.wait(futures, timeout=30, return_when=when)


def run_to_completion(scheduler, limit=10_000):
    for _ in range(limit):
        if not scheduler.by_id:
            return
        if not scheduler.has_work:
            wait_for_loads(scheduler, first=True)
        scheduler.step()
    raise AssertionError("scheduler did not finish")


def copy_adapter(root, sha, dest_root, edit_config=None, edit_weights=None):
    """A variant of an existing adapter, written content-addressed under dest_root; returns its hash."""
    from openpoa_engine import safetensors_io

    with open(os.path.join(root, sha, "adapter_config.json")) as f:
        config = json.load(f)
    tensors = safetensors_io.load_file(os.path.join(root, sha, "adapter_model.safetensors"))
    if edit_config:
        edit_config(config)
    if edit_weights:
        edit_weights(tensors)
    return write_adapter(dest_root, config, tensors)


def packed_prefill(model, cache, kv, prompts, pages):
    """The engine's prefill of `prompts` packed into one forward: prompt i into KV row i from position 0, each row
    with an adapter one SGMV segment of its pages (None: the base model alone). Returns the hidden states
    [sum of lengths, hidden] and each prompt's (row, start, length) in them."""
    tokens, positions, spans, segments, start = [], [], [], [], 0
    for row, prompt in enumerate(prompts):
        tokens += prompt
        positions += range(len(prompt))
        spans.append((row, start, len(prompt)))
        if pages[row]:
            segments.append((start, start + len(prompt), pages[row]))
        start += len(prompt)
    tier = cache.device_tier
    hidden = model.forward(
        torch.tensor(tokens),
        torch.tensor(positions),
        PrefillAttention(kv, spans),
        LoraBatch(tier.shrink, tier.expand, segments=segments),
    )
    return hidden, spans


def engine_logits(model, cache, rows):
    """rows: [(prompt, sha256 or None)]. One packed prefill of each row's first half (SGMV segments), then batched
    decode steps over every row at once (BGMV), feeding the prompt's next token (teacher forcing).
    Returns, per row, the logits [len(prompt), vocab] in fp32."""
    pages = [acquire(cache, sha) if sha else None for _, sha in rows]
    n, longest = len(rows), max(len(p) for p, _ in rows)
    kv = KVCache(model.config, n, longest + 1, "cpu", model.dtype)
    split = [max(1, len(p) // 2) for p, _ in rows]
    hidden, spans = packed_prefill(model, cache, kv, [p[:k] for (p, _), k in zip(rows, split)], pages)
    tier = cache.device_tier
    logits = model.logits(hidden)
    out = [[logits[s : s + k]] for (_, s, k) in spans]
    plan = BgmvPlan.build(pages, "cpu")
    lengths = torch.tensor(split)
    for _ in range(longest - min(split)):
        # rows whose prompt is used up feed token 0 and are ignored; their cache rows have room for one more
        feed = torch.tensor([p[int(length)] if length < len(p) else 0 for (p, _), length in zip(rows, lengths)])
        lora = LoraBatch(tier.shrink, tier.expand, plan=plan)
        step = model.logits(model.forward(feed, lengths, DecodeAttention(kv, lengths), lora))
        for row, ((prompt, _), length) in enumerate(zip(rows, lengths)):
            if length < len(prompt):
                out[row].append(step[row : row + 1])
        lengths = torch.minimum(lengths + 1, torch.tensor([len(p) for p, _ in rows]))
    for sha in (r[1] for r in rows):
        if sha:
            cache.release(sha)
    return [torch.cat(chunks) for chunks in out]
