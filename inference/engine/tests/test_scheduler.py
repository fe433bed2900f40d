import random
from types import SimpleNamespace

import pytest
import torch

from conftest import make_scheduler, pages_of, run_to_completion, wait_for_loads
from openpoa_engine.scheduler import Request, RequestError, Sampler, SamplingParams
from openpoa_engine.tokenizer import ByteTokenizer

TOK = ByteTokenizer()


class Collector:
    def __init__(self):
        self.events = {}

    def __call__(self, event):
        self.events.setdefault(event["id"], []).append(event)

    def done(self, request_id):
        final = self.events[request_id][-1]
        assert final["type"] == "done", final
        return final

    def streamed(self, request_id):
        return "".join(e["text"] for e in self.events[request_id] if e["type"] == "token")


def generate(scheduler, requests):
    out = Collector()
    for request_id, prompt, params, adapter in requests:
        scheduler.submit(Request(request_id, TOK.encode(prompt), params, adapter, out))
    run_to_completion(scheduler)
    return out


def test_same_seed_same_text_and_different_seed_different_text(model, adapters):
    root, shas = adapters

    def params(seed):
        return SamplingParams(max_tokens=40, temperature=0.9, top_p=0.95, seed=seed, ignore_eos=True)

    first = generate(make_scheduler(model, root), [("a", "Once upon", params(7), shas["r16"][0])])
    # same request again, now batched with other traffic: same completion
    second = generate(
        make_scheduler(model, root),
        [
            ("x", "noise", params(1), None),
            ("a", "Once upon", params(7), shas["r16"][0]),
            ("y", "more noise", params(2), shas["r8"][0]),
        ],
    )
    other_seed = generate(make_scheduler(model, root), [("a", "Once upon", params(8), shas["r16"][0])])
    assert first.done("a")["text"] == second.done("a")["text"]
    assert first.done("a")["text"] != other_seed.done("a")["text"]
    assert len(set(first.done("a")["text"])) >= 8  # non-degenerate text


def test_usage_counts_and_length_finish(model, adapters):
    root, _ = adapters
    out = generate(
        make_scheduler(model, root), [("a", "héllo", SamplingParams(max_tokens=9, seed=1, ignore_eos=True), None)]
    )
    done = out.done("a")
    assert done["finish_reason"] == "length"
    assert done["usage"] == {"prompt_tokens": 1 + len("héllo".encode()), "completion_tokens": 9}
    tokens = [e["token"] for e in out.events["a"] if e["type"] == "token"]
    assert len(tokens) == 9
    assert out.streamed("a") + done["delta"] == done["text"] == bytes(tokens).decode("utf-8", "replace")


def test_stop_sequence_truncates_and_is_never_streamed(model, adapters):
    root, _ = adapters
    params = SamplingParams(max_tokens=60, temperature=1.0, seed=3, ignore_eos=True)
    free = generate(make_scheduler(model, root), [("a", "Stop test", params, None)]).done("a")["text"]
    stop = free[20:22]  # a stop string that occurs in this completion
    first = free.find(stop)
    params.stop = (stop, "\x00never")
    out = generate(make_scheduler(model, root), [("a", "Stop test", params, None)])
    done = out.done("a")
    assert done["finish_reason"] == "stop"
    assert done["text"] == free[:first]
    assert stop not in out.streamed("a") and out.streamed("a") + done["delta"] == done["text"]
    # the token that completed the stop string is counted
    assert done["usage"]["completion_tokens"] == len(free[: first + len(stop)].encode())


def test_eos_finishes_with_stop(model, adapters):
    root, _ = adapters
    out = generate(
        make_scheduler(model, root),
        [(f"r{s}", "eos?", SamplingParams(max_tokens=400, temperature=1.5, seed=s), None) for s in range(6)],
    )
    reasons = {out.done(f"r{s}")["finish_reason"] for s in range(6)}
    assert "stop" in reasons  # EOS is rare but reachable within 400 tokens at this temperature
    for s in range(6):
        done = out.done(f"r{s}")
        if done["finish_reason"] == "stop":
            assert out.events[f"r{s}"][-2]["token"] == 257 and done["usage"]["completion_tokens"] < 400


def test_continuous_batching_join_leave_and_cancel(model, adapters):
    root, shas = adapters
    scheduler = make_scheduler(model, root, max_batch_size=3)
    out = Collector()

    def greedy(n):
        return SamplingParams(max_tokens=n, temperature=0.0, ignore_eos=True)

    scheduler.submit(Request("long", TOK.encode("long one"), greedy(30), shas["r8"][0], out))
    scheduler.submit(Request("short", TOK.encode("short"), greedy(3), None, out))
    wait_for_loads(scheduler)
    scheduler.step()  # both join: prefill (first token) and one decode step
    assert len(scheduler.running) == 2
    scheduler.step()
    assert [s.request.id for s in scheduler.running] == ["long"] and out.done("short")["usage"][
        "completion_tokens"
    ] == 3
    scheduler.submit(Request("late", TOK.encode("joins later"), greedy(10), shas["r16"][0], out))
    scheduler.submit(Request("queued", TOK.encode("waits for a row"), greedy(5), None, out))
    scheduler.submit(Request("doomed", TOK.encode("cancel me"), greedy(50), shas["r8"][1], out))
    wait_for_loads(scheduler)
    for _ in range(4):
        scheduler.step()
        assert len(scheduler.running) <= 3
    assert scheduler.cancel("doomed")
    assert not scheduler.cancel("nope")
    run_to_completion(scheduler)
    assert out.done("doomed")["finish_reason"] == "cancelled" and out.done("doomed")["usage"]["completion_tokens"] < 50
    assert scheduler.cache.stats()["pinned_adapters"] == 0 and not scheduler.running
    # each completion equals the same request run alone (rows moved around in the KV cache meanwhile)
    for request_id, prompt, n, sha in (
        ("long", "long one", 30, shas["r8"][0]),
        ("late", "joins later", 10, shas["r16"][0]),
        ("queued", "waits for a row", 5, None),
    ):
        alone = generate(make_scheduler(model, root), [(request_id, prompt, greedy(n), sha)])
        assert out.done(request_id)["text"] == alone.done(request_id)["text"], request_id
        assert out.done(request_id)["usage"]["completion_tokens"] == n


def test_unknown_adapter_fails_only_its_request(model, adapters):
    root, _ = adapters
    out = generate(
        make_scheduler(model, root),
        [
            ("bad", "x", SamplingParams(max_tokens=3), "e" * 64),
            ("good", "y", SamplingParams(max_tokens=3, seed=0), None),
        ],
    )
    assert out.events["bad"][-1]["type"] == "error" and out.events["bad"][-1]["error"]["code"] == "adapter_not_found"
    assert out.done("good")["usage"]["completion_tokens"] == 3


def test_adapter_waits_for_pages_instead_of_failing(model, adapters):
    root, shas = adapters
    scheduler = make_scheduler(model, root, budget_pages=pages_of(model, 8))  # room for one rank-8 adapter at a time
    out = generate(
        scheduler,
        [
            (f"r{i}", "p", SamplingParams(max_tokens=4, seed=i, ignore_eos=True), sha)
            for i, sha in enumerate(shas["r8"])
        ],
    )
    for i in range(3):
        assert out.done(f"r{i}")["finish_reason"] == "length"
    assert scheduler.cache.stats()["evictions"] == 2


def test_context_limit_and_bad_requests(model, adapters):
    root, _ = adapters
    scheduler = make_scheduler(model, root, max_seq_len=16)
    out = Collector()
    scheduler.submit(Request("a", TOK.encode("0123456789"), SamplingParams(max_tokens=100, ignore_eos=True), None, out))
    run_to_completion(scheduler)
    assert out.done("a")["finish_reason"] == "length" and out.done("a")["usage"]["completion_tokens"] == 16 - 11 + 1
    for prompt, params, code in (
        (TOK.encode("x" * 20), SamplingParams(), "prompt_too_long"),
        ([1, 2, 999], SamplingParams(), "bad_request"),
        ([], SamplingParams(), "bad_request"),
        ([1], SamplingParams(max_tokens=0), "bad_request"),
        ([1], SamplingParams(top_p=0), "bad_request"),
    ):
        with pytest.raises(RequestError) as e:
            scheduler.submit(Request("b", prompt, params, None, out))
        assert e.value.code == code


def test_tiny_top_p_is_greedy_and_temperature_changes_sampling(model, adapters):
    root, _ = adapters
    runs = {}
    for name, params in (
        ("greedy", SamplingParams(max_tokens=30, temperature=0.0, ignore_eos=True)),
        ("top_p", SamplingParams(max_tokens=30, temperature=1.0, top_p=1e-6, seed=4, ignore_eos=True)),
        ("hot", SamplingParams(max_tokens=30, temperature=1.0, seed=4, ignore_eos=True)),
    ):
        runs[name] = generate(make_scheduler(model, root), [("a", "Sampling", params, None)]).done("a")["text"]
    assert runs["top_p"] == runs["greedy"]  # the nucleus keeps only the most likely token
    assert runs["hot"] != runs["greedy"]


def test_stop_found_when_one_token_adds_many_characters(model, adapters):
    """HF tokenizers emit many characters per token: the stop search covers all new text."""
    import random

    from openpoa_engine.scheduler import Sequence

    scheduler = make_scheduler(model, adapters[0])
    seq = Sequence(Request("a", [1], SamplingParams(stop=("STOP", "zz")), None, None), random.Random(0), None)
    seq.text = "abc ST"
    assert scheduler._find_stop(seq) is None
    seq.text += "OP and then a long run of text with zz in it"  # stop straddles the old and the new text
    assert scheduler._find_stop(seq) == 4


def reference_sample(params, rngs, logits, token_bias):
    """The sampling Sampler must reproduce, in plain fp32 with host-built tensors each step: temperature, then the
    smallest set of tokens reaching top_p, one uniform draw per row from its own RNG; argmax at temperature 0."""
    tokens = []
    for p, rng, row in zip(params, rngs, logits + token_bias):
        draw = torch.tensor(rng.random(), dtype=torch.float32)
        probs = torch.softmax(row / max(p.temperature, 1e-5), dim=-1)
        sorted_probs, order = probs.sort(descending=True)
        kept = sorted_probs * ((sorted_probs.cumsum(-1) - sorted_probs) < p.top_p)
        choice = min(int(torch.searchsorted(kept.cumsum(-1), draw * kept.sum())), len(row) - 1)
        tokens.append(int(row.argmax()) if p.temperature == 0 else int(order[choice]))
    return tokens


def test_sampler_matches_the_reference_and_copies_nothing_in_a_steady_step(monkeypatch):
    """Rows that change (one leaves and comes back, as when preempted) and a window of draws that runs out: the same
    tokens as the reference for the same seeds; steps between those changes build no host tensor."""
    vocab, window = 50, 3
    token_bias = torch.zeros(vocab)
    token_bias[[0, 7]] = float("-inf")
    params = [
        SamplingParams(temperature=0.7, top_p=0.9),
        SamplingParams(temperature=0),
        SamplingParams(temperature=1.3),
        SamplingParams(temperature=2.0, top_p=0.5),
    ]
    seqs = [
        SimpleNamespace(request=SimpleNamespace(params=p), rng=random.Random(i), draws=[]) for i, p in enumerate(params)
    ]
    rngs = [random.Random(i) for i in range(len(params))]
    sampler, generator = Sampler(token_bias, max_batch=4, window=window), torch.Generator().manual_seed(0)
    batches = [[0, 1, 2, 3]] * 5 + [[0, 2, 3]] * 4 + [[3, 1, 0, 2]] * 3 + [[2]] * 2
    sampled = []
    for step, rows in enumerate(batches):
        logits = torch.randn(len(rows), vocab, generator=generator) * 3
        steady = step and rows == batches[step - 1] and sampler.used < window
        with monkeypatch.context() as m:
            if steady:
                m.setattr(torch, "tensor", lambda *a, **k: pytest.fail("host tensor built in a steady step"))
            got = sampler.sample([seqs[r] for r in rows], logits).tolist()
        assert got == reference_sample([params[r] for r in rows], [rngs[r] for r in rows], logits, token_bias)
        sampled += got
    assert len(set(sampled)) > 5  # the draws matter


def test_a_steady_static_decode_step_builds_no_host_tensor(model, monkeypatch):
    """Through StaticDecode, once the batch is set, a scheduler step (forward, sampling, advance) makes no
    host-to-device copy: the rows' inputs and sampling parameters stay on the device."""
    scheduler = make_scheduler(model, None, static_decode=True, max_batch_size=2, max_seq_len=64)
    out = Collector()
    for request_id, temperature in (("hot", 0.9), ("greedy", 0.0)):
        params = SamplingParams(max_tokens=12, temperature=temperature, seed=4, ignore_eos=True)
        scheduler.submit(Request(request_id, TOK.encode("steady"), params, None, out))
    scheduler.step()  # admits, prefills, writes the rows
    monkeypatch.setattr(torch, "tensor", lambda *a, **k: pytest.fail("host tensor built in a steady step"))
    run_to_completion(scheduler)
    monkeypatch.undo()
    assert [sum(e["type"] == "token" for e in out.events[r]) for r in ("hot", "greedy")] == [12, 12]
