"""The real engine process over stdio: protocol messages, concurrent streams, cancellation, typed errors."""

import json
import os
import queue
import subprocess
import sys
import threading
import time

import pytest

ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class EngineProcess:
    def __init__(self, model_dir, adapters_root, *extra):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "openpoa_engine",
                "serve",
                "--model",
                model_dir,
                "--adapters",
                adapters_root,
                "--device-budget-mb",
                "4",
                *extra,
            ],
            cwd=ENGINE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def send(self, **message):
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def send_raw(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def next(self, timeout=60):
        message = self.lines.get(timeout=timeout)
        assert message is not None, "engine exited: " + self.proc.stderr.read()
        return message

    def until(self, predicate, timeout=60):
        """Messages up to and including the first that satisfies predicate."""
        seen, deadline = [], time.time() + timeout
        while True:
            try:
                seen.append(self.next(max(0.1, deadline - time.time())))
            except queue.Empty:
                raise AssertionError(f"no matching message within {timeout} s; got {seen[-5:]}") from None
            if predicate(seen[-1]):
                return seen

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def engine(model_dir, adapters):
    process = EngineProcess(model_dir, adapters[0])
    hello = process.next()
    assert hello["type"] == "hello" and hello["protocol"] == "openpoa-engine/1" and hello["tokenizer"] == "byte"
    yield process
    process.close()


def test_concurrent_streams_with_cancellation(engine, adapters):
    _, shas = adapters
    streams = {
        "s0": dict(adapter=shas["r8"][0], max_tokens=25),
        "s1": dict(adapter=None, max_tokens=25),
        "s2": dict(adapter=shas["r16"][0], max_tokens=400),  # cancelled mid-stream
        "s3": dict(adapter=shas["r40"][0], max_tokens=25),
        "s4": dict(adapter=shas["r8"][0], max_tokens=25),
    }
    for request_id, options in streams.items():
        engine.send(
            id=request_id,
            type="generate",
            prompt=f"stream {request_id}",
            seed=int(request_id[1]),
            temperature=0.8,
            ignore_eos=True,
            **options,
        )
    events = engine.until(lambda m: m["type"] == "token" and m["id"] == "s2")
    engine.send(id="c1", type="cancel", target="s2")
    events += engine.until(lambda m: m["type"] == "cancel_result")
    assert events[-1] == {"type": "cancel_result", "id": "c1", "target": "s2", "found": True}
    while sum(e["type"] == "done" for e in events) < len(streams):
        events.append(engine.next())
    done = {e["id"]: e for e in events if e["type"] == "done"}
    assert done["s2"]["finish_reason"] == "cancelled" and done["s2"]["usage"]["completion_tokens"] < 400
    for request_id in ("s0", "s1", "s3", "s4"):
        tokens = [e for e in events if e["type"] == "token" and e["id"] == request_id]
        assert done[request_id]["finish_reason"] == "length"
        assert done[request_id]["usage"] == {"prompt_tokens": len(f"stream {request_id}") + 1, "completion_tokens": 25}
        assert len(tokens) == 25
        assert "".join(t["text"] for t in tokens) + done[request_id]["delta"] == done[request_id]["text"]
    # streams were interleaved, not served one after another
    order = [e["id"] for e in events if e["type"] == "token"]
    assert order.index("s1") < max(i for i, x in enumerate(order) if x == "s0")
    engine.send(id="st", type="stats")
    stats = engine.until(lambda m: m["type"] == "stats")[-1]
    assert stats["adapters"]["pinned_adapters"] == 0 and stats["engine"]["running"] == 0
    assert stats["adapters"]["hits"] + stats["adapters"]["misses"] == 4


def test_adapter_management_and_typed_errors(engine, adapters):
    _, shas = adapters
    sha = shas["r16"][1]
    engine.send(id="l1", type="load_adapter", adapter=sha)
    loaded = engine.until(lambda m: m["id"] == "l1")[-1]
    assert loaded["type"] == "adapter_loaded" and loaded["adapter"] == sha and loaded["tier"] == "device"
    engine.send(id="l2", type="load_adapter", adapter=sha)  # idempotent
    assert engine.until(lambda m: m["id"] == "l2")[-1]["type"] == "adapter_loaded"
    engine.send(id="st", type="stats")
    stats = engine.until(lambda m: m["id"] == "st")[-1]["adapters"]
    assert stats["resident_adapters"] == 1 and stats["source_loads"] == 1
    engine.send(id="o1", type="offload_adapter", adapter=sha)
    assert engine.until(lambda m: m["id"] == "o1")[-1] == {
        "type": "adapter_offloaded",
        "id": "o1",
        "adapter": sha,
        "was_resident": True,
    }
    engine.send(id="o2", type="offload_adapter", adapter=sha)
    assert engine.until(lambda m: m["id"] == "o2")[-1]["was_resident"] is False

    engine.send(id="u1", type="generate", prompt="hi", adapter="d" * 64)
    error = engine.until(lambda m: m["id"] == "u1")[-1]
    assert error["type"] == "error" and error["error"]["code"] == "adapter_not_found"
    engine.send(id="u2", type="load_adapter", adapter="d" * 64)
    assert engine.until(lambda m: m["id"] == "u2")[-1]["error"]["code"] == "adapter_not_found"
    engine.send_raw("{broken")
    assert engine.next()["error"]["code"] == "bad_json"
    engine.send(id="t1", type="frobnicate")
    assert engine.next() == {
        "type": "error",
        "id": "t1",
        "error": {"code": "unknown_type", "message": "unknown message type 'frobnicate'"},
    }
    engine.send(id="b1", type="generate", prompt="hi", adapter="XYZ")
    assert engine.next()["error"]["code"] == "bad_request"
    engine.send(id="b2", type="generate", prompt="hi", max_tokens=-1)
    assert engine.next()["error"]["code"] == "bad_request"
    engine.send(id="h1", type="health")
    health = engine.next()
    assert health["type"] == "health" and health["status"] == "ok"
    engine.send(id="ok", type="generate", prompt="still serving", max_tokens=3, seed=1)
    assert engine.until(lambda m: m["type"] == "done")[-1]["usage"]["completion_tokens"] == 3
    engine.send(id="bye", type="shutdown")
    assert engine.next() == {"type": "bye", "id": "bye"}
    assert engine.proc.wait(timeout=10) == 0


def test_stdin_close_drains_then_exits(model_dir, adapters):
    process = EngineProcess(model_dir, adapters[0])
    try:
        process.send(id="g", type="generate", prompt_tokens=[256, 65, 66], max_tokens=5, seed=0, ignore_eos=True)
        process.proc.stdin.close()
        messages = process.until(lambda m: m["type"] == "done")
        assert messages[-1]["finish_reason"] == "length"
        assert process.proc.wait(timeout=30) == 0
    finally:
        process.close()


def test_a_failed_step_fails_its_batch_and_the_engine_keeps_serving(model, adapters, monkeypatch):
    import io

    from conftest import make_scheduler
    from openpoa_engine.server import Server

    scheduler = make_scheduler(model, adapters[0])
    real_forward, calls = scheduler.model.forward, []

    def flaky_forward(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the second decode step of the first request
            raise RuntimeError("simulated out of memory")
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(scheduler.model, "forward", flaky_forward)

    def stdin():
        sha = adapters[1]["r8"][0]
        yield json.dumps({"id": "a", "type": "generate", "prompt": "x", "max_tokens": 20, "seed": 1, "adapter": sha})
        deadline = time.time() + 30
        while len(calls) < 3 and time.time() < deadline:  # the second request arrives after the failure
            time.sleep(0.01)
        yield json.dumps({"id": "b", "type": "generate", "prompt": "y", "max_tokens": 4, "seed": 2})

    out = io.StringIO()
    Server(scheduler, out).run(stdin())
    messages = [json.loads(line) for line in out.getvalue().splitlines()]
    final = {m["id"]: m for m in messages if m["type"] in ("done", "error")}
    assert final["a"]["type"] == "error" and final["a"]["error"]["code"] == "internal"
    assert "simulated out of memory" in final["a"]["error"]["message"]
    assert final["b"]["type"] == "done" and final["b"]["usage"]["completion_tokens"] == 4
    assert scheduler.cache.stats()["pinned_adapters"] == 0 and not scheduler.running


def test_many_requests_queue_beyond_the_batch_and_all_complete(model_dir, adapters):
    _, shas = adapters
    pool = [None, *shas["r8"], *shas["r16"], shas["r40"][0]]
    process = EngineProcess(model_dir, adapters[0], "--max-batch-size", "6", "--max-prefill-tokens", "40")
    try:
        assert process.next()["type"] == "hello"
        for i in range(40):
            process.send(
                id=f"q{i}",
                type="generate",
                prompt=f"request {i}",
                max_tokens=3 + i % 5,
                seed=i,
                ignore_eos=True,
                adapter=pool[i % len(pool)],
            )
        process.send(id="h", type="health")
        events = process.until(lambda m: m["type"] == "health")
        assert events[-1]["running"] + events[-1]["waiting"] <= 40 and events[-1]["running"] <= 6
        while sum(e["type"] == "done" for e in events) < 40:
            events.append(process.next())
        done = {e["id"]: e for e in events if e["type"] == "done"}
        for i in range(40):
            assert done[f"q{i}"]["usage"]["completion_tokens"] == 3 + i % 5
            assert sum(e["type"] == "token" and e["id"] == f"q{i}" for e in events) == 3 + i % 5
    finally:
        process.close()


def test_messages_on_the_byte_tokenizer_are_the_sdk_chat_prompt(model, adapters):
    import io

    from conftest import make_scheduler
    from openpoa_engine.server import Server

    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Héllo"}]
    chat_prompt = "<|system|>\nBe brief.\n<|user|>\nHéllo\n<|assistant|>\n"  # chatPrompt of inference/sdk/pricing.ts
    lines = [
        {"id": "m", "type": "generate", "messages": messages, "max_tokens": 8, "seed": 3},
        {"id": "p", "type": "generate", "prompt": chat_prompt, "max_tokens": 8, "seed": 3},
        {"id": "b1", "type": "generate", "messages": messages, "prompt": "x"},
        {"id": "b2", "type": "generate", "messages": [{"role": "user"}]},
        {"id": "b3", "type": "generate", "messages": []},
        {"id": "b4", "type": "generate", "prompt": "x", "add_bos": "yes"},
    ]
    out = io.StringIO()
    Server(make_scheduler(model, adapters[0]), out).run(iter([json.dumps(line) for line in lines]))
    messages_out = [json.loads(line) for line in out.getvalue().splitlines()]
    assert messages_out[0]["tokenizer"] == "byte" and messages_out[0]["chat_template"] is False
    final = {m["id"]: m for m in messages_out if m["type"] in ("done", "error")}
    assert final["m"]["type"] == "done" and final["m"]["text"] == final["p"]["text"]
    assert (
        final["m"]["usage"]
        == final["p"]["usage"]
        == {
            "prompt_tokens": 1 + len(chat_prompt.encode("utf-8")),
            "completion_tokens": 8,
        }
    )
    for request_id in ("b1", "b2", "b3", "b4"):
        assert final[request_id]["type"] == "error" and final[request_id]["error"]["code"] == "bad_request"
