"""Each kernel against a plain fp32 reference written from its "Semantics:" line."""

import math
import random

import pytest
import torch

from openpoa_engine import kernels
from openpoa_engine.adapter_cache import DeviceTier, adapter_pages
from openpoa_engine.adapters import HostAdapter, LoraWeights
from openpoa_engine.config import LORA_GROUPS, LORA_PROJECTIONS, ModelConfig
from openpoa_engine.kernels import PAGE_WIDTH, BgmvPlan

CONFIG = ModelConfig(
    vocab_size=300, hidden_size=48, intermediate_size=80, num_layers=2, num_heads=6, num_kv_heads=2, head_dim=8
)
UNIT = CONFIG.lora_unit  # 16: q 48, k/v 16, gate/up/down 80


def random_adapter(rank, seed, projections=LORA_PROJECTIONS):
    g = torch.Generator().manual_seed(seed)
    layers = range(CONFIG.num_layers)
    a = {(layer, p): torch.randn(rank, CONFIG.in_features(p), generator=g) for layer in layers for p in projections}
    b = {(layer, p): torch.randn(CONFIG.out_features(p), rank, generator=g) for layer in layers for p in projections}
    return LoraWeights(rank, 0.5 + seed / 10, a, b)


MIXED = [
    random_adapter(8, 1),
    random_adapter(16, 2),
    random_adapter(40, 3),
    random_adapter(5, 4, projections=("q_proj", "o_proj", "down_proj")),
    random_adapter(12, 5, projections=("v_proj", "up_proj")),
]


def tier_with(adapters, seed=7, fragment=False, dtype=torch.float32):
    """A device tier holding the adapters at pages in a shuffled order, every other page NaN (so a kernel that reads
    a wrong page fails); fragment: place and evict filler adapters first. Returns (tier, page tables)."""
    host = [HostAdapter.from_weights(lora, CONFIG, dtype) for lora in adapters]
    need = sum(adapter_pages(CONFIG, h.rank, h.a) for h in host)
    tier = DeviceTier(CONFIG, need + 50, "cpu", dtype)
    tier.pool.fill_(float("nan"))
    random.Random(seed).shuffle(tier.pages.free)
    if fragment:
        fillers = [HostAdapter.from_weights(random_adapter(8, 90 + i, ("k_proj",)), CONFIG, dtype) for i in range(4)]
        for i, filler in enumerate(fillers):
            tier.place(f"filler{i}", filler)
        tier.remove("filler1")
        tier.remove("filler3")
    return tier, [tier.place(str(i), h) for i, h in enumerate(host)]


def reference_delta(lora, layer, projection, x):
    if (layer, projection) not in lora.a:
        return torch.zeros(x.shape[0], CONFIG.out_features(projection))
    return (x @ lora.a[(layer, projection)].t()) @ lora.b[(layer, projection)].t() * lora.scale


def test_pages_hold_the_layout_of_their_semantics():
    lora = random_adapter(12, 6, projections=("q_proj", "v_proj", "down_proj"))
    tier, (table,) = tier_with([lora])
    # qkv columns: q's 12 ranks then v's (24: two column blocks); down's 12 (one block); expand rows 12 * (3 + 1 + 3)
    assert table.columns == {"q_proj": 0, "v_proj": 12, "down_proj": 0}
    assert [list(table.shrink[g].shape) for g in ("qkv", "down")] == [[2, 48 // UNIT], [1, 80 // UNIT]]
    assert len(tier.pages.resident["0"]) == 2 * 3 + 1 * 5 + 6 == adapter_pages(CONFIG, 12, lora_targets(lora))
    for layer in range(CONFIG.num_layers):
        pages = tier.pool[layer].view(-1, UNIT, PAGE_WIDTH)  # the shrink view of each page
        for group, members in (("qkv", ("q_proj", "v_proj")), ("down", ("down_proj",))):
            columns = [(m, j) for m in members for j in range(12)]
            blocks, chunks = table.shrink[group].shape
            for k in range(blocks):
                for c in range(chunks):
                    page = pages[table.shrink[group][k, c]]
                    for t in range(PAGE_WIDTH):
                        if k * PAGE_WIDTH + t < len(columns):
                            m, j = columns[k * PAGE_WIDTH + t]
                            assert torch.equal(page[:, t], lora.a[(layer, m)][j, c * UNIT : (c + 1) * UNIT])
                        else:
                            assert torch.equal(page[:, t], torch.zeros(UNIT))
        used = set()
        for m in ("q_proj", "v_proj", "down_proj"):
            b = lora.b[(layer, m)] * lora.scale
            for c in range(CONFIG.out_features(m) // UNIT):
                for j in range(12):
                    row = int(table.expand[m][c, j])
                    used.add(row)
                    assert torch.equal(tier.expand[layer][row], b[c * UNIT : (c + 1) * UNIT, j])
        assert len(used) == 84 and len({row // PAGE_WIDTH for row in used}) == 6  # the last 12 rows are never read


def lora_targets(lora):
    return {p for _, p in lora.a}


def decode(tier, tables, row_adapter, group, layer, x, base):
    outputs = [b.clone() for b in base]
    plan = BgmvPlan.build([tables[i] if i >= 0 else None for i in row_adapter], "cpu")
    kernels.bgmv(outputs, x, tier.shrink[layer], tier.expand[layer], plan, group, dict(LORA_GROUPS)[group])
    return outputs


def prefill(tier, tables, segments, group, layer, x, base):
    outputs = [b.clone() for b in base]
    runs = [(s, e, tables[i]) for s, e, i in segments if i is not None]
    kernels.sgmv(outputs, x, tier.shrink[layer], tier.expand[layer], runs, group, dict(LORA_GROUPS)[group])
    return outputs


ROWS = [0, -1, 2, 1, 0, 3, -1, 4, 2, 3, 1, 4]  # -1: no adapter
SEGMENTS = [(0, 5, 0), (5, 6, None), (6, 13, 2), (13, 17, 3), (17, 20, 4), (20, 22, 1)]  # None: no adapter


@pytest.mark.parametrize("layer", range(CONFIG.num_layers))
@pytest.mark.parametrize("group,members", LORA_GROUPS)
def test_bgmv_matches_reference_with_mixed_ranks_targets_and_adapterless_rows(group, members, layer):
    tier, tables = tier_with(MIXED)
    n = len(ROWS)
    x = torch.randn(n, CONFIG.in_features(members[0]))
    base = [torch.randn(n, CONFIG.out_features(p)) for p in members]
    for out, b, p in zip(decode(tier, tables, ROWS, group, layer, x, base), base, members):
        for r, i in enumerate(ROWS):
            expected = b[r] if i < 0 else b[r] + reference_delta(MIXED[i], layer, p, x[r : r + 1])[0]
            torch.testing.assert_close(out[r], expected, rtol=1e-5, atol=1e-4)


def test_bgmv_with_no_adapter_rows_is_identity():
    tier, _ = tier_with([random_adapter(8, 1)])
    y = torch.randn(3, CONFIG.q_size)
    assert torch.equal(decode(tier, [], [-1, -1, -1], "o", 0, torch.randn(3, 48), [y])[0], y)


@pytest.mark.parametrize("group,members", LORA_GROUPS)
def test_static_plan_gathers_what_bgmv_adds_and_refills_in_place(group, members):
    """A static plan (StaticDecode's: more entries and a larger max rank than the batch uses) runs gather_bgmv,
    writing the side-by-side outputs in place; refill() puts other rows into the same index tensors."""
    tier, tables = tier_with(MIXED)
    n = len(ROWS)
    x = torch.randn(n, CONFIG.in_features(members[0]))
    base = [torch.randn(n, CONFIG.out_features(p)) for p in members]
    plan = BgmvPlan([tables[i] if i >= 0 else None for i in ROWS], "cpu", capacity=16, max_rank=48)
    for rows in (ROWS, ROWS[::-1]):
        plan.refill([tables[i] if i >= 0 else None for i in rows])
        fused = torch.cat(base, 1)
        outputs = list(fused.split([b.shape[1] for b in base], 1))  # views, as q, k, v of the fused projection
        kernels.bgmv(outputs, x, tier.shrink[1], tier.expand[1], plan, group, members)
        expected = decode(tier, tables, rows, group, 1, x, base)
        torch.testing.assert_close(fused, torch.cat(expected, 1), rtol=1e-5, atol=1e-4)
        if rows is ROWS:
            buffers = [t.data_ptr() for t in plan.indexes[group].buffers]
    assert [t.data_ptr() for t in plan.indexes[group].buffers] == buffers


@pytest.mark.parametrize("layer", range(CONFIG.num_layers))
@pytest.mark.parametrize("group,members", LORA_GROUPS)
def test_sgmv_matches_reference(group, members, layer):
    tier, tables = tier_with(MIXED)
    x = torch.randn(22, CONFIG.in_features(members[0]))
    base = [torch.randn(22, CONFIG.out_features(p)) for p in members]
    for out, b, p in zip(prefill(tier, tables, SEGMENTS, group, layer, x, base), base, members):
        expected = b.clone()
        for s, e, i in SEGMENTS:
            if i is not None:
                expected[s:e] += reference_delta(MIXED[i], layer, p, x[s:e])
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("group,members", LORA_GROUPS)
def test_outputs_are_identical_across_page_layouts(group, members):
    """The same adapters at other pages (another order, a pool fragmented by evictions) give the same bits."""
    layouts = [tier_with(MIXED, seed=7), tier_with(MIXED, seed=8, fragment=True), tier_with(MIXED[::-1], seed=9)]
    layouts[2] = (layouts[2][0], layouts[2][1][::-1])  # tables back in MIXED order
    assert layouts[0][1][2].shrink["qkv"].tolist() != layouts[1][1][2].shrink["qkv"].tolist()
    x = torch.randn(22, CONFIG.in_features(members[0]))
    base = [torch.randn(22, CONFIG.out_features(p)) for p in members]
    results = [
        (
            decode(t, tables, ROWS, group, 1, x[: len(ROWS)], [b[: len(ROWS)] for b in base]),
            prefill(t, tables, SEGMENTS, group, 1, x, base),
        )
        for t, tables in layouts
    ]
    for decoded, prefilled in results[1:]:
        for got, want in zip(decoded + prefilled, results[0][0] + results[0][1]):
            assert torch.equal(got, want)


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
    """bf16 activations: the pool uses lora_pool_dtype (float32 where embedding_bag lacks bf16, as in torch 1.13),
    x is cast to it, and each delta lands in the bf16 outputs with one rounding: within bf16's 2^-8 of the reference."""
    pool_dtype = kernels.lora_pool_dtype("cpu", torch.bfloat16)
    tier, tables = tier_with(MIXED, dtype=pool_dtype)
    rows, segments = [0, -1, 2, 2, 4], [(0, 1, 0), (2, 4, 2), (4, 5, 4)]
    x = torch.randn(len(rows), CONFIG.in_features(members[0])).bfloat16()
    base = [torch.randn(len(rows), CONFIG.out_features(p)).bfloat16() for p in members]
    decoded = decode(tier, tables, rows, group, 0, x, base)
    prefilled = prefill(tier, tables, segments, group, 0, x, base)
    for out_decode, out_prefill, b, p in zip(decoded, prefilled, base, members):
        assert out_decode.dtype == out_prefill.dtype == torch.bfloat16
        expected = b.float()
        for r, i in enumerate(rows):
            if i >= 0:
                expected[r] += reference_delta(MIXED[i], 0, p, x[r : r + 1].float())[0]
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
