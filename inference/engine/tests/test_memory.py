"""Every budget is a hard limit (what would exceed it waits instead), the disk cache below the host tier, and pages
in proportion to an adapter's rank and targets."""

import concurrent.futures
import os

import pytest
import torch

from conftest import make_cache, pages_of, run_to_completion
from openpoa_engine.adapter_cache import PageAllocator, adapter_pages, page_bytes
from openpoa_engine.adapters import AdapterError, HostAdapter, artifact_hash_of_dir
from openpoa_engine.config import LLAMA3_8B, LORA_GROUPS, LORA_PROJECTIONS, ModelConfig
from openpoa_engine.kernels import PAGE_WIDTH
from openpoa_engine.scheduler import Request, SamplingParams, Scheduler
from openpoa_engine.sources import DiskCache, HttpSource
from openpoa_engine.tokenizer import ByteTokenizer

QV = ("q_proj", "v_proj")


def host_size(model, rank, targets=LORA_PROJECTIONS):
    return HostAdapter.nbytes_of(rank, targets, model.config, torch.float32)


def track_host_peak(cache):
    """The most host bytes (adapters + reservations) ever in use; only a reservation raises that sum."""
    peak, reserve = [0], cache._reserve

    def tracked(nbytes, ticket):
        reserve(nbytes, ticket)
        with cache.lock:
            peak[0] = max(peak[0], cache.host_bytes + cache.reserved)

    cache._reserve = tracked
    return peak


# -- pages in proportion to rank and targets (the allocator, no weights) --


def test_a_rank_8_qv_adapter_on_llama3_8b_shapes_takes_about_its_own_size():
    c = LLAMA3_8B
    assert c.lora_unit == 1024 and page_bytes(c, torch.bfloat16) == 1 << 20  # 32 layers x 1024 x 16 x 2 B
    own = HostAdapter.nbytes_of(8, QV, c, torch.bfloat16)
    assert own == 6.5 * 2**20
    # q and v share the qkv shrink pages (16 columns: 8 ranks each), expand rows 8 x (4 + 1) chunks fill 3 pages
    assert adapter_pages(c, 8, QV) == 4 + 3
    assert adapter_pages(c, 16, LORA_PROJECTIONS) * (1 << 20) == HostAdapter.nbytes_of(
        16, LORA_PROJECTIONS, c, torch.bfloat16
    )
    allocator = PageAllocator((1 << 30) // page_bytes(c, torch.bfloat16))
    resident = 0
    while not allocator.evictions:
        allocator.allocate(str(resident), adapter_pages(c, 8, QV))
        resident += 1
    assert resident - 1 == 146  # adapters per GiB, before the first eviction (a page per adapter of 80 MiB: 12)


@pytest.mark.parametrize("config", [LLAMA3_8B, ModelConfig(1, 48, 80, 2, 6, 2, 8)])
def test_pages_track_rank_and_targets_with_bounded_padding(config):
    """Occupancy = the adapter's own values plus padding under one page of expand rows and PAGE_WIDTH - 1 shrink
    columns per group and input chunk: so pages grow with rank and targets, never a fixed page per adapter."""
    unit, per_page = config.lora_unit, config.lora_unit * PAGE_WIDTH
    for targets in (QV, ("o_proj",), ("gate_proj", "up_proj", "down_proj"), LORA_PROJECTIONS):
        previous = 0
        for rank in range(1, 41):
            pages = adapter_pages(config, rank, targets)
            own = rank * sum(config.in_features(p) + config.out_features(p) for p in targets)
            groups = [m for _, m in LORA_GROUPS if set(m) & set(targets)]
            bound = per_page + sum((PAGE_WIDTH - 1) * config.in_features(m[0]) for m in groups)
            assert own <= pages * per_page < own + bound, (targets, rank)
            assert pages >= previous
            previous = pages
        assert adapter_pages(config, 32, targets) == 2 * adapter_pages(config, 16, targets)  # no padding at all
    assert adapter_pages(config, 8, QV) < adapter_pages(config, 8, LORA_PROJECTIONS) < unit * 10**6


# -- the device budget --


def test_device_pool_is_allocated_once_within_its_budget(model, adapters):
    root, shas = adapters
    budget_pages = 2 * pages_of(model, 16)
    cache = make_cache(model, root, budget_pages=budget_pages)
    pool, budget = cache.device_tier.pool, budget_pages * page_bytes(model.config, torch.float32)
    assert pool.numel() * pool.element_size() == budget
    pointer = pool.data_ptr()
    for sha in shas["r8"] + shas["r16"] + shas["attn_rslora"]:
        handle = cache.request(sha)
        handle.future.result(timeout=30)
        cache.make_resident(handle)
        assert cache.stats()["pages_used"] <= budget_pages
    assert pool.data_ptr() == pointer and cache.stats()["evictions"] >= 2


# -- the host budget --


def test_host_budget_is_a_hard_limit_a_load_waits_for_room(model, adapters):
    root, shas = adapters
    r8, one = shas["r8"], host_size(model, 8)
    cache = make_cache(model, root, host_bytes=int(one * 2.5))
    peak = track_host_peak(cache)
    handles = [cache.request(sha) for sha in r8]  # three waiting requests, each holding its adapter
    for handle in handles[:2]:
        handle.future.result(timeout=30)
    with pytest.raises(concurrent.futures.TimeoutError):  # no room beside two held adapters: the load waits
        handles[2].future.result(timeout=0.5)
    host = cache.stats()["host"]
    assert host["adapters"] == 2 and host["bytes"] == 2 * one and host["reserved_bytes"] == 0
    assert cache.stats()["host_waits"] == 1 and cache.stats()["loading"] == 1
    handles[0].release()  # its request left (or was admitted): its adapter may go
    handles[2].future.result(timeout=30)
    assert list(cache.host) == r8[1:] and peak[0] <= int(one * 2.5)


def test_loads_reserve_in_request_order_so_a_large_adapter_is_not_starved(model, adapters):
    root, shas = adapters
    small, large = shas["r8"], shas["r40"][0]
    cache = make_cache(model, root, host_bytes=host_size(model, 40))
    first = cache.request(small[0])
    first.future.result(timeout=30)
    waiting_large = cache.request(large)  # no room beside small[0], held
    later_small = cache.request(small[1])  # would fit beside small[0], but queued after the large one
    with pytest.raises(concurrent.futures.TimeoutError):
        later_small.future.result(timeout=0.5)
    assert not waiting_large.future.done() and list(cache.host) == [small[0]]
    first.release()
    waiting_large.future.result(timeout=30)
    assert list(cache.host) == [large] and not later_small.future.done()  # no room beside the held large one
    waiting_large.release()
    later_small.future.result(timeout=30)
    assert list(cache.host) == [small[1]]


def test_an_adapter_larger_than_the_host_budget_is_refused(model, adapters):
    root, shas = adapters
    cache = make_cache(model, root, host_bytes=host_size(model, 40) - 1)
    with pytest.raises(AdapterError) as e:
        cache.request(shas["r40"][0]).future.result(timeout=30)
    assert e.value.code == "adapter_too_large" and cache.stats()["host"]["reserved_bytes"] == 0


def test_requests_queue_behind_a_full_host_tier_and_all_complete(model, adapters):
    """Waiting requests hold handles, not tensors: with room for two adapters and twelve requests for six, host memory
    never passes the budget; loads wait until requests are admitted (then their adapters are on the device)."""
    root, shas = adapters
    chosen = shas["r8"] + shas["r16"] + shas["attn_rslora"]
    budget = 2 * host_size(model, 16)
    cache = make_cache(model, root, budget_pages=pages_of(model, 16) + pages_of(model, 8), host_bytes=budget)
    peak = track_host_peak(cache)
    scheduler = Scheduler(model, ByteTokenizer(), cache, max_batch_size=2, prefetch_depth=12)  # all load ahead
    done = {}
    for i, sha in enumerate(chosen * 2):
        params = SamplingParams(max_tokens=3, seed=i, ignore_eos=True)
        emit = lambda e, i=i: done.__setitem__(i, e) if e["type"] in ("done", "error") else None  # noqa: E731
        scheduler.submit(Request(f"r{i}", [1, 2, 3], params, sha, emit))
    run_to_completion(scheduler)
    assert [done[i]["type"] for i in range(12)] == ["done"] * 12
    stats = cache.stats()
    assert peak[0] <= budget and stats["host"]["bytes"] <= budget and stats["host_waits"] >= 1
    assert stats["host"]["held_adapters"] == 0 and stats["host"]["reserved_bytes"] == 0


def test_a_cancelled_waiting_request_releases_its_hold(model, adapters):
    root, shas = adapters
    cache = make_cache(model, root, host_bytes=int(host_size(model, 8) * 1.5))
    scheduler = Scheduler(model, ByteTokenizer(), cache, max_batch_size=1)
    scheduler.submit(Request("a", [1], SamplingParams(max_tokens=2), shas["r8"][0], lambda e: None))
    scheduler.waiting[0].handle.future.result(timeout=30)
    assert cache.stats()["host"]["held_adapters"] == 1
    scheduler.cancel("a")
    assert cache.stats()["host"]["held_adapters"] == 0
    handle = cache.request(shas["r8"][1])  # fits only once r8[0] may leave
    handle.future.result(timeout=30)
    assert list(cache.host) == [shas["r8"][1]]


# -- the disk cache below the host tier --


def read(source, sha):
    with source.open(sha) as directory:
        return artifact_hash_of_dir(directory)


def test_disk_cache_evicts_the_least_recently_used_by_size_and_survives_a_restart(adapters, http_server, tmp_path):
    root, shas = adapters
    url, _ = http_server(root)
    a, b, c = shas["r8"]
    size = sum(os.path.getsize(os.path.join(root, a, n)) for n in os.listdir(os.path.join(root, a)))
    disk = DiskCache(str(tmp_path / "disk"), int(size * 2.5))
    source = HttpSource(url, disk)
    assert [read(source, sha) for sha in (a, b, a)] == [a, b, a]  # a is now the most recently used
    read(source, c)  # over the cap: b goes
    assert list(disk.entries) == [a, c] and not (tmp_path / "disk" / b).exists()
    assert disk.counters == {"hits": 1, "downloads": 3, "evictions": 1} and disk.used_bytes <= size * 2.5
    with source.open(a), source.open(c):  # held entries stay: no room for b
        with pytest.raises(AdapterError) as e:
            read(source, b)
        assert e.value.code == "adapter_cache_full"
    assert sorted(os.listdir(tmp_path / "disk")) == sorted([a, c])  # the refused download left nothing
    os.mkdir(tmp_path / "disk" / f".partial-{b}-crashed")
    again = DiskCache(str(tmp_path / "disk"), int(size * 2.5))
    assert list(again.entries) == [a, c] and sorted(os.listdir(tmp_path / "disk")) == sorted([a, c])
    with pytest.raises(AdapterError) as e:
        read(HttpSource(url, DiskCache(str(tmp_path / "small"), size - 1)), a)
    assert e.value.code == "adapter_too_large"


def test_an_adapter_evicted_from_the_host_tier_is_read_from_disk_not_downloaded(model, adapters, http_server, tmp_path):
    root, shas = adapters
    url, http = http_server(root)
    source = HttpSource(url, DiskCache(str(tmp_path), 1 << 30))
    a, b = shas["r8"][:2]
    cache = make_cache(model, root, source=source, host_bytes=int(host_size(model, 8) * 1.5))  # one at a time
    for sha in (a, b, a, b, a):
        handle = cache.request(sha, count=False)
        handle.future.result(timeout=30)
        handle.release()
    assert cache.stats()["source_loads"] == 5 and list(cache.host) == [a]
    assert cache.stats()["disk"]["downloads"] == 2 and cache.stats()["disk"]["hits"] == 3 and http["gets"] == 4


def test_a_corrupted_disk_copy_is_rejected_and_downloaded_again(model, adapters, http_server, tmp_path):
    root, shas = adapters
    url, http = http_server(root)
    source = HttpSource(url, DiskCache(str(tmp_path), 1 << 30))
    cache = make_cache(model, root, source=source)
    sha = shas["r8"][0]
    cache.request(sha).future.result(timeout=30)
    weights = tmp_path / sha / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of one weight: still a valid safetensors file
    weights.write_bytes(bytes(data))
    assert cache.offload(sha) and artifact_hash_of_dir(str(tmp_path / sha)) != sha
    cache.request(sha).future.result(timeout=30)
    assert artifact_hash_of_dir(str(tmp_path / sha)) == sha
    assert cache.stats()["disk"]["downloads"] == 2 and http["gets"] == 4


def test_a_download_that_fails_its_hash_never_enters_the_disk_cache(model, adapters, http_server, tmp_path):
    root, shas = adapters
    served = tmp_path / "served"
    os.makedirs(served / shas["r8"][1])
    for name in os.listdir(os.path.join(root, shas["r8"][0])):  # the right files under another adapter's hash
        (served / shas["r8"][1] / name).write_bytes(open(os.path.join(root, shas["r8"][0], name), "rb").read())
    url, http = http_server(str(served))
    cache = make_cache(model, root, source=HttpSource(url, DiskCache(str(tmp_path / "disk"), 1 << 30)))
    with pytest.raises(AdapterError) as e:
        cache.request(shas["r8"][1]).future.result(timeout=30)
    assert e.value.code == "adapter_hash_mismatch" and os.listdir(tmp_path / "disk") == []
