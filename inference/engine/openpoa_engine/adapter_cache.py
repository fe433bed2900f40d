"""Adapter cache: source (a disk cache below remote sources) -> host tier -> device tier (one page pool).

Both budgets are hard limits on everything adapters occupy:
- Device tier: the page pool is allocated once from the device budget. An adapter takes pages in proportion to its
  rank and targets (kernels' layout). Placing one evicts least recently used adapters that no running sequence pins;
  when the pages it needs are pinned, its request waits (NoFreePages).
- Host tier: adapters count in their own unpadded form (adapters.HostAdapter), and so does every load in flight: it
  reserves its adapter's size, read from the config and the safetensors header, before it reads a weight. When the
  tier is full of adapters that waiting requests hold, loads wait for room (backpressure) and their requests queue.
  Outside the budget: the files of the adapter each loader thread reads (adapters.ReadBuffer).
- Waiting requests hold an AdapterHandle, never tensors. A handle keeps its adapter's host copy from eviction until
  the request is admitted (its adapter is then on the device, pinned) or leaves.
Loads run in loader threads, so decoding never waits on I/O. Device-tier methods run on the engine thread only; the
host tier is shared with the loader threads under a lock.
"""

import queue
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future

import torch

from . import kernels
from .adapters import AdapterError, ReadBuffer, artifact_hash, check_hash_format, read_adapter
from .config import LORA_GROUPS, LORA_PROJECTIONS
from .kernels import PAGE_WIDTH, PageTable, lora_pool_dtype


def adapter_pages(config, rank, projections):
    """Pages an adapter of this rank that targets these projections takes (kernels' layout)."""
    unit, shrink = config.lora_unit, 0
    for _, members in LORA_GROUPS:
        columns = rank * sum(m in projections for m in members)
        shrink += -(-columns // PAGE_WIDTH) * (config.in_features(members[0]) // unit)
    expand_rows = rank * sum(config.out_features(p) // unit for p in projections)
    return shrink + -(-expand_rows // PAGE_WIDTH)


def page_bytes(config, dtype):
    """Bytes of one page: unit * PAGE_WIDTH values in every layer."""
    return config.num_layers * config.lora_unit * PAGE_WIDTH * torch.empty((), dtype=dtype).element_size()


class NoFreePages(Exception):
    """The pages an adapter needs are pinned by running sequences; the request waits for some to finish.
    short: how many of the pinned pages must be unpinned first."""

    def __init__(self, short):
        super().__init__(f"{short} more pages must be unpinned")
        self.short = short


class PageAllocator:
    """Which adapter holds which pages, least recently used first, and which adapters running sequences pin.
    No tensors: it also sizes a budget without weights (the bench's adapters per GB)."""

    def __init__(self, num_pages):
        self.num_pages, self.free = num_pages, list(range(num_pages))
        self.resident = OrderedDict()  # sha256 -> its pages, least recently used first
        self.pins = {}  # sha256 -> running sequences using it
        self.pinned_pages = 0  # pages of pinned adapters
        self.evictions = 0

    def allocate(self, sha256, count):
        """count pages for sha256, evicting least recently used unpinned adapters; returns (pages, evicted)."""
        if count > self.num_pages:
            raise AdapterError(
                "adapter_too_large", f"adapter needs {count} pages, the device tier has {self.num_pages}"
            )
        if count > self.num_pages - self.pinned_pages:
            raise NoFreePages(count - (self.num_pages - self.pinned_pages))  # checked first: waiting evicts nothing
        evicted, short = [], count - len(self.free)
        for victim in self.resident:  # least recently used first, until enough pages would be free
            if short <= 0:
                break
            if not self.pins.get(victim):
                evicted.append(victim)
                short -= len(self.resident[victim])
        for victim in evicted:
            self.remove(victim)
        self.evictions += len(evicted)
        pages = self.free[len(self.free) - count :]
        del self.free[len(self.free) - count :]
        self.resident[sha256] = pages
        return pages, evicted

    def pin(self, sha256):
        self.pinned_pages += 0 if self.pins.get(sha256) else len(self.resident[sha256])
        self.pins[sha256] = self.pins.get(sha256, 0) + 1

    def unpin(self, sha256):
        self.pins[sha256] -= 1
        if not self.pins[sha256]:
            del self.pins[sha256]
            self.pinned_pages -= len(self.resident[sha256])

    def remove(self, sha256):
        self.free.extend(self.resident.pop(sha256))


class CopyStream:
    """Semantics: copy(fn) runs fn with its device work (host-to-device copies, page writes) on a stream of its own,
    after the compute stream's work issued so far, and returns (fn's result, an event recorded after it); wait(event)
    makes the compute stream wait for it. Waiting on the compute stream at each copy is the simplest correct rule for
    reused pages: pages freed by eviction or offload are overwritten only once the steps that last read them finished
    (so are the page tables' index tensors, allocated on this stream). Copies overlap the compute issued after them.
    Off CUDA fn runs in program order and the event is None. cuda: torch.cuda, or a recording stand-in in tests."""

    def __init__(self, device, cuda=None):
        self.cuda = cuda or (torch.cuda if torch.device(device).type == "cuda" else None)
        self.stream = self.cuda.Stream(device) if self.cuda else None

    def copy(self, fn):
        if self.stream is None:
            return fn(), None
        self.stream.wait_stream(self.cuda.current_stream(self.stream.device))
        with self.cuda.stream(self.stream):
            result, event = fn(), self.cuda.Event()
            event.record(self.stream)
        return result, event

    def wait(self, event):
        if event is not None:
            self.cuda.current_stream(self.stream.device).wait_event(event)


class DeviceTier:
    def __init__(self, config, num_pages, device, dtype, copy_stream=None):
        self.config, self.device, self.unit = config, device, config.lora_unit
        self.copies = copy_stream or CopyStream(device)
        self.placed = []  # events of placements the compute stream has not waited on yet
        layers = config.num_layers
        self.pool = torch.zeros(layers, num_pages, self.unit * PAGE_WIDTH, device=device, dtype=dtype)
        self.shrink = self.pool.view(layers, num_pages * self.unit, PAGE_WIDTH)  # the kernels' two views of the pool
        self.expand = self.pool.view(layers, num_pages * PAGE_WIDTH, self.unit)
        self.pages = PageAllocator(num_pages)
        self.tables = {}  # sha256 -> PageTable of a resident adapter

    @property
    def pins(self):
        return self.pages.pins

    def place(self, sha256, adapter):
        """A HostAdapter's pages, copied in if it is not resident (then most recently used); returns its PageTable."""
        if sha256 in self.tables:
            self.pages.resident.move_to_end(sha256)
            return self.tables[sha256]
        pages, evicted = self.pages.allocate(sha256, adapter_pages(self.config, adapter.rank, adapter.a))
        for victim in evicted:
            del self.tables[victim]
        self.tables[sha256], event = self.copies.copy(lambda: self._write(pages, adapter))
        self.placed.append(event)
        return self.tables[sha256]

    def await_placements(self):
        """The compute stream waits for every placement's copies so far: call it before a step that may read them."""
        for event in self.placed:
            self.copies.wait(event)
        self.placed.clear()

    def _write(self, pages, adapter):
        """Copy a HostAdapter into these pages; returns its PageTable."""
        # page tables are built on the host and sent without waiting (a device tensor read back would sync)
        index, at, shrink, columns = torch.tensor(pages), 0, {}, {}

        def to_device(t):
            return t.to(self.device, non_blocking=True)

        for group, members in LORA_GROUPS:
            targeted = [m for m in members if m in adapter.a]
            if targeted:
                part = kernels.shrink_pages([to_device(adapter.a[m]) for m in targeted], self.unit)
                ids, at = index[at : at + part.shape[1]], at + part.shape[1]
                self.pool[:, to_device(ids)] = part
                shrink[group] = ids.view(-1, self.config.in_features(members[0]) // self.unit)
                columns.update({m: i * adapter.rank for i, m in enumerate(targeted)})
        targeted = [p for p in LORA_PROJECTIONS if p in adapter.b]
        rows = kernels.expand_rows([to_device(adapter.b[p]) for p in targeted], self.unit)
        row_index = (index[at:, None] * PAGE_WIDTH + torch.arange(PAGE_WIDTH)).view(-1)[: rows.shape[1]]
        self.expand[:, to_device(row_index)] = rows
        expand, at = {}, 0
        for p in targeted:
            count = self.config.out_features(p) // self.unit * adapter.rank
            expand[p], at = row_index[at : at + count].view(-1, adapter.rank), at + count
        on_device = [{k: to_device(v) for k, v in d.items()} for d in (shrink, expand)]
        return PageTable(self.unit, adapter.rank, on_device[0], columns, on_device[1], shrink, expand)

    def remove(self, sha256):
        self.pages.remove(sha256)
        del self.tables[sha256]


class AdapterHandle:
    """A waiting request's claim on an adapter. future: done once the adapter is on the device or in the host tier
    (failed with the load's error). Until release(), the host tier keeps the adapter's copy from eviction."""

    def __init__(self, cache, sha256, future):
        self.cache, self.sha256, self.future, self.released = cache, sha256, future, False

    def release(self):
        if not self.released:
            self.released = True
            self.cache._unhold(self.sha256)


class AdapterCache:
    def __init__(self, source, config, device, dtype, device_budget_bytes, host_budget_bytes, loader_threads=2):
        """dtype: the model's; the pool and host adapters use lora_pool_dtype of it (float32 for bf16 on CPU)."""
        self.source, self.config, self.device = source, config, torch.device(device)
        self.dtype = lora_pool_dtype(self.device, dtype)
        num_pages = int(device_budget_bytes // page_bytes(config, self.dtype))
        if num_pages < 1:
            raise ValueError(
                f"device budget {device_budget_bytes} B is below one page ({page_bytes(config, self.dtype)} B)"
            )
        self.device_tier = DeviceTier(config, num_pages, self.device, self.dtype)
        self.host_budget_bytes = host_budget_bytes
        self.host = OrderedDict()  # sha256 -> HostAdapter, least recently used first
        self.host_bytes = 0  # bytes of the adapters in self.host
        self.reserved = 0  # bytes reserved by loads in flight
        self.holds = {}  # sha256 -> unreleased handles
        self.inflight = {}  # sha256 -> Future of its load
        self.lock = threading.Condition()  # notified when host bytes free up or an adapter loses its last hold
        self.closed = False
        self.loads = queue.SimpleQueue()  # (sha256, ticket) of each load to run, in request order; None stops a loader
        # Loads reserve host room in request order, so a large adapter is not starved by smaller ones behind it.
        self.tickets = 0  # handed to loads as they are queued
        self.turn = 0  # the ticket whose load reserves next
        self.passed = set()  # tickets after the turn whose loads ended without reserving
        self.layouts = {}  # read_adapter's, shared by the loader threads
        self.loader_threads = loader_threads
        for i in range(loader_threads):  # daemons: one waiting for host room never holds up the process's exit
            threading.Thread(target=self._loader, name=f"adapter-loader-{i}", daemon=True).start()
        self.counters = {
            "hits": 0,
            "misses": 0,
            "host_hits": 0,
            "host_waits": 0,  # loads that waited for host room
            "source_loads": 0,
            "load_errors": 0,
            "load_ms_total": 0.0,
            "last_load_ms": 0.0,
        }

    # -- engine thread: requests take handles; loads run in loader threads --

    def request(self, sha256, count=True):
        """A handle on the adapter; its load starts now unless it is on the device, in the host tier or loading.
        count: record a device-tier hit or miss (requests count; prefetches do not)."""
        check_hash_format(sha256)
        with self.lock:
            if count:
                on_device = sha256 in self.device_tier.tables
                self.counters["hits" if on_device else "misses"] += 1
                self.counters["host_hits"] += not on_device and sha256 in self.host
            self.holds[sha256] = self.holds.get(sha256, 0) + 1
            return AdapterHandle(self, sha256, self._ready(sha256))

    def _ready(self, sha256):
        if sha256 in self.device_tier.tables or sha256 in self.host:
            done = Future()
            done.set_result(None)
            return done
        if sha256 not in self.inflight:
            self.inflight[sha256] = Future()
            self.loads.put((sha256, self.tickets))
            self.tickets += 1
        return self.inflight[sha256]

    def _unhold(self, sha256):
        with self.lock:
            self.holds[sha256] -= 1
            if not self.holds[sha256]:
                del self.holds[sha256]
                self.lock.notify_all()  # its host copy may now make room for a waiting load

    def _loader(self):
        buffer = ReadBuffer()
        for sha256, ticket in iter(self.loads.get, None):
            with self.lock:
                future = self.inflight[sha256]
            try:
                self._load(sha256, ticket, buffer)
            except BaseException as e:
                future.set_exception(e)
            else:
                future.set_result(None)
            finally:
                with self.lock:
                    self._pass(ticket)  # a load that ended without reserving gives its turn away

    def _pass(self, ticket):
        if ticket >= self.turn and ticket not in self.passed:
            self.passed.add(ticket)
            while self.turn in self.passed:
                self.passed.remove(self.turn)
                self.turn += 1
            self.lock.notify_all()

    def _load(self, sha256, ticket, buffer):
        start, reserved = time.perf_counter(), 0

        def reserve(nbytes):
            nonlocal reserved
            self._reserve(nbytes, ticket)
            reserved = nbytes

        try:
            if self.closed:
                raise AdapterError("adapter_fetch_failed", "the engine is shutting down")
            for attempt in (1, 2):  # a cached copy that fails its hash check is dropped and fetched once more
                with self.source.open(sha256) as directory:
                    files = buffer.read(directory)
                    actual = artifact_hash(*files)
                    if actual == sha256:
                        pin = self.device.type == "cuda"
                        adapter = read_adapter(files, self.config, self.dtype, reserve, pin, self.layouts)
                        break
                if attempt == 2 or not self.source.discard(sha256):
                    raise AdapterError("adapter_hash_mismatch", f"artifact hash is {actual}, expected {sha256}")
        except BaseException:
            with self.lock:
                self.counters["load_errors"] += 1
                self.inflight.pop(sha256, None)
                self.reserved -= reserved
                self.lock.notify_all()
            raise
        with self.lock:
            elapsed_ms = (time.perf_counter() - start) * 1e3
            self.counters["source_loads"] += 1
            self.counters["load_ms_total"] += elapsed_ms
            self.counters["last_load_ms"] = elapsed_ms
            self.inflight.pop(sha256, None)
            self.reserved -= reserved  # the reservation becomes the adapter: the same bytes
            self.host[sha256] = adapter
            self.host_bytes += adapter.nbytes

    def _reserve(self, nbytes, ticket):
        """Reserve host bytes for a load once the loads queued before it have, evicting unheld host adapters; waits
        while the rest is held or reserved."""
        if nbytes > self.host_budget_bytes:
            raise AdapterError(
                "adapter_too_large",
                f"adapter needs {nbytes} B of host memory, the host budget is {self.host_budget_bytes} B",
            )
        with self.lock:
            waited = False
            while self.turn != ticket or self.host_bytes + self.reserved + nbytes > self.host_budget_bytes:
                victim = next((s for s in self.host if not self.holds.get(s)), None)
                if self.closed:
                    raise AdapterError("adapter_fetch_failed", "the engine is shutting down")
                if self.turn == ticket and victim is not None:
                    self.host_bytes -= self.host.pop(victim).nbytes
                    continue
                if self.turn == ticket:
                    self.counters["host_waits"] += not waited
                    waited = True
                self.lock.wait()  # backpressure: room comes when a waiting request is admitted or leaves
            self.reserved += nbytes
            self._pass(ticket)

    # -- engine thread: the device tier --

    def acquire(self, handle):
        """Place the handle's adapter on the device (if not there), pin it for a running sequence and release the
        handle; returns its PageTable. None: the adapter left both tiers while its request waited and is loading
        again (wait on handle.future). Raises NoFreePages when the pages it needs are pinned (the handle stays)."""
        table = self.make_resident(handle)
        if table is not None:
            self.device_tier.pages.pin(handle.sha256)
        return table

    def make_resident(self, handle):
        """acquire without the pin: a prefetch to the device."""
        sha256 = handle.sha256
        if sha256 in self.device_tier.tables:
            table = self.device_tier.place(sha256, None)
        else:
            with self.lock:
                adapter = self.host.get(sha256)
                if adapter is None:
                    handle.future = self._ready(sha256)
                    return None
                self.host.move_to_end(sha256)
            table = self.device_tier.place(sha256, adapter)  # the handle's hold keeps the host copy meanwhile
        handle.release()
        return table

    def release(self, sha256):
        self.device_tier.pages.unpin(sha256)

    def pages_of(self, sha256):
        """Device pages the adapter holds (0 when it is not resident)."""
        return len(self.device_tier.pages.resident.get(sha256, ()))

    def offload(self, sha256):
        """Drop from both tiers (idempotent). Returns whether it was resident anywhere."""
        check_hash_format(sha256)
        if self.device_tier.pins.get(sha256):
            raise AdapterError("adapter_in_use", f"adapter {sha256} is used by running sequences")
        on_device = sha256 in self.device_tier.tables
        if on_device:
            self.device_tier.remove(sha256)
        with self.lock:
            adapter = self.host.pop(sha256, None)
            if adapter is not None:
                self.host_bytes -= adapter.nbytes
                self.lock.notify_all()
        return on_device or adapter is not None

    def stats(self):
        tier = self.device_tier
        with self.lock:
            counters = dict(self.counters)
            host = {
                "adapters": len(self.host),
                "bytes": self.host_bytes,
                "reserved_bytes": self.reserved,
                "budget_bytes": self.host_budget_bytes,
                "held_adapters": len(self.holds),
            }
            loading = len(self.inflight)
        used_pages = tier.pages.num_pages - len(tier.pages.free)
        return {
            **counters,
            "evictions": tier.pages.evictions,
            "resident_adapters": len(tier.tables),
            "resident_bytes": used_pages * page_bytes(self.config, self.dtype),
            "pages_total": tier.pages.num_pages,
            "pages_used": used_pages,
            "pinned_adapters": len(tier.pins),
            "loading": loading,
            "host": host,
            "disk": self.source.stats(),
        }

    def close(self):
        with self.lock:
            self.closed = True
            self.lock.notify_all()  # loads waiting for room give up
        for _ in range(self.loader_threads):
            self.loads.put(None)
        self.source.close()
