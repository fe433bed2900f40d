"""StaticDecode: the graph-safe decode step gives the eager step's logits, from inputs of fixed shapes and addresses
that it updates in place, and its step reads nothing from the host. On a GPU the same test replays a CUDA graph."""

import pytest
import torch

from conftest import acquire, make_cache, make_scheduler, run_to_completion
from test_paged_scheduling import mixed_requests, tokens_of
from openpoa_engine.kernels import BgmvPlan
from openpoa_engine.model import Llama, LoraBatch, PagedDecodeAttention, PagedKVCache, PagedPrefillAttention
from openpoa_engine.scheduler import Request
from openpoa_engine.static_decode import StaticDecode

BLOCK = 4
PROMPTS = [[5, 9, 2, 7, 1], [3, 3], [8, 1, 4, 4, 6, 2, 9], [2, 6, 5]]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device_model(request, model, model_dir):
    return model if request.param == "cpu" else Llama.load(model_dir, device=request.param)


def prefilled(model, cache, pages, steps):
    """A paged KV cache with PROMPTS prefilled (row i with adapter pages[i]); every table grown to its prompt plus
    `steps` tokens. Returns (kv, block tables)."""
    kv = PagedKVCache(model.config, 40, BLOCK, model.device, model.dtype)
    tables = [[] for _ in PROMPTS]
    tokens, positions, chunks, segments, row = [], [], [], [], 0
    for prompt, table, page in zip(PROMPTS, tables, pages):
        kv.allocator.reserve(kv.allocator.blocks_for(len(prompt) + steps))
        kv.allocator.grow(table, len(prompt) + steps)
        tokens += prompt
        positions += range(len(prompt))
        chunks.append((table, row, len(prompt), 0))
        if page:
            segments.append((row, row + len(prompt), page))
        row += len(prompt)
    tier, device = cache.device_tier, model.device
    attention = PagedPrefillAttention(kv, chunks, device)
    lora = LoraBatch(tier.shrink, tier.expand, segments=segments)
    model.forward(torch.tensor(tokens, device=device), torch.tensor(positions, device=device), attention, lora)
    return kv, tables


def forbid_host_reads(monkeypatch):
    """What would copy to or sync with the host inside a step fails instead."""

    def refuse(*args, **kwargs):
        raise AssertionError("host copy or sync inside the decode step")

    for name in ("tolist", "item", "__int__", "__bool__", "cpu"):
        monkeypatch.setattr(torch.Tensor, name, refuse)
    monkeypatch.setattr(torch, "tensor", refuse)


def test_static_step_equals_the_eager_step_and_updates_inputs_in_place(device_model, adapters, monkeypatch):
    model, device = device_model, device_model.device
    root, shas = adapters
    cache = make_cache(model, root)
    pages = [acquire(cache, shas["r8"][0]), None, acquire(cache, shas["r40"][0]), acquire(cache, shas["r8"][1])]
    steps = 4
    eager_kv, eager_tables = prefilled(model, cache, pages, steps)
    static_kv, static_tables = prefilled(model, cache, pages, steps)
    tier = cache.device_tier
    decode = StaticDecode(model, static_kv, max_batch=6, max_blocks=4, lora_pools=(tier.shrink, tier.expand))
    inputs = [decode.tokens, decode.positions, decode.block_tables]
    addresses, shapes = [t.data_ptr() for t in inputs], [t.shape for t in inputs]
    tokens = torch.tensor([p[-1] for p in PROMPTS], device=device)
    positions = torch.tensor([len(p) for p in PROMPTS], device=device)
    decode.set_rows(tokens.tolist(), positions.tolist(), static_tables, pages)
    for step in range(steps):
        lora = LoraBatch(tier.shrink, tier.expand, plan=BgmvPlan.build(pages, device))
        attention = PagedDecodeAttention(eager_kv, eager_tables, positions)
        expected = model.logits(model.forward(tokens, positions, attention, lora))
        with monkeypatch.context() as m:
            if step:  # the first step builds the plan's index tensors (and on CUDA captures the graph)
                forbid_host_reads(m)
            got = decode.step()
        assert got.shape == (6, model.config.vocab_size)
        torch.testing.assert_close(got[: len(PROMPTS)], expected, rtol=1e-4, atol=1e-4)
        tokens, positions = expected.argmax(-1), positions + 1
        decode.advance(tokens)
        assert [t.data_ptr() for t in inputs] == addresses and [t.shape for t in inputs] == shapes
        assert torch.equal(decode.positions[: len(PROMPTS)], positions)
        assert not decode.positions[len(PROMPTS) :].any()  # padding stays at position 0 of the sink block
    assert all(decode.sink not in t for t in static_tables)
    for layer in range(model.config.num_layers):  # the sequences' blocks hold the same keys and values
        for eager_table, static_table in zip(eager_tables, static_tables):
            torch.testing.assert_close(static_kv.k[layer, static_table], eager_kv.k[layer, eager_table])
            torch.testing.assert_close(static_kv.v[layer, static_table], eager_kv.v[layer, eager_table])


def test_new_rows_rewrite_the_same_index_tensors(model, adapters):
    """set_rows for another batch writes the LoRA indices in place (a captured graph reads the same addresses)."""
    root, shas = adapters
    cache = make_cache(model, root)
    first = [acquire(cache, shas["r8"][0]), None, None, None]
    kv, tables = prefilled(model, cache, first, 2)
    tier = cache.device_tier
    decode = StaticDecode(model, kv, max_batch=4, max_blocks=4, lora_pools=(tier.shrink, tier.expand), max_rank=40)
    decode.set_rows([1, 2, 3, 4], [len(p) for p in PROMPTS], tables, first)
    decode.step()
    buffers = {g: [t.data_ptr() for t in index.buffers] for g, index in decode.plan.indexes.items()}
    second = [None, acquire(cache, shas["r40"][0]), None]
    decode.set_rows([4, 5, 6], [len(p) for p in PROMPTS[:3]], tables[:3], second)
    assert {g: [t.data_ptr() for t in index.buffers] for g, index in decode.plan.indexes.items()} == buffers
    assert decode.plan.indexes["qkv"].shrink_blocks.tolist() == [0, second[1].blocks["qkv"], 0, 0]
    assert decode.block_tables[3].tolist() == [decode.sink] * 4 and decode.rows == 3


@pytest.mark.parametrize("block_size,prefill_tokens", [(4, 8), (16, 2048)])
def test_scheduler_through_static_decode_equals_its_eager_step(device_model, adapters, block_size, prefill_tokens):
    """The scheduler with StaticDecode (as on CUDA: rows rewritten when the batch changes, else advanced on the
    device) samples from the same logits and streams the same tokens as with its eager step, for mixed adapters."""
    model, (root, shas) = device_model, adapters
    runs = []
    for static in (False, True):
        scheduler = make_scheduler(
            model, root, static_decode=static, max_batch_size=4, kv_block_size=block_size,
            max_prefill_tokens=prefill_tokens, max_seq_len=96,
        )  # fmt: skip
        assert (scheduler.static is not None) == static
        logits, sample = {}, scheduler._sample

        def recording(seqs, step_logits, sample=sample, logits=logits):
            for seq, row in zip(seqs, step_logits):  # per request: batches differ with when adapter loads finish
                logits.setdefault(seq.request.id, []).append(row.clone())
            return sample(seqs, step_logits)

        scheduler._sample = recording
        events = {}
        for i, (prompt, sha, params) in enumerate(mixed_requests(shas)):
            scheduler.submit(Request(str(i), prompt, params, sha, events.setdefault(str(i), []).append))
        run_to_completion(scheduler)
        runs.append(({i: tokens_of(e) for i, e in events.items()}, logits))
    (eager_tokens, eager_logits), (static_tokens, static_logits) = runs
    assert static_tokens == eager_tokens
    assert static_logits.keys() == eager_logits.keys()
    for request, rows in static_logits.items():
        torch.testing.assert_close(torch.stack(rows), torch.stack(eager_logits[request]), rtol=1e-4, atol=1e-4)
