import functools
import http.server
import os
import shutil
import threading

import pytest
import torch

from conftest import copy_adapter, make_cache
from openpoa_engine.adapter_cache import AdapterCache, HttpSource, NoFreePages, page_bytes
from openpoa_engine.adapters import AdapterError, artifact_hash, artifact_hash_of_dir, read_artifact
from openpoa_engine.cli import main as cli_main


def load(cache, sha):
    return cache.acquire(sha, cache.fetch(sha).result(timeout=30))


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
    r8 = shas["r8"]  # one page each
    cache = make_cache(model, root, budget_pages=2)
    assert cache.device_tier.num_pages == 2
    load(cache, r8[0])
    load(cache, r8[1])
    cache.release(r8[0])  # r8[0] finished; r8[1] still running
    load(cache, r8[2])  # needs a page: evicts r8[0], the only unpinned one
    resident = cache.device_tier.resident
    assert set(resident) == {r8[1], r8[2]} and cache.stats()["evictions"] == 1
    with pytest.raises(NoFreePages):  # both pinned: a third adapter must wait
        load(cache, r8[0])
    cache.release(r8[1])
    cache.release(r8[2])
    load(cache, shas["r16"][0])  # evicts the least recently used (r8[1])
    assert set(resident) == {r8[2], shas["r16"][0]}
    # r40 needs three pages: more than the tier holds
    with pytest.raises(AdapterError, match="pages") as e:
        load(cache, shas["r40"][0])
    assert e.value.code == "adapter_too_large"


def test_eviction_keeps_pool_contents_correct(model, adapters):
    """After adapters are evicted and pages reused, a re-loaded adapter's pages hold its own weights."""
    root, shas = adapters
    cache = make_cache(model, root, budget_pages=3)
    tier = cache.device_tier
    first = load(cache, shas["r16"][0])
    snapshot = {g: tier.shrink[g][:, first].clone() for g in tier.shrink}
    cache.release(shas["r16"][0])
    for sha in shas["r8"]:  # three one-page adapters push r16[0] out
        load(cache, sha)
        cache.release(sha)
    assert shas["r16"][0] not in tier.resident
    again = load(cache, shas["r16"][0])
    for g in tier.shrink:
        assert torch.equal(tier.shrink[g][:, again], snapshot[g])


def test_counters_prefetch_and_idempotent_load_offload(model, adapters):
    root, shas = adapters
    cache = make_cache(model, root)
    sha = shas["r16"][1]
    packed = cache.fetch(sha, count=False).result()
    cache.make_resident(sha, packed)
    cache.make_resident(sha, packed)  # idempotent
    stats = cache.stats()
    assert stats["resident_adapters"] == 1 and stats["source_loads"] == 1 and stats["pages_used"] == 1
    assert stats["resident_bytes"] == page_bytes(model.config, torch.float32) and stats["last_load_ms"] > 0
    assert cache.fetch(sha).result() is None  # device-resident: a hit, nothing to copy
    assert cache.fetch(shas["r8"][0]).result() is not None  # a miss
    assert (cache.stats()["hits"], cache.stats()["misses"]) == (1, 1)
    cache.acquire(sha, None)
    with pytest.raises(AdapterError) as e:
        cache.offload(sha)
    assert e.value.code == "adapter_in_use"
    cache.release(sha)
    assert cache.offload(sha) is True
    assert cache.offload(sha) is False  # idempotent
    assert cache.stats()["resident_adapters"] == 0 and cache.stats()["host"]["adapters"] == 1  # r8[0] stays on host


def test_host_tier_respects_its_budget(model, adapters):
    root, shas = adapters
    one = make_cache(model, root).fetch(shas["r8"][0]).result().nbytes
    cache = make_cache(model, root, host_bytes=int(one * 2.5))
    for sha in shas["r8"]:
        cache.fetch(sha).result()
    assert cache.stats()["host"]["adapters"] == 2 and list(cache.host) == shas["r8"][1:]


@pytest.fixture
def bad_root(adapters, tmp_path):
    return str(tmp_path)


def refused(model, root, sha):
    cache = make_cache(model, root)
    with pytest.raises(AdapterError) as e:
        cache.fetch(sha).result(timeout=30)
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
        make_cache(model, root).fetch("not-a-hash")
    assert e.value.code == "bad_request"


@pytest.fixture
def http_root(adapters):
    root, _ = adapters
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_source_loads_and_refuses(model, adapters, http_root):
    root, shas = adapters
    cache = AdapterCache(
        HttpSource(http_root), model.config, "cpu", torch.float32, 8 * page_bytes(model.config, torch.float32), 1 << 30
    )
    local = make_cache(model, root)
    sha = shas["r40"][0]
    over_http = cache.fetch(sha).result(timeout=30)
    from_disk = local.fetch(sha).result(timeout=30)
    assert over_http.num_pages == 3
    for g in over_http.shrink:
        assert torch.equal(over_http.shrink[g], from_disk.shrink[g])
    with pytest.raises(AdapterError) as e:
        cache.fetch("f" * 64).result(timeout=30)
    assert e.value.code == "adapter_not_found"
    dead = AdapterCache(
        HttpSource("http://127.0.0.1:9", timeout_s=2),
        model.config,
        "cpu",
        torch.float32,
        8 * page_bytes(model.config, torch.float32),
        1 << 30,
    )
    with pytest.raises(AdapterError) as e:
        dead.fetch(sha).result(timeout=30)
    assert e.value.code == "adapter_fetch_failed"


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
