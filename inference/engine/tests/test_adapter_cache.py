import contextlib
import os
import shutil

import pytest
import torch

from conftest import acquire, copy_adapter, make_cache, make_scheduler, pages_of, run_to_completion
from openpoa_engine.adapter_cache import CopyStream, NoFreePages, page_bytes
from openpoa_engine.adapters import AdapterError, artifact_hash, artifact_hash_of_dir, read_artifact
from openpoa_engine.cli import main as cli_main
from openpoa_engine.scheduler import Request, SamplingParams
from openpoa_engine.sources import DiskCache, HttpSource


def load(cache, sha):
    return acquire(cache, sha)


def loaded(cache, sha, count=True):
    """Wait for the adapter to be ready (on the device or in the host tier) without placing it; returns the handle."""
    handle = cache.request(sha, count=count)
    handle.future.result(timeout=30)
    return handle


def test_artifact_hash_definition(adapters, capsys):
    root, shas = adapters
    sha = shas["r8"][0]
    config_bytes, weights_bytes = read_artifact(os.path.join(root, sha))
    import hashlib
    import struct

    manual = hashlib.sha256(
        b"openpoa-lora-v1\n"
        + b"adapter_config.json\n"
        + struct.pack("<Q", len(config_bytes))
        + config_bytes
        + b"adapter_model.safetensors\n"
        + struct.pack("<Q", len(weights_bytes))
        + weights_bytes
    )
    assert manual.hexdigest() == sha == artifact_hash_of_dir(os.path.join(root, sha))
    assert artifact_hash(config_bytes + b" ", weights_bytes) != sha
    assert artifact_hash(config_bytes[:-1], config_bytes[-1:] + weights_bytes) != sha  # no boundary ambiguity
    cli_main(["artifact-hash", os.path.join(root, sha)])
    assert capsys.readouterr().out.strip() == sha


def test_eviction_under_tight_budget_is_lru_and_never_evicts_pinned(model, adapters):
    root, shas = adapters
    r8 = shas["r8"]  # all seven projections at rank 8
    cache = make_cache(model, root, budget_pages=2 * pages_of(model, 8))
    load(cache, r8[0])
    load(cache, r8[1])
    cache.release(r8[0])  # r8[0] finished; r8[1] still running
    load(cache, r8[2])  # needs pages: evicts r8[0], the only unpinned one
    resident = cache.device_tier.pages.resident
    assert list(resident) == [r8[1], r8[2]] and cache.stats()["evictions"] == 1
    with pytest.raises(NoFreePages):  # both pinned: a third adapter must wait, and evicts nothing meanwhile
        load(cache, r8[0])
    assert list(resident) == [r8[1], r8[2]] and cache.stats()["evictions"] == 1
    cache.release(r8[1])
    cache.release(r8[2])
    load(cache, shas["attn_rslora"][0])  # rank 12 on q, v, o: fewer pages than one rank-8 adapter on all seven
    assert pages_of(model, 12, ("q_proj", "v_proj", "o_proj")) < pages_of(model, 8)
    assert list(resident) == [r8[2], shas["attn_rslora"][0]]  # evicted only the least recently used (r8[1])
    with pytest.raises(AdapterError, match="pages") as e:  # r40 needs five times as many pages as r8
        load(cache, shas["r40"][0])
    assert e.value.code == "adapter_too_large"


def test_eviction_keeps_pool_contents_correct(model, adapters):
    """After adapters are evicted and pages reused, a re-loaded adapter's pages hold its own weights."""
    root, shas = adapters
    cache = make_cache(model, root, budget_pages=2 * pages_of(model, 8))
    tier = cache.device_tier

    def contents(table):
        shrink = {g: tier.pool[:, pages.flatten()].clone() for g, pages in table.shrink.items()}
        return {**shrink, **{p: tier.expand[:, rows.flatten()].clone() for p, rows in table.expand.items()}}

    snapshot = contents(load(cache, shas["r16"][0]))
    cache.release(shas["r16"][0])
    for sha in shas["r8"]:  # three rank-8 adapters push r16[0] out
        load(cache, sha)
        cache.release(sha)
    assert shas["r16"][0] not in tier.tables
    again = contents(load(cache, shas["r16"][0]))
    assert all(torch.equal(again[p], snapshot[p]) for p in snapshot)


def test_counters_prefetch_and_idempotent_load_offload(model, adapters):
    root, shas = adapters
    cache = make_cache(model, root)
    sha = shas["r16"][1]
    cache.make_resident(loaded(cache, sha, count=False))
    cache.make_resident(loaded(cache, sha, count=False))  # idempotent
    stats = cache.stats()
    assert stats["resident_adapters"] == 1 and stats["source_loads"] == 1 and stats["pages_used"] == pages_of(model, 16)
    assert stats["resident_bytes"] == pages_of(model, 16) * page_bytes(model.config, torch.float32)
    assert stats["last_load_ms"] > 0 and stats["host"]["held_adapters"] == 0
    hit = loaded(cache, sha)  # device-resident: a hit
    loaded(cache, shas["r8"][0]).release()  # a miss
    assert (cache.stats()["hits"], cache.stats()["misses"]) == (1, 1)
    cache.acquire(hit)
    with pytest.raises(AdapterError) as e:
        cache.offload(sha)
    assert e.value.code == "adapter_in_use"
    cache.release(sha)
    assert cache.offload(sha) is True
    assert cache.offload(sha) is False  # idempotent
    assert cache.stats()["resident_adapters"] == 0 and cache.stats()["host"]["adapters"] == 1  # r8[0] stays on host


@pytest.fixture
def bad_root(adapters, tmp_path):
    return str(tmp_path)


def refused(model, root, sha):
    cache = make_cache(model, root)
    with pytest.raises(AdapterError) as e:
        cache.request(sha).future.result(timeout=30)
    assert cache.stats()["load_errors"] == 1 and cache.stats()["resident_adapters"] == 0
    return e.value


def test_hash_mismatch_is_refused(model, adapters, bad_root):
    root, shas = adapters
    good, other = shas["r8"][0], shas["r8"][1]
    shutil.copytree(os.path.join(root, good), os.path.join(bad_root, other))  # right files under a wrong name
    error = refused(model, bad_root, other)
    assert error.code == "adapter_hash_mismatch" and good in str(error)


def test_wrong_base_model_is_refused(model, adapters, bad_root):
    root, shas = adapters
    sha = copy_adapter(
        root, shas["r8"][0], bad_root, edit_config=lambda c: c.update(base_model_name_or_path="meta-llama/Llama-3.1-8B")
    )
    error = refused(model, bad_root, sha)
    assert error.code == "adapter_wrong_base_model" and "Llama-3.1-8B" in str(error)


def test_wrong_shape_is_refused(model, adapters, bad_root):
    root, shas = adapters

    def widen(tensors):
        key = "base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"
        tensors[key] = torch.zeros(8, model.config.intermediate_size + 1)

    error = refused(model, bad_root, copy_adapter(root, shas["r8"][0], bad_root, edit_weights=widen))
    assert error.code == "adapter_bad_shape" and "down_proj" in str(error)

    def extra_layer(tensors):
        tensors["base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight"] = torch.zeros(8, 64)
        tensors["base_model.model.model.layers.9.self_attn.q_proj.lora_B.weight"] = torch.zeros(64, 8)

    error = refused(model, bad_root, copy_adapter(root, shas["r8"][0], bad_root, edit_weights=extra_layer))
    assert error.code == "adapter_bad_shape" and "layer 9" in str(error)


def test_non_finite_weights_are_refused(model, adapters, bad_root):
    root, shas = adapters
    key = "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"

    def poison(tensors):
        tensors[key][3, 2] = float("nan")

    error = refused(model, bad_root, copy_adapter(root, shas["r8"][0], bad_root, edit_weights=poison))
    assert error.code == "adapter_corrupt" and key in str(error) and "non-finite" in str(error)


def test_truncated_file_is_refused(model, adapters, bad_root):
    root, shas = adapters
    config_bytes, weights_bytes = read_artifact(os.path.join(root, shas["r8"][0]))
    weights_bytes = weights_bytes[: len(weights_bytes) - 100]
    sha = artifact_hash(config_bytes, weights_bytes)  # published truncated: the hash matches, the file does not parse
    os.makedirs(os.path.join(bad_root, sha))
    for name, content in (("adapter_config.json", config_bytes), ("adapter_model.safetensors", weights_bytes)):
        with open(os.path.join(bad_root, sha, name), "wb") as f:
            f.write(content)
    error = refused(model, bad_root, sha)
    assert error.code == "adapter_corrupt" and "truncated" in str(error)


def test_unknown_adapter_and_bad_hash_format(model, adapters):
    root, _ = adapters
    assert refused(model, root, "0" * 64).code == "adapter_not_found"
    with pytest.raises(AdapterError) as e:
        make_cache(model, root).request("not-a-hash")
    assert e.value.code == "bad_request"


def test_http_source_loads_and_refuses(model, adapters, http_server, tmp_path):
    root, shas = adapters
    http_root, _ = http_server(root)
    cache = make_cache(model, root, source=HttpSource(http_root, DiskCache(str(tmp_path / "disk"), 1 << 30)))
    local = make_cache(model, root)
    sha = shas["r40"][0]
    loaded(cache, sha)
    loaded(local, sha)
    over_http, from_disk = cache.host[sha], local.host[sha]
    assert over_http.rank == 40 and over_http.nbytes == from_disk.nbytes
    assert all(
        torch.equal(over_http.a[p], from_disk.a[p]) and torch.equal(over_http.b[p], from_disk.b[p]) for p in over_http.a
    )
    with pytest.raises(AdapterError) as e:
        cache.request("f" * 64).future.result(timeout=30)
    assert e.value.code == "adapter_not_found"
    dead = make_cache(model, root, source=HttpSource("http://127.0.0.1:9", DiskCache(str(tmp_path / "d2"), 1 << 30), 2))
    with pytest.raises(AdapterError) as e:
        dead.request(sha).future.result(timeout=30)
    assert e.value.code == "adapter_fetch_failed"
    assert os.listdir(tmp_path / "d2") == []  # a failed download leaves nothing behind


def test_scale_is_alpha_over_r_or_alpha_over_sqrt_r_with_rslora(model, adapters):
    import json

    from openpoa_engine.adapters import parse_adapter

    root, shas = adapters
    config_bytes, weights_bytes = read_artifact(os.path.join(root, shas["r8"][0]))
    peft = json.loads(config_bytes)
    peft["lora_alpha"] = 12
    assert parse_adapter(json.dumps(peft).encode(), weights_bytes, model.config).scale == 12 / 8
    peft["use_rslora"] = True
    assert parse_adapter(json.dumps(peft).encode(), weights_bytes, model.config).scale == 12 / 8**0.5
    for field, value, code in (
        ("r", 200, "adapter_unsupported"),
        ("use_dora", True, "adapter_unsupported"),
        ("peft_type", "IA3", "adapter_unsupported"),
    ):
        with pytest.raises(AdapterError) as e:
            parse_adapter(json.dumps({**peft, field: value}).encode(), weights_bytes, model.config)
        assert e.value.code == code
    with pytest.raises(AdapterError) as e:
        parse_adapter(b"{not json", weights_bytes, model.config)
    assert e.value.code == "adapter_corrupt"


def test_host_adapter_is_the_reference_whatever_the_file_layout(tmp_path):
    """read_adapter copies runs of layers stored at a regular stride in one strided view: layers out of order in the
    file (names sort 0, 1, 10, 11, 2, ...), mixed dtypes and a misaligned tensor give the reference's HostAdapter."""
    from openpoa_engine.adapters import HostAdapter, ReadBuffer, parse_adapter, read_adapter
    from openpoa_engine.config import ModelConfig, module_path
    from openpoa_engine.generate import peft_lora_config, write_adapter

    config = ModelConfig(
        vocab_size=16, hidden_size=9, intermediate_size=15, num_layers=12, num_heads=3, num_kv_heads=1, head_dim=3
    )
    g, rank, tensors = torch.Generator().manual_seed(0), 3, {}
    targets = ("k_proj", "o_proj", "down_proj")
    for layer in [i for i in range(config.num_layers) if i != 7]:  # layer 7 untargeted: zeros
        for p in targets:
            key = f"base_model.model.{module_path(layer, p)}"
            for kind, shape in (("A", (rank, config.in_features(p))), ("B", (config.out_features(p), rank))):
                # layer 4's k_proj lora_B in bf16 (9 values: the next float32 tensor is misaligned); float16 on
                # layers 9..10 of o_proj
                dtype = {("k_proj", 4, "B"): torch.bfloat16, ("o_proj", 9, "A"): torch.float16}
                dtype = dtype.get((p, layer, kind), torch.float16 if (p, layer) == ("o_proj", 10) else torch.float32)
                tensors[f"{key}.lora_{kind}.weight"] = torch.randn(*shape, generator=g).to(dtype)
    sha = write_adapter(str(tmp_path), peft_lora_config("", rank, 6, targets), tensors)
    files = ReadBuffer().read(str(tmp_path / sha))
    adapter = read_adapter(files, config, torch.float32)
    reference = HostAdapter.from_weights(
        parse_adapter(*read_artifact(str(tmp_path / sha)), config), config, torch.float32
    )
    assert artifact_hash(*files) == sha and set(adapter.a) == set(reference.a) == set(targets)
    for p in targets:
        assert torch.equal(adapter.a[p], reference.a[p]) and torch.equal(adapter.b[p], reference.b[p])
    assert not adapter.a["o_proj"][7].any() and adapter.a["o_proj"][8].any()


def test_kept_layouts_skip_only_checks_that_the_same_bytes_passed(model, adapters, tmp_path):
    """read_adapter's layouts: a second adapter of the same config and header skips their checks, and still has its
    own weights, its non-finite weights refused; a truncated copy of the same header is refused."""
    from openpoa_engine.adapters import ReadBuffer, read_adapter

    root, shas = adapters
    layouts, buffer = {}, ReadBuffer()

    def read(root, sha):
        return read_adapter(buffer.read(os.path.join(root, sha)), model.config, torch.float32, layouts=layouts)

    first, second = read(root, shas["r8"][0]), read(root, shas["r8"][1])
    assert len(layouts) == 1 and not torch.equal(first.flat, second.flat)
    assert torch.equal(
        second.flat, read_adapter(buffer.read(os.path.join(root, shas["r8"][1])), model.config, torch.float32).flat
    )

    def poison(tensors):
        tensors["base_model.model.model.layers.1.mlp.up_proj.lora_A.weight"][0, 0] = float("inf")

    with pytest.raises(AdapterError, match="non-finite"):
        read(str(tmp_path), copy_adapter(root, shas["r8"][0], str(tmp_path), edit_weights=poison))
    path = os.path.join(str(tmp_path), shas["r8"][0])
    shutil.copytree(os.path.join(root, shas["r8"][0]), path)
    with open(os.path.join(path, "adapter_model.safetensors"), "r+b") as f:
        f.truncate(os.path.getsize(f.name) - 4)
    with pytest.raises(AdapterError, match="truncated|exceeds"):
        read(str(tmp_path), shas["r8"][0])
    assert len(layouts) == 1


class RecordingCuda:
    """torch.cuda's stream and event calls, recorded in order (CUDA cannot run here): a stand-in to check only what
    CopyStream orders. The current stream is "compute" outside `with stream(copy)`."""

    def __init__(self):
        self.log, self.events = [], 0
        self.current = self.compute = self.Stream("compute")

    def Stream(self, device):
        cuda, name = self, "copy" if hasattr(self, "compute") else device

        class Stream:
            def wait_stream(self, other):
                cuda.log.append((name, "waits for", other.name))

            def wait_event(self, event):
                cuda.log.append((name, "waits on", event.id))

        stream = Stream()
        stream.name, stream.device = name, "cuda"
        return stream

    def current_stream(self, device=None):
        return self.current

    def Event(self):
        cuda = self

        class Event:
            def record(self, stream):
                cuda.log.append((stream.name, "records", self.id))

        event, self.events = Event(), self.events + 1
        event.id = self.events
        return event

    @contextlib.contextmanager
    def stream(self, stream):
        self.current = stream
        yield
        self.current = self.compute


def test_placements_copy_on_their_stream_and_steps_wait_for_them(model, adapters, monkeypatch):
    """Adapter A then B through a device tier with room for one: each placement's writes go on the copy stream after
    the compute issued before it (so B's reuse of A's pages waits for A's last step), and the compute stream waits on
    the placement's event before the first step that reads it. On CPU the tokens are those without a copy stream."""
    root, shas = adapters
    a, b = shas["r8"][0], shas["r8"][1]
    requests = [(name, [5, 6, 7], SamplingParams(max_tokens=3, seed=1, ignore_eos=True), sha) for name, sha in
                (("a", a), ("b", b))]  # fmt: skip
    runs = []
    for recording in (False, True):
        scheduler = make_scheduler(model, root, budget_pages=pages_of(model, 8), max_batch_size=1)
        tier, cuda = scheduler.cache.device_tier, RecordingCuda()
        if recording:
            tier.copies = CopyStream("cuda", cuda)
            write = torch.Tensor.__setitem__
            forward = model.forward

            def recorded_write(tensor, index, value):
                if tensor.data_ptr() == tier.pool.data_ptr():
                    cuda.log.append((cuda.current.name, "writes pages"))
                write(tensor, index, value)

            def recorded_forward(*args):
                adapters_read = [s.request.adapter for s in scheduler.running if s.pages]
                cuda.log.append((cuda.current.name, "reads", *adapters_read))
                return forward(*args)

            monkeypatch.setattr(torch.Tensor, "__setitem__", recorded_write)
            monkeypatch.setattr(model, "forward", recorded_forward)
        tokens = {}
        for name, prompt, params, sha in requests:
            scheduler.submit(Request(name, prompt, params, sha, lambda e: tokens.setdefault(e["id"], []).append(e)))
        run_to_completion(scheduler)
        monkeypatch.undo()
        assert tier.pages.evictions == 1
        runs.append(({k: [e.get("token") for e in v] for k, v in tokens.items()}, cuda.log))
    assert runs[0][0] == runs[1][0]
    log = runs[1][1]
    copy_starts = {}
    for sha, event in ((a, 1), (b, 2)):  # wait for compute, write the pages on the copy stream, record the event
        issued = log.index(("copy", "records", event))
        start = copy_starts[sha] = max(i for i, e in enumerate(log[:issued]) if e == ("copy", "waits for", "compute"))
        assert issued - start > 1 and all(e == ("copy", "writes pages") for e in log[start + 1 : issued])
        reads = [i for i, entry in enumerate(log) if entry == ("compute", "reads", sha)]
        assert reads and start < log.index(("compute", "waits on", event)) < reads[0]
    last_read_of_a = max(i for i, entry in enumerate(log) if entry == ("compute", "reads", a))
    assert last_read_of_a < copy_starts[b]  # B's copy, into A's pages, waits for A's last step
    assert all(entry[0] == "copy" for entry in log if entry[1] == "writes pages")
