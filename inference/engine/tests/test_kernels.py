"""Each kernel against a plain fp32 reference written from its "Semantics:" line."""

import math

import pytest
import torch

from openpoa_engine import kernels
from openpoa_engine.adapters import LoraWeights, pack_adapter
from openpoa_engine.config import LORA_GROUPS, ModelConfig
from openpoa_engine.kernels import PAGE_RANK, BgmvPlan

CONFIG = ModelConfig(
    vocab_size=300, hidden_size=48, intermediate_size=80, num_layers=1, num_heads=6, num_kv_heads=2, head_dim=8
)


def random_adapter(
    rank, seed, projections=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
):
    g = torch.Generator().manual_seed(seed)
    a = {(0, p): torch.randn(rank, CONFIG.in_features(p), generator=g) for p in projections}
    b = {(0, p): torch.randn(CONFIG.out_features(p), rank, generator=g) for p in projections}
    return LoraWeights(rank, 0.5 + seed / 10, a, b)


def pools_with(adapters):
    """Pack adapters into fresh pools, each at shuffled page positions; returns pools and page lists."""
    total = sum(-(-a.rank // PAGE_RANK) for a in adapters) + 2
    order = torch.randperm(total, generator=torch.Generator().manual_seed(7)).tolist()
    shrink = {
        g: torch.full((total, CONFIG.in_features(m[0]), len(m) * PAGE_RANK), float("nan")) for g, m in LORA_GROUPS
    }
    expand = {
        p: torch.full((total * PAGE_RANK, CONFIG.out_features(p)), float("nan")) for _, m in LORA_GROUPS for p in m
    }
    page_lists = []
    for lora in adapters:
        packed = pack_adapter(lora, CONFIG, torch.float32)
        pages, order = order[: packed.num_pages], order[packed.num_pages :]
        for g in shrink:
            shrink[g][pages] = packed.shrink[g][0]
        for p in expand:
            expand[p].view(total, PAGE_RANK, -1)[pages] = packed.expand[p][0].view(len(pages), PAGE_RANK, -1)
        page_lists.append(pages)
    return shrink, expand, page_lists


def reference_delta(lora, projection, x):
    if (0, projection) not in lora.a:
        return torch.zeros(x.shape[0], CONFIG.out_features(projection))
    return (x @ lora.a[(0, projection)].t()) @ lora.b[(0, projection)].t() * lora.scale


@pytest.mark.parametrize("group,members", LORA_GROUPS)
def test_bgmv_matches_reference_with_mixed_ranks_and_adapterless_rows(group, members):
    adapters = [
        random_adapter(8, 1),
        random_adapter(16, 2),
        random_adapter(40, 3),
        random_adapter(5, 4, projections=("q_proj", "o_proj", "down_proj")),
    ]
    shrink, expand, page_lists = pools_with(adapters)
    row_adapter = [0, -1, 2, 1, 0, 3, -1, 2, 3, 1]  # -1: no adapter
    n = len(row_adapter)
    x = torch.randn(n, CONFIG.in_features(members[0]))
    base = [torch.randn(n, CONFIG.out_features(p)) for p in members]
    outputs = [b.clone() for b in base]
    plan = BgmvPlan.build([page_lists[i] if i >= 0 else [] for i in row_adapter], "cpu")
    kernels.bgmv(outputs, x, shrink[group], [expand[p] for p in members], plan)
    for out, b, projection in zip(outputs, base, members):
        for r, i in enumerate(row_adapter):
            expected = b[r] if i < 0 else b[r] + reference_delta(adapters[i], projection, x[r : r + 1])[0]
            torch.testing.assert_close(out[r], expected, rtol=1e-5, atol=1e-4)


def test_bgmv_with_no_adapter_rows_is_identity():
    shrink, expand, _ = pools_with([random_adapter(8, 1)])
    y = torch.randn(3, CONFIG.q_size)
    before = y.clone()
    kernels.bgmv(
        [y],
        torch.randn(3, CONFIG.hidden_size),
        shrink["qkv"][..., :PAGE_RANK],
        [expand["q_proj"]],
        BgmvPlan.build([[], [], []], "cpu"),
    )
    assert torch.equal(y, before)


@pytest.mark.parametrize("group,members", LORA_GROUPS)
def test_sgmv_matches_reference(group, members):
    adapters = [random_adapter(16, 5), random_adapter(24, 6)]
    shrink, expand, page_lists = pools_with(adapters)
    segments = [(0, 5, 0), (5, 6, None), (6, 13, 1), (13, 17, 0)]  # None: rows without an adapter
    x = torch.randn(17, CONFIG.in_features(members[0]))
    base = [torch.randn(17, CONFIG.out_features(p)) for p in members]
    outputs = [b.clone() for b in base]
    kernels.sgmv(
        outputs,
        x,
        shrink[group],
        [expand[p] for p in members],
        [(s, e, torch.tensor(page_lists[i])) for s, e, i in segments if i is not None],
    )
    for out, b, projection in zip(outputs, base, members):
        expected = b.clone()
        for s, e, i in segments:
            if i is not None:
                expected[s:e] += reference_delta(adapters[i], projection, x[s:e])
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-4)


def test_rms_norm_and_rope_match_reference():
    x = torch.randn(5, 48)
    w = torch.randn(48)
    expected = torch.stack([r / math.sqrt((r * r).mean().item() + 1e-5) * w for r in x])
    torch.testing.assert_close(kernels.rms_norm(x, w, 1e-5), expected, rtol=1e-5, atol=1e-5)

    cos, sin = kernels.rope_tables(8, 32, 10000.0)
    q = torch.randn(3, 2, 8)
    positions = torch.tensor([0, 7, 31])
    out = kernels.apply_rope(q, cos[positions], sin[positions])
    for t, pos in enumerate(positions.tolist()):
        for i in range(4):  # HF rotate-half pairs dimension i with i + 4
            angle = pos / 10000.0 ** (2 * i / 8)
            c, s = math.cos(angle), math.sin(angle)
            torch.testing.assert_close(out[t, :, i], q[t, :, i] * c - q[t, :, i + 4] * s, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(out[t, :, i + 4], q[t, :, i + 4] * c + q[t, :, i] * s, rtol=1e-5, atol=1e-5)
    assert torch.equal(out[0], q[0])  # position 0 is the identity


def test_llama3_rope_scaling_keeps_high_frequencies_and_divides_low_ones():
    scaling = {
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 64,
    }
    cos, sin = kernels.rope_tables(16, 128, 10000.0, scaling)
    plain_cos, _ = kernels.rope_tables(16, 128, 10000.0)
    torch.testing.assert_close(cos[:, 0], plain_cos[:, 0])  # wavelength 2*pi << 64/4: unchanged
    inv_low = 1.0 / 10000.0 ** (14 / 16)  # wavelength ~ 2*pi*3162 >> 64: divided by the factor
    torch.testing.assert_close(cos[100, 7], torch.tensor(math.cos(100 * inv_low / 8)), rtol=1e-5, atol=1e-6)


def reference_attention(q, k, v, causal_upto):
    """q [T, H, D] attending to k, v [S, KV, D]; query t sees keys 0..causal_upto[t]."""
    heads, kv_heads, d = q.shape[1], k.shape[1], q.shape[2]
    out = torch.zeros(q.shape[0], heads, d)
    for t in range(q.shape[0]):
        for h in range(heads):
            keys = k[: causal_upto[t] + 1, h // (heads // kv_heads)]
            values = v[: causal_upto[t] + 1, h // (heads // kv_heads)]
            out[t, h] = torch.softmax(keys @ q[t, h] / math.sqrt(d), dim=0) @ values
    return out.reshape(q.shape[0], heads * d)


def test_prefill_attention_matches_reference():
    q, k, v = torch.randn(9, 6, 8), torch.randn(9, 2, 8), torch.randn(9, 2, 8)
    torch.testing.assert_close(
        kernels.prefill_attention(q, k, v), reference_attention(q, k, v, list(range(9))), rtol=1e-5, atol=1e-5
    )


def test_decode_attention_matches_reference_with_ragged_lengths():
    lengths = [3, 7, 1]
    max_len = 10
    k_cache, v_cache = torch.randn(3, 2, max_len, 8), torch.randn(3, 2, max_len, 8)
    q = torch.randn(3, 6, 8)
    positions = torch.tensor(lengths) - 1
    length = max(lengths)
    mask = torch.zeros(3, length).masked_fill_(torch.arange(length)[None] > positions[:, None], float("-inf"))
    out = kernels.decode_attention(q, k_cache[:, :, :length], v_cache[:, :, :length], mask[:, None, None, :])
    for b, n in enumerate(lengths):
        expected = reference_attention(q[b : b + 1], k_cache[b].transpose(0, 1), v_cache[b].transpose(0, 1), [n - 1])
        torch.testing.assert_close(out[b : b + 1], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("group,members", LORA_GROUPS)
def test_lora_kernels_with_a_bfloat16_model_on_cpu(group, members):
    """bf16 activations: the pools use lora_pool_dtype (float32 where embedding_bag lacks bf16, as in torch 1.13),
    x is cast to it, and each delta lands in the bf16 outputs with one rounding: within bf16's 2^-8 of the reference."""
    pool_dtype = kernels.lora_pool_dtype("cpu", torch.bfloat16)
    adapters = [random_adapter(8, 1), random_adapter(40, 3)]
    shrink, expand, page_lists = pools_with(adapters)
    shrink = {g: t.to(pool_dtype) for g, t in shrink.items()}
    expand = {p: t.to(pool_dtype) for p, t in expand.items()}
    row_adapter = [0, -1, 1, 1, 0]
    n = len(row_adapter)
    x = torch.randn(n, CONFIG.in_features(members[0])).bfloat16()
    base = [torch.randn(n, CONFIG.out_features(p)).bfloat16() for p in members]
    decode = [b.clone() for b in base]
    plan = BgmvPlan.build([page_lists[i] if i >= 0 else [] for i in row_adapter], "cpu")
    kernels.bgmv(decode, x, shrink[group], [expand[p] for p in members], plan)
    prefill = [b.clone() for b in base]
    segments = [(0, 1, 0), (2, 4, 1), (4, 5, 0)]
    kernels.sgmv(
        prefill,
        x,
        shrink[group],
        [expand[p] for p in members],
        [(s, e, torch.tensor(page_lists[i])) for s, e, i in segments],
    )
    for out_decode, out_prefill, b, projection in zip(decode, prefill, base, members):
        assert out_decode.dtype == out_prefill.dtype == torch.bfloat16
        expected = b.float()
        for r, i in enumerate(row_adapter):
            if i >= 0:
                expected[r] += reference_delta(adapters[i], projection, x[r : r + 1].float())[0]
        scale = expected.abs().max()
        for out in (out_decode, out_prefill):
            torch.testing.assert_close(out.float(), expected, rtol=2**-8, atol=2**-8 * scale)


def test_prefill_attention_of_a_chunk_after_cached_positions_matches_reference():
    """The last T queries of a sequence of S positions (chunked prefill): query t sits at position S - T + t."""
    q, k, v = torch.randn(4, 6, 8), torch.randn(11, 2, 8), torch.randn(11, 2, 8)
    torch.testing.assert_close(
        kernels.prefill_attention(q, k, v), reference_attention(q, k, v, list(range(7, 11))), rtol=1e-5, atol=1e-5
    )


def paged_pools(sequences, block_size, num_blocks):
    """Scatter each sequence's keys, values [S, KV, D] into shuffled blocks of pools; returns pools, block tables."""
    kv_heads, d = sequences[0][0].shape[1:]
    k_pool = torch.full((num_blocks, block_size, kv_heads, d), float("nan"))
    v_pool = torch.full((num_blocks, block_size, kv_heads, d), float("nan"))
    free = torch.randperm(num_blocks, generator=torch.Generator().manual_seed(3)).tolist()
    tables = []
    for k, v in sequences:
        blocks = -(-k.shape[0] // block_size)
        table, free = free[:blocks], free[blocks:]
        for i, block in enumerate(table):
            part = slice(i * block_size, min((i + 1) * block_size, k.shape[0]))
            k_pool[block, : part.stop - part.start] = k[part]
            v_pool[block, : part.stop - part.start] = v[part]
        tables.append(table)
    return k_pool.nan_to_num(nan=1e4), v_pool.nan_to_num(nan=1e4), tables  # unused slots: large, must stay masked


def test_paged_decode_attention_matches_contiguous_reference():
    block_size, lengths = 4, [3, 9, 1, 12]
    sequences = [(torch.randn(n, 2, 8), torch.randn(n, 2, 8)) for n in lengths]
    k_pool, v_pool, tables = paged_pools(sequences, block_size, 16)
    width, longest = max(map(len, tables)), max(lengths)
    padded = torch.tensor([t + [t[0]] * (width - len(t)) for t in tables])  # padding: any valid block
    slots = kernels.block_slots(padded, block_size)[:, :longest]
    mask = torch.zeros(len(lengths), longest)
    mask.masked_fill_(torch.arange(longest)[None] >= torch.tensor(lengths)[:, None], float("-inf"))
    q = torch.randn(len(lengths), 6, 8)
    out = kernels.paged_decode_attention(q, k_pool, v_pool, slots, mask[:, None, None, :])
    for b, (k, v) in enumerate(sequences):
        expected = reference_attention(q[b : b + 1], k, v, [lengths[b] - 1])
        torch.testing.assert_close(out[b : b + 1], expected, rtol=1e-5, atol=1e-5)


def test_paged_prefill_attention_matches_contiguous_reference():
    block_size, start, t = 4, 6, 5  # a chunk of 5 queries after 6 cached positions, spread over 3 blocks
    k, v = torch.randn(start + t, 2, 8), torch.randn(start + t, 2, 8)
    k_pool, v_pool, (table,) = paged_pools([(k, v)], block_size, 8)
    q = torch.randn(t, 6, 8)
    out = kernels.paged_prefill_attention(q, k_pool, v_pool, torch.tensor(table), start)
    torch.testing.assert_close(out, reference_attention(q, k, v, list(range(start, start + t))), rtol=1e-5, atol=1e-5)
