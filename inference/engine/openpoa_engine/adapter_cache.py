"""Adapter cache: artifact source -> host tier (packed, pinned on CUDA) -> device tier (preallocated pages).

Adapters load just in time on first use (or on prefetch) in loader threads, so decoding never waits on I/O.
The device tier evicts least-recently-used adapters that no running sequence holds (pinned ones never go).
Device-tier methods run on the engine thread only; the host tier is shared with the loader threads under a lock.
"""

import os
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

import torch

from .adapters import ARTIFACT_FILES, AdapterError, artifact_hash, check_hash_format, pack_adapter, parse_adapter
from .config import LORA_GROUPS, LORA_PROJECTIONS
from .kernels import PAGE_RANK, lora_pool_dtype


class LocalSource:
    """A directory laid out by content: ROOT/<sha256>/adapter_config.json and adapter_model.safetensors."""

    def __init__(self, root):
        self.root = root

    def fetch(self, sha256):
        directory = os.path.join(self.root, sha256)
        if not os.path.isdir(directory):
            raise AdapterError("adapter_not_found", f"adapter {sha256} is not in {self.root}")
        contents = []
        for name in ARTIFACT_FILES:
            try:
                with open(os.path.join(directory, name), "rb") as f:
                    contents.append(f.read())
            except FileNotFoundError:
                raise AdapterError("adapter_corrupt", f"adapter {sha256}: {name} is missing") from None
        return tuple(contents)


class HttpSource:
    """An HTTP base URL laid out like LocalSource: GET BASE/<sha256>/adapter_config.json and
    BASE/<sha256>/adapter_model.safetensors."""

    def __init__(self, base_url, timeout_s=30.0):
        self.base_url, self.timeout_s = base_url.rstrip("/"), timeout_s

    def fetch(self, sha256):
        contents = []
        for name in ARTIFACT_FILES:
            url = f"{self.base_url}/{sha256}/{name}"
            try:
                with urllib.request.urlopen(url, timeout=self.timeout_s) as response:
                    contents.append(response.read())
            except urllib.error.HTTPError as e:
                code = "adapter_not_found" if e.code == 404 else "adapter_fetch_failed"
                raise AdapterError(code, f"GET {url}: HTTP {e.code}") from None
            except (OSError, urllib.error.URLError) as e:  # includes http.client.IncompleteRead and timeouts
                raise AdapterError("adapter_fetch_failed", f"GET {url}: {e}") from None
        return tuple(contents)


def open_source(spec):
    if spec.startswith(("http://", "https://")):
        return HttpSource(spec)
    if not os.path.isdir(spec):
        raise ValueError(f"adapter source {spec!r} is neither an http(s) URL nor a directory")
    return LocalSource(spec)


def page_bytes(config, dtype):
    """Bytes of one page (PAGE_RANK ranks of all seven projections in all layers)."""
    per_layer = sum(config.in_features(members[0]) * len(members) for _, members in LORA_GROUPS)
    per_layer += sum(config.out_features(p) for p in LORA_PROJECTIONS)
    return config.num_layers * per_layer * PAGE_RANK * torch.empty((), dtype=dtype).element_size()


class NoFreePages(Exception):
    """Every page is held by adapters of running sequences; the request waits for one to finish."""


class DeviceTier:
    def __init__(self, config, num_pages, device, dtype):
        layers = config.num_layers
        self.shrink = {
            g: torch.zeros(layers, num_pages, config.in_features(m[0]), len(m) * PAGE_RANK, device=device, dtype=dtype)
            for g, m in LORA_GROUPS
        }
        self.expand = {
            p: torch.zeros(layers, num_pages * PAGE_RANK, config.out_features(p), device=device, dtype=dtype)
            for p in LORA_PROJECTIONS
        }
        self.num_pages, self.device = num_pages, device
        self.free = list(range(num_pages))
        self.resident = OrderedDict()  # sha256 -> page list, least recently used first
        self.pins = {}  # sha256 -> running sequences using it
        self.evictions = 0

    def place(self, sha256, packed):
        if sha256 in self.resident:
            self.resident.move_to_end(sha256)
            return self.resident[sha256]
        if packed.num_pages > self.num_pages:
            raise AdapterError(
                "adapter_too_large", f"adapter needs {packed.num_pages} pages, the device tier has {self.num_pages}"
            )
        while len(self.free) < packed.num_pages:
            victim = next((s for s in self.resident if not self.pins.get(s)), None)
            if victim is None:
                raise NoFreePages()
            self.remove(victim)
            self.evictions += 1
        pages, self.free = self.free[: packed.num_pages], self.free[packed.num_pages :]
        index = torch.tensor(pages, device=self.device)
        for group, pool in self.shrink.items():
            pool.index_copy_(1, index, packed.shrink[group].to(self.device, non_blocking=True))
        for projection, pool in self.expand.items():
            layers, _, out = pool.shape
            src = packed.expand[projection].to(self.device, non_blocking=True).view(layers, -1, PAGE_RANK, out)
            pool.view(layers, -1, PAGE_RANK, out).index_copy_(1, index, src)
        self.resident[sha256] = pages
        return pages

    def remove(self, sha256):
        self.free.extend(self.resident.pop(sha256))


class AdapterCache:
    def __init__(self, source, config, device, dtype, device_budget_bytes, host_budget_bytes, loader_threads=2):
        """dtype: the model's; the pools and packed adapters use lora_pool_dtype of it (float32 for bf16 on CPU)."""
        self.source, self.config, self.device = source, config, torch.device(device)
        self.dtype = lora_pool_dtype(self.device, dtype)
        one_page = page_bytes(config, self.dtype)
        num_pages = int(device_budget_bytes // one_page)
        if num_pages < 1:
            raise ValueError(f"device budget {device_budget_bytes} B is below one page ({one_page} B)")
        self.device_tier = DeviceTier(config, num_pages, self.device, self.dtype)
        self.host_budget_bytes = host_budget_bytes
        self.host = OrderedDict()  # sha256 -> PackedAdapter, least recently used first
        self.host_bytes = 0
        self.inflight = {}  # sha256 -> Future[PackedAdapter]
        self.lock = threading.Lock()
        self.loader = ThreadPoolExecutor(loader_threads, thread_name_prefix="adapter-loader")
        self.counters = {
            "hits": 0,
            "misses": 0,
            "source_loads": 0,
            "load_errors": 0,
            "load_ms_total": 0.0,
            "last_load_ms": 0.0,
        }

    # -- loading: called on the engine thread, the work runs in loader threads --

    def fetch(self, sha256, count=True):
        """Future of the packed adapter; resolves at once for device- or host-resident adapters.
        count: record a device-tier hit or miss (requests count; prefetches do not)."""
        check_hash_format(sha256)
        with self.lock:
            if count:
                self.counters["hits" if sha256 in self.device_tier.resident else "misses"] += 1
            done = Future()
            if sha256 in self.device_tier.resident:
                done.set_result(None)  # already on device: nothing to copy
                return done
            if sha256 in self.host:
                self.host.move_to_end(sha256)
                done.set_result(self.host[sha256])
                return done
            if sha256 not in self.inflight:
                self.inflight[sha256] = self.loader.submit(self._load, sha256)
            return self.inflight[sha256]

    def _load(self, sha256):
        start = time.perf_counter()
        try:
            config_bytes, weights_bytes = self.source.fetch(sha256)
            actual = artifact_hash(config_bytes, weights_bytes)
            if actual != sha256:
                raise AdapterError("adapter_hash_mismatch", f"artifact hash is {actual}, expected {sha256}")
            packed = pack_adapter(parse_adapter(config_bytes, weights_bytes, self.config), self.config, self.dtype)
            if self.device.type == "cuda":
                packed = packed.pin_memory()  # pinned host memory makes the device copy of a cold adapter cheap
        except Exception:
            with self.lock:
                self.counters["load_errors"] += 1
                self.inflight.pop(sha256, None)
            raise
        with self.lock:
            elapsed_ms = (time.perf_counter() - start) * 1e3
            self.counters["source_loads"] += 1
            self.counters["load_ms_total"] += elapsed_ms
            self.counters["last_load_ms"] = elapsed_ms
            self.inflight.pop(sha256, None)
            self._host_insert(sha256, packed)
        return packed

    def _host_insert(self, sha256, packed):
        while self.host and self.host_bytes + packed.nbytes > self.host_budget_bytes:
            _, dropped = self.host.popitem(last=False)
            self.host_bytes -= dropped.nbytes
        if packed.nbytes <= self.host_budget_bytes:
            self.host[sha256] = packed
            self.host_bytes += packed.nbytes

    # -- engine thread --

    def acquire(self, sha256, packed):
        """Place on the device (if not there) and pin for a running sequence; returns its pages.
        Raises NoFreePages when every page is pinned."""
        pages = self.device_tier.place(sha256, packed)
        self.device_tier.pins[sha256] = self.device_tier.pins.get(sha256, 0) + 1
        return pages

    def release(self, sha256):
        pins = self.device_tier.pins
        pins[sha256] -= 1
        if not pins[sha256]:
            del pins[sha256]

    def make_resident(self, sha256, packed):
        """Prefetch to the device without pinning (idempotent)."""
        self.device_tier.place(sha256, packed)

    def offload(self, sha256):
        """Drop from both tiers (idempotent). Returns whether it was resident anywhere."""
        check_hash_format(sha256)
        if self.device_tier.pins.get(sha256):
            raise AdapterError("adapter_in_use", f"adapter {sha256} is used by running sequences")
        on_device = sha256 in self.device_tier.resident
        if on_device:
            self.device_tier.remove(sha256)
        with self.lock:
            packed = self.host.pop(sha256, None)
            if packed is not None:
                self.host_bytes -= packed.nbytes
        return on_device or packed is not None

    def stats(self):
        tier = self.device_tier
        with self.lock:
            counters = dict(self.counters)
            host = {"adapters": len(self.host), "bytes": self.host_bytes, "budget_bytes": self.host_budget_bytes}
        used_pages = tier.num_pages - len(tier.free)
        return {
            **counters,
            "evictions": tier.evictions,
            "resident_adapters": len(tier.resident),
            "resident_bytes": used_pages * page_bytes(self.config, self.dtype),
            "pages_total": tier.num_pages,
            "pages_used": used_pages,
            "pinned_adapters": len(tier.pins),
            "loading": len(self.inflight),
            "host": host,
        }

    def close(self):
        self.loader.shutdown(wait=False, cancel_futures=True)
