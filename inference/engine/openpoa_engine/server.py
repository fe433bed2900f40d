"""The engine process: protocol openpoa-engine/1, JSON lines over stdin/stdout (see inference/README.md).

One reader thread turns stdin lines into inbox items; the engine thread handles them between scheduler steps,
so requests join and leave the batch between decode steps. Logs go to stderr; stdout carries protocol lines only.
"""

import json
import queue
import sys
import threading
import time

import torch

from . import PROTOCOL, __version__
from .adapter_cache import AdapterCache, NoFreePages
from .adapters import MAX_RANK, AdapterError, check_hash_format, normalize_model_hash
from .model import Llama
from .scheduler import Request, RequestError, SamplingParams, Scheduler
from .sources import open_source
from .tokenizer import ChatTemplateError, load_tokenizer

_WAKE = object()  # inbox item: an adapter load finished
_EOF = object()


def build_scheduler(
    model_dir,
    adapters,
    device="cpu",
    dtype=torch.float32,
    model_name="",
    max_batch_size=32,
    max_seq_len=1024,
    max_prefill_tokens=2048,
    device_budget_bytes=1 << 30,
    host_budget_bytes=4 << 30,
    model_artifact_hash="",
    kv_budget_bytes=None,
    max_adapters_per_batch=None,
    decode_reserve_tokens=None,
    disk_cache_dir=None,
    disk_budget_bytes=10 << 30,
):
    model = Llama.load(model_dir, device, dtype, model_name, normalize_model_hash(model_artifact_hash))
    tokenizer = load_tokenizer(model_dir, model.config)
    source = open_source(adapters, disk_cache_dir, disk_budget_bytes)
    cache = AdapterCache(source, model.config, device, dtype, device_budget_bytes, host_budget_bytes)
    return Scheduler(
        model,
        tokenizer,
        cache,
        max_batch_size,
        max_seq_len,
        max_prefill_tokens,
        kv_budget_bytes=kv_budget_bytes,
        max_adapters_per_batch=max_adapters_per_batch,
        decode_reserve_tokens=decode_reserve_tokens,
    )


class Server:
    def __init__(self, scheduler, out=sys.stdout):
        self.scheduler, self.out = scheduler, out
        self.inbox = queue.Queue()
        scheduler.wake = lambda: self.inbox.put(_WAKE)
        self.pending = []  # outgoing lines, written once per loop iteration
        self.prefetches = []  # (message id, AdapterHandle, start time)
        self.started = time.time()

    def send(self, message):
        self.pending.append(json.dumps(message))

    def flush(self):
        if self.pending:
            self.out.write("\n".join(self.pending) + "\n")
            self.out.flush()
            self.pending.clear()

    def error(self, message_id, code, text):
        self.send({"type": "error", "id": message_id, "error": {"code": code, "message": text}})

    def run(self, infile=sys.stdin):
        threading.Thread(target=self._read, args=(infile,), daemon=True).start()
        self.send(self._hello(None))
        self.flush()
        stdin_closed = False
        while True:
            idle = not self.scheduler.has_work and not any(h.future.done() for _, h, _ in self.prefetches)
            if idle and stdin_closed and not self.scheduler.by_id and not self.prefetches:
                break  # stdin closed and every request answered: exit
            items = [self.inbox.get()] if idle else []
            while True:
                try:
                    items.append(self.inbox.get_nowait())
                except queue.Empty:
                    break
            for item in items:
                if item is _EOF:
                    stdin_closed = True  # finish what was asked, then exit
                elif item is not _WAKE and self._handle_line(item) == "shutdown":
                    self._shutdown()
                    return
            self._finish_prefetches()
            if self.scheduler.has_work:
                try:
                    self.scheduler.step()
                except Exception as e:  # a bug or out-of-memory: fail the batch, keep serving the others
                    print(f"step failed: {e!r}", file=sys.stderr)
                    self.scheduler.fail_running("internal", f"engine step failed: {e!r}")
            self.flush()
        self._shutdown()

    def _read(self, infile):
        for line in infile:
            if line.strip():
                self.inbox.put(line)
        self.inbox.put(_EOF)

    def _shutdown(self):
        for request_id in list(self.scheduler.by_id):
            self.scheduler.cancel(request_id)
        self.flush()
        self.scheduler.cache.close()

    def _handle_line(self, line):
        try:
            message = json.loads(line)
        except json.JSONDecodeError as e:
            self.error(None, "bad_json", f"line is not JSON: {e}")
            return None
        if not isinstance(message, dict):
            self.error(None, "bad_request", "a message is a JSON object")
            return None
        message_id, kind = message.get("id"), message.get("type")
        if not isinstance(message_id, str) or not message_id:
            self.error(None, "bad_request", "every message needs a non-empty string id")
            return None
        handler = getattr(self, f"_on_{kind}", None) if isinstance(kind, str) else None
        if handler is None:
            self.error(message_id, "unknown_type", f"unknown message type {kind!r}")
            return None
        try:
            return handler(message_id, message)
        except (AdapterError, RequestError) as e:
            self.error(message_id, e.code, str(e))
        except Exception as e:  # a bug must not take the other streams down
            print(f"internal error on {kind}: {e!r}", file=sys.stderr)
            self.error(message_id, "internal", repr(e))
        return None

    # -- message handlers --

    def _hello(self, message_id):
        s = self.scheduler
        return {
            "type": "hello",
            "id": message_id,
            "protocol": PROTOCOL,
            "engine_version": __version__,
            "model": s.model.config.summary(),
            "tokenizer": s.tokenizer.kind,
            "chat_template": s.tokenizer.has_chat_template,
            "device": str(s.model.device),
            "dtype": str(s.model.dtype).replace("torch.", ""),
            "limits": {
                "max_batch_size": s.max_batch_size,
                "max_seq_len": s.max_seq_len,
                "max_prefill_tokens": s.max_prefill_tokens,
                "max_lora_rank": MAX_RANK,
                "adapter_pages": s.cache.device_tier.pages.num_pages,
                "max_adapters_per_batch": s.max_adapters_per_batch,
                "kv_blocks": s.kv.allocator.num_blocks,
                "kv_block_size": s.kv.allocator.block_size,
            },
        }

    def _on_hello(self, message_id, message):
        self.send(self._hello(message_id))

    def _on_health(self, message_id, message):
        self.send(
            {
                "type": "health",
                "id": message_id,
                "status": "ok",
                "running": len(self.scheduler.running),
                "waiting": len(self.scheduler.waiting),
                "uptime_s": round(time.time() - self.started, 3),
            }
        )

    def _on_stats(self, message_id, message):
        s = self.scheduler
        self.send(
            {
                "type": "stats",
                "id": message_id,
                "engine": {
                    "running": len(s.running),
                    "waiting": len(s.waiting),
                    "steps": s.steps,
                    "generated_tokens": s.generated_tokens,
                    "kv_blocks_used": s.kv.allocator.num_blocks - len(s.kv.allocator.free),
                    "kv_blocks_reserved": s.kv.allocator.num_blocks - s.kv.allocator.unreserved,
                },
                "adapters": s.cache.stats(),
            }
        )

    def _on_load_adapter(self, message_id, message):
        handle = self.scheduler.cache.request(message.get("adapter"), count=False)
        self.prefetches.append((message_id, handle, time.perf_counter()))
        handle.future.add_done_callback(lambda _: self.inbox.put(_WAKE))

    def _finish_prefetches(self):
        for entry in [p for p in self.prefetches if p[1].future.done()]:
            message_id, handle, start = entry
            try:
                handle.future.result()
                if self.scheduler.cache.make_resident(handle) is None:  # evicted meanwhile: loading again
                    handle.future.add_done_callback(lambda _: self.inbox.put(_WAKE))
                    continue
                self.send(
                    {
                        "type": "adapter_loaded",
                        "id": message_id,
                        "adapter": handle.sha256,
                        "tier": "device",
                        "ms": round((time.perf_counter() - start) * 1e3, 3),
                    }
                )
            except NoFreePages:
                handle.release()
                self.error(message_id, "adapter_cache_full", "the pages it needs are held by running sequences")
            except Exception as e:  # AdapterError carries its code; anything else is a bug
                handle.release()
                self.error(message_id, getattr(e, "code", "internal"), str(e))
            self.prefetches.remove(entry)

    def _on_offload_adapter(self, message_id, message):
        sha = message.get("adapter")
        was_resident = self.scheduler.cache.offload(sha)
        self.send({"type": "adapter_offloaded", "id": message_id, "adapter": sha, "was_resident": was_resident})

    def _on_generate(self, message_id, message):
        tokenizer = self.scheduler.tokenizer
        add_bos = message.get("add_bos")
        if add_bos is not None and not isinstance(add_bos, bool):
            raise RequestError("bad_request", "add_bos must be true or false")
        if "messages" in message:
            if "prompt" in message or "prompt_tokens" in message:
                raise RequestError("bad_request", "generate takes messages or prompt or prompt_tokens, not several")
            try:
                prompt = tokenizer.encode_chat(message["messages"])
            except ChatTemplateError as e:
                raise RequestError("bad_request", str(e)) from None
        elif "prompt_tokens" in message:
            prompt = message["prompt_tokens"]
            if not isinstance(prompt, list):
                raise RequestError("bad_request", "prompt_tokens must be a list of token ids")
        elif isinstance(message.get("prompt"), str):
            prompt = tokenizer.encode(message["prompt"], add_bos=add_bos)
        else:
            raise RequestError("bad_request", "generate needs prompt (string), prompt_tokens (list) or messages (list)")
        stop = message.get("stop") or []
        stop = [stop] if isinstance(stop, str) else stop
        seed = message.get("seed")
        try:
            params = SamplingParams(
                max_tokens=message.get("max_tokens", 16),
                temperature=float(message.get("temperature", 1.0)),
                top_p=float(message.get("top_p", 1.0)),
                seed=seed,
                stop=tuple(stop),
                ignore_eos=bool(message.get("ignore_eos", False)),
            )
        except (TypeError, ValueError):
            raise RequestError("bad_request", "temperature and top_p must be numbers, stop a string or list") from None
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise RequestError("bad_request", "seed must be an integer")
        adapter = message.get("adapter")
        if adapter is not None:
            check_hash_format(adapter)
        self.scheduler.submit(Request(message_id, prompt, params, adapter, self.send))

    def _on_cancel(self, message_id, message):
        target = message.get("target")
        found = self.scheduler.cancel(target) if isinstance(target, str) else False
        self.send({"type": "cancel_result", "id": message_id, "target": target, "found": found})

    def _on_shutdown(self, message_id, message):
        self.send({"type": "bye", "id": message_id})
        return "shutdown"
