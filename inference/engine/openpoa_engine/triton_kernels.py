"""The CUDA kernels in Triton (tests run them on the CPU through TRITON_INTERPRET=1): LoRA's BGMV and SGMV, like
punica's, and decode attention over the paged KV cache, like vLLM's PagedAttention.

They read adapters in place from the page pool of kernels.py (its layout: shrink pages viewed [unit, PAGE_WIDTH],
expand rows [unit]) through a kernels.LoraIndex, so nothing per adapter is gathered into new memory. A group's
members (q, k, v) run in one launch per stage: their outputs side by side are one [n, sum out_m] tensor.
Shrink writes shrunk [entries or tokens, max_blocks * PAGE_WIDTH] in fp32; expand adds shrunk . B' into the outputs,
accumulating in fp32 and rounding once into their dtype. The functions here take that side-by-side `out`;
kernels.bgmv and kernels.sgmv choose them on CUDA and keep the members-list interface; model.PagedDecodeAttention
chooses the attention.
"""

import torch
import triton
import triton.language as tl

from .kernels import PAGE_WIDTH

SHRINK_U = 256  # page rows a shrink program reads per iteration (unit is a multiple of 16: smaller units use it whole)
EXPAND_U = 128  # output columns of an expand program
BLOCK_R = 16  # ranks per expand iteration (tl.dot needs 16)
BLOCK_T = 16  # tokens per SGMV tile


@triton.jit
def _bgmv_shrink(
    x,
    x_row,
    pool,
    pages,
    blocks,
    shrunk,
    CHUNKS: tl.constexpr,
    MAX_BLOCKS: tl.constexpr,
    UNIT: tl.constexpr,
    WIDTH: tl.constexpr,
    BLOCK_U: tl.constexpr,
):
    # one page a program (batch row, column block, input chunk), summed across chunks by atomic adds: a row's
    # column block alone (one program reading every chunk in turn) would leave most of the GPU idle at decode sizes
    e, k, c = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    if k < tl.load(blocks + e):
        page = tl.load(pages + (e * MAX_BLOCKS + k) * CHUNKS + c).to(tl.int64)
        t = tl.arange(0, WIDTH)
        acc = tl.zeros([WIDTH], dtype=tl.float32)
        for u0 in range(0, UNIT, BLOCK_U):
            u = u0 + tl.arange(0, BLOCK_U)
            xs = tl.load(x + e * x_row + c * UNIT + u, mask=u < UNIT, other=0.0).to(tl.float32)
            w = tl.load(pool + (page * UNIT + u)[:, None] * WIDTH + t[None, :], mask=(u < UNIT)[:, None], other=0.0)
            acc += tl.sum(xs[:, None] * w.to(tl.float32), 0)
        tl.atomic_add(shrunk + e * MAX_BLOCKS * WIDTH + k * WIDTH + t, acc)


@triton.jit
def _bgmv_expand(
    shrunk,
    pool,
    rows,
    columns,
    ranks,
    out,
    out_row,
    CHUNKS: tl.constexpr,
    MAX_RANK: tl.constexpr,
    SHRUNK: tl.constexpr,
    UNIT: tl.constexpr,
    BLOCK_U: tl.constexpr,
    BLOCK_R: tl.constexpr,
):
    e, o, b = tl.program_id(0), tl.program_id(1), tl.program_id(2)  # batch row, out chunk, block of its columns
    rank = tl.load(ranks + e * CHUNKS + o)
    first = tl.load(columns + e * CHUNKS + o)
    u = b * BLOCK_U + tl.arange(0, BLOCK_U)
    um = u < UNIT
    acc = tl.zeros([BLOCK_U], dtype=tl.float32)
    for j0 in range(0, MAX_RANK, BLOCK_R):
        j = j0 + tl.arange(0, BLOCK_R)
        jm = j < rank  # ranks past the adapter's: no loads at all
        weight = tl.load(shrunk + e * SHRUNK + first + j, mask=jm, other=0.0)
        row = tl.load(rows + (e * CHUNKS + o) * MAX_RANK + j, mask=jm, other=0).to(tl.int64)
        w = tl.load(pool + row[:, None] * UNIT + u[None, :], mask=jm[:, None] & um[None, :], other=0.0)
        acc += tl.sum(weight[:, None] * w.to(tl.float32), 0)
    target = out + e * out_row + o * UNIT + u
    om = um & (rank > 0)  # rows and members without an adapter: untouched
    tl.store(target, (tl.load(target, mask=om, other=0.0).to(tl.float32) + acc).to(out.dtype.element_ty), mask=om)


@triton.jit
def _sgmv_shrink(
    x,
    x_row,
    pool,
    pages,
    blocks,
    bounds,
    shrunk,
    CHUNKS: tl.constexpr,
    MAX_BLOCKS: tl.constexpr,
    UNIT: tl.constexpr,
    WIDTH: tl.constexpr,
    BLOCK_U: tl.constexpr,
    BLOCK_T: tl.constexpr,
):
    e, k, m = tl.program_id(0), tl.program_id(1), tl.program_id(2)  # segment, column block, token tile
    start, end = tl.load(bounds + 2 * e), tl.load(bounds + 2 * e + 1)
    tokens = (start + m * BLOCK_T + tl.arange(0, BLOCK_T)).to(tl.int64)
    active = (k < tl.load(blocks + e)) & (start + m * BLOCK_T < end)
    tm = active & (tokens < end)
    t = tl.arange(0, WIDTH)
    acc = tl.zeros([BLOCK_T, WIDTH], dtype=tl.float32)
    for c in range(CHUNKS):
        page = tl.load(pages + (e * MAX_BLOCKS + k) * CHUNKS + c).to(tl.int64)
        for u0 in range(0, UNIT, BLOCK_U):
            u = u0 + tl.arange(0, BLOCK_U)
            um = u < UNIT
            xs = tl.load(x + tokens[:, None] * x_row + c * UNIT + u[None, :], mask=tm[:, None] & um[None, :], other=0.0)
            w = tl.load(pool + (page * UNIT + u)[:, None] * WIDTH + t[None, :], mask=active & um[:, None], other=0.0)
            acc += tl.dot(xs.to(w.dtype), w, input_precision="ieee")
    tl.store(shrunk + tokens[:, None] * (MAX_BLOCKS * WIDTH) + k * WIDTH + t[None, :], acc, mask=tm[:, None])


@triton.jit
def _sgmv_expand(
    shrunk,
    pool,
    rows,
    columns,
    ranks,
    bounds,
    out,
    out_row,
    CHUNKS: tl.constexpr,
    MAX_RANK: tl.constexpr,
    SHRUNK: tl.constexpr,
    UNIT: tl.constexpr,
    BLOCK_U: tl.constexpr,
    BLOCK_R: tl.constexpr,
    BLOCK_T: tl.constexpr,
):
    e, ob, m = tl.program_id(0), tl.program_id(1), tl.program_id(2)  # segment, (out chunk, column block), token tile
    o, b = ob // tl.cdiv(UNIT, BLOCK_U), ob % tl.cdiv(UNIT, BLOCK_U)
    start, end = tl.load(bounds + 2 * e), tl.load(bounds + 2 * e + 1)
    rank = tl.load(ranks + e * CHUNKS + o)
    first = tl.load(columns + e * CHUNKS + o)
    tokens = (start + m * BLOCK_T + tl.arange(0, BLOCK_T)).to(tl.int64)
    tm = (tokens < end) & (rank > 0)
    u = b * BLOCK_U + tl.arange(0, BLOCK_U)
    um = u < UNIT
    acc = tl.zeros([BLOCK_T, BLOCK_U], dtype=tl.float32)
    for j0 in range(0, MAX_RANK, BLOCK_R):
        j = j0 + tl.arange(0, BLOCK_R)
        jm = j < rank
        weight = tl.load(
            shrunk + tokens[:, None] * SHRUNK + first + j[None, :], mask=tm[:, None] & jm[None, :], other=0.0
        )
        row = tl.load(rows + (e * CHUNKS + o) * MAX_RANK + j, mask=jm, other=0).to(tl.int64)
        w = tl.load(pool + row[:, None] * UNIT + u[None, :], mask=jm[:, None] & um[None, :], other=0.0)
        acc += tl.dot(weight.to(w.dtype), w, input_precision="ieee")
    target = out + tokens[:, None] * out_row + o * UNIT + u[None, :]
    om = tm[:, None] & um[None, :]
    tl.store(target, (tl.load(target, mask=om, other=0.0).to(tl.float32) + acc).to(out.dtype.element_ty), mask=om)


def _shapes(index, unit):
    max_blocks, chunks = index.shrink_pages.shape[1:]
    return dict(CHUNKS=chunks, MAX_BLOCKS=max_blocks, UNIT=unit, WIDTH=PAGE_WIDTH, BLOCK_U=min(SHRINK_U, unit))


def bgmv(out, x, shrink_rows, expand_rows, index):
    """Semantics: for every row r < n whose index entry r has rank > 0 on out chunk o (member m, chunk c):
        out[r, o * unit : (o + 1) * unit] += sum_j shrunk[r, column(m) + j] * expand_rows[expand row (m, c, j)]
    with shrunk[r, k * PAGE_WIDTH + t] = sum_h x[r, h] * shrink_rows[page(r, k, h // unit) * unit + h % unit, t],
    i.e. kernels.bgmv's x . A^T . B'^T, read in place. out [n, sum out_m] (the members' outputs side by side);
    x [n, in]; shrink_rows, expand_rows: one layer's pool views; index: kernels.LoraIndex with entries for rows.
    fp32 accumulation, one rounding into out's dtype; out columns of rows without that member are not written."""
    n, unit = x.shape[0], expand_rows.shape[1]
    shapes = _shapes(index, unit)
    shrunk = torch.zeros(n, shapes["MAX_BLOCKS"] * PAGE_WIDTH, dtype=torch.float32, device=x.device)
    _bgmv_shrink[(n, shapes["MAX_BLOCKS"], shapes["CHUNKS"])](
        x, x.stride(0), shrink_rows, index.shrink_pages, index.shrink_blocks, shrunk, **shapes
    )
    out_chunks, block_u = index.expand_ranks.shape[1], min(EXPAND_U, unit)
    _bgmv_expand[(n, out_chunks, triton.cdiv(unit, block_u))](
        shrunk,
        expand_rows,
        index.expand_rows,
        index.expand_columns,
        index.expand_ranks,
        out,
        out.stride(0),
        CHUNKS=out_chunks,
        MAX_RANK=index.max_rank,
        SHRUNK=shrunk.shape[1],
        UNIT=unit,
        BLOCK_U=block_u,
        BLOCK_R=BLOCK_R,
    )


def sgmv(out, x, shrink_rows, expand_rows, index, bounds, longest):
    """Semantics: bgmv's, for every token row s in [start_e, end_e) of segment e, with segment e's index entry
    (its adapter) in place of a row's: out[start:end] += x[start:end] . A_e^T . B'_e^T. Tiles of BLOCK_T tokens use
    tl.dot (tensor cores). out [T, sum out_m]; x [T, in]; index: kernels.LoraIndex with one entry per segment;
    bounds [S, 2] int32 (start, end) of each segment; longest: the largest end - start (sizes the grid)."""
    unit, tiles = expand_rows.shape[1], triton.cdiv(longest, BLOCK_T)
    segments = bounds.shape[0]
    shapes = _shapes(index, unit)
    shrunk = torch.zeros(x.shape[0], shapes["MAX_BLOCKS"] * PAGE_WIDTH, dtype=torch.float32, device=x.device)
    _sgmv_shrink[(segments, shapes["MAX_BLOCKS"], tiles)](
        x, x.stride(0), shrink_rows, index.shrink_pages, index.shrink_blocks, bounds, shrunk, BLOCK_T=BLOCK_T, **shapes
    )
    out_chunks, block_u = index.expand_ranks.shape[1], min(EXPAND_U, unit)
    _sgmv_expand[(segments, out_chunks * triton.cdiv(unit, block_u), tiles)](
        shrunk,
        expand_rows,
        index.expand_rows,
        index.expand_columns,
        index.expand_ranks,
        bounds,
        out,
        out.stride(0),
        CHUNKS=out_chunks,
        MAX_RANK=index.max_rank,
        SHRUNK=shrunk.shape[1],
        UNIT=unit,
        BLOCK_U=block_u,
        BLOCK_R=BLOCK_R,
        BLOCK_T=BLOCK_T,
    )


@triton.jit
def _paged_decode_attention(
    q,
    k_pool,
    v_pool,
    tables,
    positions,
    out,
    scale,
    WIDTH: tl.constexpr,
    BLOCK_SIZE: tl.constexpr,
    KV_HEADS: tl.constexpr,
    GROUP: tl.constexpr,
    GROUP_PAD: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    b, h = tl.program_id(0), tl.program_id(1)  # sequence, kv head (its GROUP query heads together)
    length = tl.load(positions + b) + 1
    g, d = tl.arange(0, GROUP_PAD), tl.arange(0, HEAD_DIM)
    heads = h * GROUP + g
    qs = tl.load(
        q + (b * KV_HEADS * GROUP + heads)[:, None] * HEAD_DIM + d[None, :], mask=(g < GROUP)[:, None], other=0.0
    )
    m = tl.full([GROUP_PAD], float("-inf"), dtype=tl.float32)
    total = tl.zeros([GROUP_PAD], dtype=tl.float32)
    acc = tl.zeros([GROUP_PAD, HEAD_DIM], dtype=tl.float32)
    for start in range(0, length, BLOCK_N):  # only the blocks the sequence has written
        n = start + tl.arange(0, BLOCK_N)
        valid = n < length
        block = tl.load(tables + b * WIDTH + n // BLOCK_SIZE, mask=valid, other=0).to(tl.int64)
        rows = ((block * BLOCK_SIZE + n % BLOCK_SIZE) * KV_HEADS + h) * HEAD_DIM
        k = tl.load(k_pool + rows[:, None] + d[None, :], mask=valid[:, None], other=0.0)
        scores = tl.dot(qs, tl.trans(k), input_precision="ieee") * scale  # [GROUP_PAD, BLOCK_N]
        scores = tl.where(valid[None, :], scores, float("-inf"))
        m_new = tl.maximum(m, tl.max(scores, 1))
        p = tl.exp(scores - m_new[:, None])
        correction = tl.exp(m - m_new)
        v = tl.load(v_pool + rows[:, None] + d[None, :], mask=valid[:, None], other=0.0)
        acc = acc * correction[:, None] + tl.dot(p.to(v.dtype), v, input_precision="ieee")
        total = total * correction + tl.sum(p, 1)
        m = m_new
    result = acc / total[:, None]
    tl.store(
        out + (b * KV_HEADS * GROUP + heads)[:, None] * HEAD_DIM + d[None, :],
        result.to(out.dtype.element_ty),
        mask=(g < GROUP)[:, None],
    )


def paged_decode_attention(q, k_pool, v_pool, block_tables, positions):
    """Semantics: kernels.paged_decode_attention(q, k_pool, v_pool, slots, mask) with slots the rows of block_tables
    (kernels.block_slots) and mask hiding the keys past each sequence's position; but reading, per sequence, only
    the blocks up to its position (nothing gathered). Online softmax in fp32 (as flash-decoding).
    q [n, heads, D] (D a power of two, >= 16); k_pool, v_pool [blocks, block_size, kv_heads, D]; block_tables [n, W];
    positions [n]: key positions 0..positions[b] are attended. Returns [n, heads * D] in q's dtype."""
    n, heads, dim = q.shape
    _, block_size, kv_heads, _ = k_pool.shape
    group = heads // kv_heads
    out = torch.empty(n, heads * dim, dtype=q.dtype, device=q.device)
    _paged_decode_attention[(n, kv_heads)](
        q.contiguous(),
        k_pool,
        v_pool,
        block_tables,
        positions,
        out,
        dim**-0.5,
        WIDTH=block_tables.shape[1],
        BLOCK_SIZE=block_size,
        KV_HEADS=kv_heads,
        GROUP=group,
        GROUP_PAD=max(16, triton.next_power_of_2(group)),
        HEAD_DIM=dim,
        BLOCK_N=64,
    )
    return out
