"""Where adapters come from: a local directory read in place, or an HTTP base URL kept in a disk cache.

Both lay adapters out by content: ROOT/<sha256>/adapter_config.json and adapter_model.safetensors. The loader
(adapter_cache) checks the artifact hash of whatever it reads; source.discard(sha256) drops a copy that failed the
check when the source can fetch it again.

The disk tier below the host tier. The gateway runs the engine with --adapters set to its own artifact cache
(inference/artifacts/cache.ts), which fetches adapters by their on-chain URI, verifies them, caps its size, evicts
least recently used entries that no request holds, and holds an adapter's files while a request uses them. That
directory is the disk tier, so a directory source gets no second cache: an adapter evicted from the host tier is read
from it again. A standalone engine given an HTTP base URL gets DiskCache, built like the gateway's cache (the same
layout, a download renamed into place only once its hash matched, a cap that counts downloads in progress, least
recently used first by directory mtime, so the order survives a restart): an adapter evicted from the host tier is
then read from disk, not downloaded again.
"""

import os
import re
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from contextlib import contextmanager

from .adapters import ARTIFACT_FILES, AdapterError, artifact_hash_of_dir

_HASH = re.compile(r"^[0-9a-f]{64}$")


def _directory_bytes(directory):
    return sum(os.path.getsize(os.path.join(directory, name)) for name in ARTIFACT_FILES)


class LocalSource:
    """ROOT/<sha256>/..., read in place (the gateway's verified artifact cache, or any directory of adapters)."""

    def __init__(self, root):
        self.root = root

    @contextmanager
    def open(self, sha256):
        directory = os.path.join(self.root, sha256)
        if not os.path.isdir(directory):
            raise AdapterError("adapter_not_found", f"adapter {sha256} is not in {self.root}")
        for name in ARTIFACT_FILES:
            if not os.path.isfile(os.path.join(directory, name)):
                raise AdapterError("adapter_corrupt", f"adapter {sha256}: {name} is missing")
        yield directory

    def discard(self, sha256):
        return False  # not the engine's files: a hash mismatch is final

    def stats(self):
        return None

    def close(self):
        pass


class DiskCache:
    """Verified adapters on local disk under a size cap:
        DIRECTORY/<sha256>/                     complete, hash-checked entries
        DIRECTORY/.partial-<sha256>-<random>/   a download in progress (removed at start)
    The cap covers entries and downloads in progress (reserved from Content-Length first); making room evicts the least
    recently used entries that no loader is reading. An adapter larger than the cap is refused."""

    def __init__(self, directory, max_bytes):
        self.directory, self.max_bytes = directory, max_bytes
        os.makedirs(directory, exist_ok=True)
        found = []
        for entry in os.scandir(directory):
            if entry.name.startswith(".partial-"):
                shutil.rmtree(entry.path, ignore_errors=True)  # a crash mid-download leaves nothing half-used
            elif _HASH.match(entry.name) and all(os.path.isfile(os.path.join(entry.path, n)) for n in ARTIFACT_FILES):
                found.append((entry.stat().st_mtime, entry.name, _directory_bytes(entry.path)))
        self.entries = OrderedDict((name, size) for _, name, size in sorted(found))  # least recently used first
        self.holds = {}  # sha256 -> loaders reading it
        self.reserved = 0  # bytes of downloads in progress
        self.lock = threading.Lock()
        self.counters = {"hits": 0, "downloads": 0, "evictions": 0}
        with self.lock:
            self._make_room(0)

    @property
    def used_bytes(self):
        return sum(self.entries.values()) + self.reserved

    @contextmanager
    def hold(self, sha256, download):
        """The entry's directory, kept from eviction until the block ends; if absent, download(scratch, reserve) first
        writes the files into a scratch directory, calling reserve(bytes) before writing them."""
        with self.lock:
            present = sha256 in self.entries
            if present:
                self.counters["hits"] += 1
                self._hold(sha256)
        if not present:
            self._download(sha256, download)
        try:
            yield os.path.join(self.directory, sha256)
        finally:
            with self.lock:
                self.holds[sha256] -= 1
                if not self.holds[sha256]:
                    del self.holds[sha256]

    def discard(self, sha256):
        """Drop an entry that failed its hash check on reading (corrupted on disk): the next hold downloads it again."""
        with self.lock:
            if sha256 in self.entries and not self.holds.get(sha256):
                self._remove(sha256)
        return True

    def stats(self):
        with self.lock:
            return {
                "adapters": len(self.entries),
                "bytes": self.used_bytes,
                "budget_bytes": self.max_bytes,
                **self.counters,
            }

    def _hold(self, sha256):
        self.entries.move_to_end(sha256)
        self.holds[sha256] = self.holds.get(sha256, 0) + 1
        now = time.time_ns()  # finer than the file system's own clock, so that close uses keep their order
        os.utime(os.path.join(self.directory, sha256), ns=(now, now))  # the order of use survives a restart

    def _download(self, sha256, download):
        scratch = tempfile.mkdtemp(prefix=f".partial-{sha256}-", dir=self.directory)
        reserved = 0

        def reserve(nbytes):
            nonlocal reserved
            with self.lock:
                self._make_room(nbytes, reserved)
                self.reserved += nbytes
                reserved += nbytes

        try:
            download(scratch, reserve)
            actual = artifact_hash_of_dir(scratch)
            if actual != sha256:
                raise AdapterError("adapter_hash_mismatch", f"artifact hash is {actual}, expected {sha256}")
            size = _directory_bytes(scratch)
            with self.lock:
                self.reserved -= reserved
                reserved = 0
                self._make_room(size)
                os.rename(scratch, os.path.join(self.directory, sha256))
                self.entries[sha256] = size
                self.counters["downloads"] += 1
                self._hold(sha256)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        finally:
            with self.lock:
                self.reserved -= reserved

    def _make_room(self, incoming, own=0):
        """Evict until incoming more bytes fit; own: bytes this download already reserved."""
        if own + incoming > self.max_bytes:
            raise AdapterError(
                "adapter_too_large", f"{own + incoming} B do not fit the {self.max_bytes}-byte disk cache"
            )
        while self.used_bytes + incoming > self.max_bytes:
            victim = next((s for s in self.entries if not self.holds.get(s)), None)
            if victim is None:
                raise AdapterError("adapter_cache_full", "the disk cache is full of adapters being read: retry shortly")
            self._remove(victim)
            self.counters["evictions"] += 1

    def _remove(self, sha256):
        del self.entries[sha256]
        shutil.rmtree(os.path.join(self.directory, sha256), ignore_errors=True)


class HttpSource:
    """GET BASE/<sha256>/adapter_config.json and BASE/<sha256>/adapter_model.safetensors, streamed into a DiskCache."""

    def __init__(self, base_url, disk, timeout_s=30.0, temporary=None):
        self.base_url, self.disk, self.timeout_s = base_url.rstrip("/"), disk, timeout_s
        self.temporary = temporary  # the TemporaryDirectory that holds the disk cache, if any: removed on close

    def open(self, sha256):
        return self.disk.hold(sha256, lambda scratch, reserve: self._download(sha256, scratch, reserve))

    def discard(self, sha256):
        return self.disk.discard(sha256)

    def stats(self):
        return self.disk.stats()

    def close(self):
        if self.temporary is not None:
            self.temporary.cleanup()

    def _download(self, sha256, scratch, reserve):
        for name in ARTIFACT_FILES:
            url = f"{self.base_url}/{sha256}/{name}"
            try:
                with urllib.request.urlopen(url, timeout=self.timeout_s) as response:
                    reserve(int(response.headers.get("Content-Length") or 0))  # unknown: checked once written
                    with open(os.path.join(scratch, name), "wb") as f:
                        shutil.copyfileobj(response, f)
            except urllib.error.HTTPError as e:
                code = "adapter_not_found" if e.code == 404 else "adapter_fetch_failed"
                raise AdapterError(code, f"GET {url}: HTTP {e.code}") from None
            except (OSError, urllib.error.URLError) as e:  # includes http.client.IncompleteRead and timeouts
                raise AdapterError("adapter_fetch_failed", f"GET {url}: {e}") from None


def open_source(spec, disk_dir=None, disk_bytes=10 << 30):
    """A directory, or an http(s) base URL with a disk cache in disk_dir (default: a temporary directory)."""
    if spec.startswith(("http://", "https://")):
        temporary = None if disk_dir else tempfile.TemporaryDirectory(prefix="openpoa-adapters-")
        return HttpSource(spec, DiskCache(disk_dir or temporary.name, disk_bytes), temporary=temporary)
    if not os.path.isdir(spec):
        raise ValueError(f"adapter source {spec!r} is neither an http(s) URL nor a directory")
    return LocalSource(spec)
