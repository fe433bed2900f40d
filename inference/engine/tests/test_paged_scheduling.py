"""The paged KV cache and scheduling by adapter: generation equals the contiguous layout token for token, budgets
make admission wait, and the scheduler groups, caps, ages, prefetches and chunks as its docstring says."""

import random

import pytest
import torch

from conftest import acquire, make_scheduler, packed_prefill, pages_of, run_to_completion, wait_for_loads
from openpoa_engine.kernels import BgmvPlan, block_slots
from openpoa_engine.model import BlockAllocator, DecodeAttention, KVCache, LoraBatch, PagedKVCache
from openpoa_engine.scheduler import Request, SamplingParams, Sequence
from openpoa_engine.tokenizer import ByteTokenizer

TOK = ByteTokenizer()


def tokens_of(events):
    return [e["token"] for e in events if e["type"] == "token"]


def kv_bytes(model, blocks, block_size):
    return blocks * PagedKVCache.block_bytes(model.config, block_size, model.dtype)


def contiguous_generation(scheduler, requests):
    """The engine before the paged KV cache: every prompt prefilled whole into its own contiguous row (SGMV), then
    decode steps over all rows at once (BGMV), sampled by the scheduler's sampler with each request's seeded RNG.
    requests: [(prompt tokens, adapter, params)]. Returns the generated tokens of each."""
    model, cache = scheduler.model, scheduler.cache
    pages = [acquire(cache, sha) if sha else None for _, sha, _ in requests]
    steps = max(params.max_tokens for _, _, params in requests)
    kv = KVCache(model.config, len(requests), max(len(p) for p, _, _ in requests) + steps, "cpu", model.dtype)
    hidden, spans = packed_prefill(model, cache, kv, [prompt for prompt, _, _ in requests], pages)
    tier = cache.device_tier
    seqs = [
        Sequence(Request(str(i), p, params), random.Random(params.seed), None)
        for i, (p, _, params) in enumerate(requests)
    ]
    last = torch.tensor([s + n - 1 for _, s, n in spans])
    out = [[t] for t in scheduler._sample(seqs, model.logits(hidden.index_select(0, last))).tolist()]
    lengths = torch.tensor([len(p) for p, _, _ in requests])
    for _ in range(steps - 1):
        lora = LoraBatch(tier.shrink, tier.expand, plan=BgmvPlan.build(pages, "cpu"))
        hidden = model.forward(torch.tensor([o[-1] for o in out]), lengths, DecodeAttention(kv, lengths), lora)
        for o, token in zip(out, scheduler._sample(seqs, model.logits(hidden)).tolist()):
            o.append(token)
        lengths = lengths + 1
    for _, sha, _ in requests:
        if sha:
            cache.release(sha)
    return [o[: params.max_tokens] for o, (_, _, params) in zip(out, requests)]


def greedy(n):
    return SamplingParams(max_tokens=n, temperature=0.0, ignore_eos=True)


def sampled(n, seed):
    return SamplingParams(max_tokens=n, temperature=0.9, top_p=0.95, seed=seed, ignore_eos=True)


def mixed_requests(shas):
    return [
        (TOK.encode("A prompt long enough to take several chunks of prefill"), shas["r8"][0], greedy(14)),
        (TOK.encode("short"), None, greedy(20)),
        (TOK.encode("Another adapter, rank forty: three pages"), shas["r40"][0], sampled(12, 5)),
        (TOK.encode("same adapter as the first"), shas["r8"][0], sampled(16, 6)),
        (TOK.encode("rsLoRA on attention only, a prompt of some length"), shas["attn_rslora"][0], greedy(10)),
        (TOK.encode("r16"), shas["r16"][1], greedy(18)),
        (TOK.encode("base model, sampled"), None, sampled(15, 7)),
    ]


@pytest.mark.parametrize(
    "block_size,prefill_tokens,budget_blocks,decode_reserve",
    # tight: chunked prompts and admission waiting for blocks; roomy: neither; preempting: sequences reserve 4 tokens
    # past their prompt and grow, and when no block is left the newest is preempted and later recomputed
    [(4, 8, 40, None), (16, 2048, None, None), (4, 16, 32, 4)],
)
def test_paged_generation_equals_contiguous_layout_token_for_token(
    model, adapters, block_size, prefill_tokens, budget_blocks, decode_reserve
):
    root, shas = adapters
    requests = mixed_requests(shas)
    reference = contiguous_generation(make_scheduler(model, root), requests)
    scheduler = make_scheduler(
        model,
        root,
        max_seq_len=128,
        max_prefill_tokens=prefill_tokens,
        kv_block_size=block_size,
        kv_budget_bytes=budget_blocks and kv_bytes(model, budget_blocks, block_size),
        decode_reserve_tokens=decode_reserve,
    )
    events = {}
    most_running, chunked = 0, False
    for i, (prompt, sha, params) in enumerate(requests):
        scheduler.submit(Request(str(i), prompt, params, sha, lambda e: events.setdefault(e["id"], []).append(e)))
        if i % 3 == 2:  # later requests join a running batch
            wait_for_loads(scheduler)
            scheduler.step()
    for _ in range(500):
        if not scheduler.by_id:
            break
        wait_for_loads(scheduler)
        scheduler.step()
        most_running = max(most_running, len(scheduler.running))
        chunked |= any(0 < s.length < len(s.request.prompt_tokens) for s in scheduler.running)
    for i, expected in enumerate(reference):
        assert tokens_of(events[str(i)]) == expected, i
    if budget_blocks:  # the tight cases exercised what they are for
        assert chunked and most_running < len(requests)
    assert (scheduler.preemptions > 0) == bool(decode_reserve)
    assert scheduler.kv.allocator.unreserved == scheduler.kv.allocator.num_blocks


def test_block_allocator_reserves_grows_and_releases():
    allocator = BlockAllocator(num_blocks=10, block_size=4)
    assert allocator.blocks_for(1) == 1 and allocator.blocks_for(8) == 2 and allocator.blocks_for(9) == 3
    assert allocator.reserve(6) and not allocator.reserve(5) and allocator.reserve(4) and not allocator.reserve(1)
    a, b = [], []
    allocator.grow(a, 5)
    allocator.grow(b, 16)
    allocator.grow(a, 8)  # still two blocks
    assert len(a) == 2 and len(b) == 4 and not set(a) & set(b)
    allocator.release(a, 6)
    assert a == [] and allocator.unreserved == 6 and len(allocator.free) == 6
    assert allocator.reserve(6) and not allocator.reserve(1)


def cached_keys(scheduler, seq, length):
    """The keys of a sequence's first `length` tokens, read through its block table: [layers, length, kv, D]."""
    pool = scheduler.kv.k.flatten(1, 2)  # [layers, blocks * block_size, kv_heads, head_dim]
    slots = block_slots(torch.tensor(seq.blocks), scheduler.kv.allocator.block_size)[:length]
    return pool.index_select(1, slots).clone()


def test_kv_budget_makes_admission_wait_and_blocks_follow_lengths(model, adapters):
    root, shas = adapters
    block_size, budget = 4, 12
    scheduler = make_scheduler(
        model, root, max_seq_len=48, kv_block_size=block_size, kv_budget_bytes=kv_bytes(model, budget, block_size)
    )
    allocator = scheduler.kv.allocator
    events = {}
    for i in range(4):  # each reserves ceil((10 + 14) / 4) = 6 blocks: two fit at a time
        params = greedy(14)
        scheduler.submit(
            Request(
                str(i),
                TOK.encode(f"prompt {i}"),
                params,
                shas["r8"][i % 2],
                lambda e: events.setdefault(e["id"], []).append(e),
            )
        )
    kept = {}  # sequence -> (its blocks, its cached keys) before a step
    waited = False
    while scheduler.by_id:
        wait_for_loads(scheduler)
        scheduler.step()
        assert len(scheduler.running) <= 2 and allocator.unreserved >= 0
        waited |= bool(scheduler.waiting) and len(scheduler.running) == 2
        for seq in scheduler.running:
            assert seq.reserved == 6 and len(seq.blocks) == allocator.blocks_for(seq.length)  # grows with its length
            if seq in kept:  # another sequence left meanwhile: this one's blocks and cached keys did not move
                blocks, length, keys = kept[seq]
                assert seq.blocks[: len(blocks)] == blocks and torch.equal(cached_keys(scheduler, seq, length), keys)
        kept = {s: (list(s.blocks), s.length, cached_keys(scheduler, s, s.length)) for s in scheduler.running}
    assert waited
    for i in range(4):  # nothing truncated
        assert events[str(i)][-1]["finish_reason"] == "length" and len(tokens_of(events[str(i)])) == 14
    assert allocator.unreserved == budget and sorted(allocator.free) == list(range(budget))


def test_kv_budget_below_one_sequence_is_refused(model, adapters):
    with pytest.raises(ValueError, match="below max_seq_len"):
        make_scheduler(model, adapters[0], max_seq_len=64, kv_block_size=16, kv_budget_bytes=kv_bytes(model, 3, 16))


def test_chunked_prefill_keeps_decoding_and_matches_unchunked(model, adapters):
    root, shas = adapters
    long_prompt = TOK.encode("a long prompt " * 5)  # 71 tokens: 9 chunks of 8
    params = greedy(8)
    scheduler = make_scheduler(model, root, max_prefill_tokens=8)
    events = {}
    collect = lambda e: events.setdefault(e["id"], []).append(e)  # noqa: E731
    scheduler.submit(
        Request("running", TOK.encode("hi"), SamplingParams(max_tokens=40, ignore_eos=True), None, collect)
    )
    scheduler.step()
    scheduler.submit(Request("long", long_prompt, params, shas["r16"][0], collect))
    wait_for_loads(scheduler)
    long_seq, prefill_steps = scheduler.by_id["long"], 0
    while long_seq.length < len(long_prompt):
        before, cached = len(tokens_of(events["running"])), long_seq.length
        scheduler.step()
        prefill_steps += 1
        assert len(tokens_of(events["running"])) == before + 1  # one decode token every step of the prefill
        assert long_seq.length - cached <= 8
    assert prefill_steps == -(-len(long_prompt) // 8)
    run_to_completion(scheduler)
    whole = make_scheduler(model, root)
    alone = {}
    whole.submit(
        Request("long", long_prompt, params, shas["r16"][0], lambda e: alone.setdefault(e["id"], []).append(e))
    )
    run_to_completion(whole)
    assert tokens_of(events["long"]) == tokens_of(alone["long"])


class ForwardSpy:
    """The model, recording the SGMV segments of every prefill."""

    def __init__(self, model):
        self.model, self.segments = model, []

    def __getattr__(self, name):
        return getattr(self.model, name)

    def forward(self, tokens, positions, attention, lora=None):
        if lora is not None and lora.segments is not None:
            self.segments.append([(start, end) for start, end, _ in lora.segments])
        return self.model.forward(tokens, positions, attention, lora)


def test_prefill_groups_sgmv_segments_by_adapter(model, adapters):
    root, shas = adapters
    x, y = shas["r8"][0], shas["r16"][0]
    warm = [("warm x", x), ("warm y", y)]  # in the batch first: the requests below then join in arrival order
    requests = [("p0", x), ("p1 longer", y), ("p2", x), ("p3 base", None), ("p4", y), ("p5 x again", x)]
    outputs = {}
    for batch in (8, 1):  # together, then each alone
        scheduler = make_scheduler(model, root, max_batch_size=batch)
        scheduler.model = spy = ForwardSpy(model)
        events = outputs.setdefault(batch, {})
        for group in (warm, requests):
            for prompt, sha in group:
                emit = lambda e, ev=events: ev.setdefault(e["id"], []).append(e)  # noqa: E731
                scheduler.submit(Request(prompt, TOK.encode(prompt), greedy(5), sha, emit))
            wait_for_loads(scheduler)
            scheduler.step()
        run_to_completion(scheduler)
        if batch == 8:
            segments = spy.segments[1]  # the second prefill: all six
            lengths = {sha: sum(len(TOK.encode(p)) for p, s in requests if s == sha) for sha in (x, y)}
            assert len(segments) == 2 and sorted(end - start for start, end in segments) == sorted(lengths.values())
    for prompt, _ in warm + requests:
        assert tokens_of(outputs[8][prompt]) == tokens_of(outputs[1][prompt]), prompt


def test_cap_on_distinct_adapters_per_batch(model, adapters):
    root, shas = adapters
    chosen = [shas["r8"][0], shas["r8"][1], shas["r8"][2], shas["r16"][0], shas["r8"][0], None]
    scheduler = make_scheduler(model, root, max_adapters_per_batch=2)
    events = {}
    for i, sha in enumerate(chosen):
        params = greedy(6)
        scheduler.submit(
            Request(str(i), TOK.encode(f"cap {i}"), params, sha, lambda e: events.setdefault(e["id"], []).append(e))
        )
    most = 0
    while scheduler.by_id:
        wait_for_loads(scheduler)
        scheduler.step()
        in_batch = {s.request.adapter for s in scheduler.running} - {None}
        assert len(in_batch) <= 2
        most = max(most, len(scheduler.running))
    assert most >= 3  # the base-model request and a second request of an adapter in the batch still joined
    assert all(events[str(i)][-1]["finish_reason"] == "length" for i in range(len(chosen)))


def starve(model, root, popular, rare, aging_steps, steps, max_adapters_per_batch=1, budget_pages=None, batch=4):
    """A stream of two requests a step for the popular adapters (taken in turn), more than a batch of four serves;
    one request for the rare adapter at step 1. Returns the rare request's sequence."""
    scheduler = make_scheduler(
        model,
        root,
        budget_pages,
        max_batch_size=batch,
        max_adapters_per_batch=max_adapters_per_batch,
        aging_steps=aging_steps,
    )
    params = greedy(6)
    rare_seq = None
    for step in range(steps):
        for k in range(2):
            sha = popular[(2 * step + k) % len(popular)]
            scheduler.submit(Request(f"p{step}.{k}", TOK.encode("popular"), params, sha, lambda e: None))
        if step == 1:
            scheduler.submit(Request("rare", TOK.encode("rare"), params, rare, lambda e: None))
            rare_seq = scheduler.by_id["rare"]
        wait_for_loads(scheduler)
        scheduler.step()
        if rare_seq is not None and rare_seq.admitted is not None:
            break
    return rare_seq


def test_aging_bounds_the_wait_of_a_request_the_batch_keeps_passing_over(model, adapters):
    root, shas = adapters
    popular, rare = [shas["r8"][0]], shas["r8"][1]
    starved = starve(model, root, popular, rare, aging_steps=10**6, steps=120)
    assert starved.admitted is None  # without aging the popular stream holds the only adapter slot for ever
    aged = starve(model, root, popular, rare, aging_steps=10, steps=120)
    # aged after 10 steps; then the popular adapter admits no more and its running sequences (6 tokens) finish
    assert aged.admitted is not None and aged.admitted - aged.arrival <= 10 + 6 + 2


def test_aging_bounds_the_wait_when_pages_bind(model, adapters):
    """Two popular adapters fill the device tier and stay pinned; the rare adapter needs the pages of both. No cap, and
    a batch of 16 that the stream (two requests a step, 6 tokens each) never fills: only pages keep it waiting."""
    root, shas = adapters
    popular, rare = shas["r8"][:2], shas["r16"][0]
    assert pages_of(model, 8) < pages_of(model, 16) <= 2 * pages_of(model, 8)
    budget = 2 * pages_of(model, 8)
    starved = starve(
        model, root, popular, rare, 10**6, 120, max_adapters_per_batch=None, budget_pages=budget, batch=16
    )
    assert starved.admitted is None  # without aging the popular adapters keep every page pinned
    aged = starve(model, root, popular, rare, 10, 120, max_adapters_per_batch=None, budget_pages=budget, batch=16)
    # aged after 10 steps; then both popular adapters admit no more, at once (one after the other would take 8 more
    # steps), and their sequences (6 tokens) finish
    assert aged.admitted is not None and aged.admitted - aged.arrival <= 10 + 6


def test_prefetch_follows_queue_order(model, adapters):
    root, shas = adapters
    scheduler = make_scheduler(model, root, max_batch_size=1, prefetch_depth=2)
    distinct = shas["r8"] + shas["r16"]
    for i, sha in enumerate(distinct):
        params = greedy(3)
        scheduler.submit(Request(str(i), TOK.encode("x"), params, sha, lambda e: None))
    assert [s.handle is not None for s in scheduler.waiting] == [True, True, False, False, False]
    assert scheduler.cache.stats()["misses"] == 2  # only the first two were asked for
    wait_for_loads(scheduler)
    scheduler.step()  # the first is admitted; the window moves on to the next two in queue order
    assert [s.handle is not None for s in scheduler.waiting] == [True, True, False, False]
    run_to_completion(scheduler)
    assert scheduler.cache.stats()["misses"] == 5
