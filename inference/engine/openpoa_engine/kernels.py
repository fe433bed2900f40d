"""Compute kernels, plain PyTorch (CPU, and CUDA through the same ops).

Every kernel states its semantics; tests compare each against a plain fp32 reference. LoRA backends, chosen here so
callers keep one interface: on the CPU, bgmv by F.embedding_bag and sgmv by per-segment GEMMs; on CUDA, the Triton
kernels of triton_kernels.py where Triton imports, else gather_bgmv (gather + bmm) and the same sgmv. Both CUDA ones
read a LoraIndex, whose fixed shapes also serve a static BgmvPlan (static_decode.py, CUDA graphs).

LoRA layout (paged, like S-LoRA's unified pages): one pool of equal pages serves every projection,
    pool [layers, num_pages, unit * PAGE_WIDTH]     (unit: ModelConfig.lora_unit, which divides every in and out size)
and a page sits at the same number in every layer. An adapter of rank r takes pages of two kinds (PageTable lists them):
  shrink pages, per group g of projections sharing an input (config.LORA_GROUPS) and chunk c of its input, viewed
      [unit, PAGE_WIDTH]: page (g, column block k, chunk c) [u, t] = A_m[j, c * unit + u] for column k * PAGE_WIDTH + t
      of the group's columns, which are the ranks j of each member m the adapter targets, member after member (zeros
      past the last);
  expand pages, viewed [PAGE_WIDTH, unit]: the adapter's expand rows B_m[c * unit : (c + 1) * unit, j] * scale for
      every targeted m, output chunk c and rank j, in that order, PAGE_WIDTH rows a page (rows past the last are
      never read).
(A = PEFT lora_A [r, in], B = lora_B [out, r].) So an adapter takes pages in proportion to its rank and targets, and
any free page fits any of them. Kernels see one layer's pool through two views of the same memory: shrink rows
[num_pages * unit, PAGE_WIDTH] and expand rows [num_pages * PAGE_WIDTH, unit]. PAGE_WIDTH is 16 because torch's CPU
F.embedding_bag sums 16-wide rows ~4x faster per value than 8-wide ones.
The pools hold the model's dtype, except where BGMV's F.embedding_bag lacks it (bfloat16 on CPU in torch 1.13): there
they hold float32 (lora_pool_dtype), and the LoRA kernels compute in float32 and add into the bf16 outputs.

KV layout (paged, like vLLM): per layer, pools [blocks, block_size, kv_heads, head_dim] of keys and of values; a block
table lists a sequence's blocks in order, and block_slots turns it into pool rows (the pool viewed as
[blocks * block_size, kv_heads, head_dim]).
"""

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F

PAGE_WIDTH = 16  # columns of a shrink page, rows of an expand page
_sdpa = getattr(F, "scaled_dot_product_attention", None)  # torch >= 2.0
_supported = {}  # (op, device type, dtype) -> bool


def _works(op, device, dtype):
    key = (op, torch.device(device).type, dtype)
    if key not in _supported:
        one = torch.ones(1, 1, dtype=dtype, device=device)
        try:
            if op == "embedding_bag":
                index = torch.zeros(1, 1, dtype=torch.long, device=device)
                F.embedding_bag(index, one, mode="sum", per_sample_weights=one)
            else:
                one @ one
            _supported[key] = True
        except RuntimeError:  # "... not implemented for 'Half'", "Expected ... Half, Float, Double; but got ..."
            _supported[key] = False
    return _supported[key]


def check_dtype(device, dtype):
    """Refuse, at start, a model dtype whose matrix products this torch does not implement on the device
    (float16 on CPU in torch 1.13)."""
    if not _works("matmul", device, dtype):
        raise ValueError(
            f"{str(dtype).replace('torch.', '')} matrix products are not implemented on {torch.device(device).type} "
            f"by torch {torch.__version__}: use float32 or bfloat16"
        )


def lora_pool_dtype(device, dtype):
    """dtype of the LoRA page pools for a model of `dtype`: the same, or float32 where F.embedding_bag (BGMV) does
    not take `dtype` on this device (bfloat16 on CPU in torch 1.13)."""
    return dtype if _works("embedding_bag", device, dtype) else torch.float32


def rms_norm(x, weight, eps):
    """Semantics: x / sqrt(mean(x^2, -1) + eps) * weight, computed in fp32, returned in x's dtype."""
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * weight


def rope_tables(head_dim, max_positions, theta, scaling=None):
    """cos, sin: [max_positions, head_dim] for Hugging Face's rotate-half convention."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    kind = (scaling or {}).get("rope_type", (scaling or {}).get("type", "default"))
    if kind == "linear":
        inv_freq = inv_freq / scaling["factor"]
    elif kind == "llama3":  # Llama 3.1: long wavelengths divided by factor, a smooth ramp between
        factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
        old_len = scaling["original_max_position_embeddings"]
        wavelen = 2 * torch.pi / inv_freq
        scaled = torch.where(wavelen > old_len / low, inv_freq / factor, inv_freq)
        smooth = (old_len / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= old_len / high) & (wavelen <= old_len / low)
        inv_freq = torch.where(medium, smoothed, scaled)
    elif kind != "default":
        raise ValueError(f"rope_scaling type {kind!r} is not supported")
    freqs = torch.outer(torch.arange(max_positions, dtype=torch.float64), inv_freq)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos().float(), emb.sin().float()


def apply_rope(x, cos, sin):
    """Semantics: x * cos + rotate_half(x) * sin with rotate_half(x) = cat(-x2, x1).
    x [tokens, heads, head_dim]; cos, sin [tokens, head_dim] (already gathered at the tokens' positions)."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos[:, None, :] + rotated * sin[:, None, :]


def decode_attention(q, k_cache, v_cache, length_mask):
    """One query per sequence against its cached keys, grouped-query.
    Semantics: out[b, h] = softmax(q[b, h] . K[b, h // G, :L]^T / sqrt(D) + mask[b]) . V[b, h // G, :L]
    q [n, heads, D]; k_cache, v_cache [n, kv_heads, L, D] (views of the preallocated cache);
    length_mask [n, 1, 1, L]: 0 where a position is valid, -inf past the sequence's length. Returns [n, heads * D]."""
    n, heads, d = q.shape
    kv_heads = k_cache.shape[1]
    qg = q.view(n, kv_heads, heads // kv_heads, d)
    scores = torch.matmul(qg, k_cache.transpose(-1, -2)) * d**-0.5 + length_mask  # [n, kv_heads, G, L]
    probs = torch.softmax(scores.float(), dim=-1).to(q.dtype)
    return torch.matmul(probs, v_cache).reshape(n, heads * d)


def prefill_attention(q, k, v):
    """Causal self-attention of a sequence's last T positions over its first S >= T, grouped-query.
    Semantics: out[t, h] = softmax_{s <= S - T + t}(q[t, h] . k[s, h // G] / sqrt(D)) . v[s, h // G]
    q [T, heads, D] (query t sits at position S - T + t); k, v [S, kv_heads, D]. Returns [T, heads * D]."""
    t, heads, d = q.shape
    s, kv_heads = k.shape[:2]
    group = heads // kv_heads
    if _sdpa is not None and s == t:  # (its is_causal aligns the mask top-left, which would be wrong for S > T)
        out = _sdpa(
            q.transpose(0, 1)[None],
            k.repeat_interleave(group, 1).transpose(0, 1)[None],
            v.repeat_interleave(group, 1).transpose(0, 1)[None],
            is_causal=True,
        )
        return out[0].transpose(0, 1).reshape(t, heads * d)
    qg = q.view(t, kv_heads, group, d).permute(1, 2, 0, 3)  # [kv_heads, G, T, D]
    kt = k.permute(1, 0, 2)[:, None]  # [kv_heads, 1, S, D]
    vt = v.permute(1, 0, 2)[:, None]
    causal = torch.full((t, s), float("-inf"), dtype=q.dtype, device=q.device).triu(s - t + 1)
    scores = torch.matmul(qg, kt.transpose(-1, -2)) * d**-0.5 + causal
    probs = torch.softmax(scores.float(), dim=-1).to(q.dtype)
    return torch.matmul(probs, vt).permute(2, 0, 1, 3).reshape(t, heads * d)


def block_slots(block_tables, block_size):
    """Pool rows of a sequence's tokens in order: block_tables [..., W] -> [..., W * block_size], where
    token i of a sequence lives in row block_tables[i // block_size] * block_size + i % block_size."""
    offsets = torch.arange(block_size, device=block_tables.device)
    return (block_tables[..., None] * block_size + offsets).flatten(-2)


def paged_decode_attention(q, k_pool, v_pool, slots, length_mask):
    """decode_attention over keys and values gathered from the block pools by pool row (PagedAttention in plain torch).
    Semantics: decode_attention(q, K, V, length_mask) with K[b, :, s] = k_pool.view(-1, kv_heads, D)[slots[b, s]], V
    alike. q [n, heads, D]; k_pool, v_pool [blocks, block_size, kv_heads, D] (one layer); slots [n, L]: the first L
    columns of block_slots(block tables), rows past a sequence's length any valid row (length_mask [n, 1, 1, L] hides
    them). Returns [n, heads * D]."""
    n, length = slots.shape
    kv_heads, d = k_pool.shape[2:]
    keys = k_pool.view(-1, kv_heads, d).index_select(0, slots.reshape(-1)).view(n, length, kv_heads, d)
    values = v_pool.view(-1, kv_heads, d).index_select(0, slots.reshape(-1)).view(n, length, kv_heads, d)
    return decode_attention(q, keys.transpose(1, 2), values.transpose(1, 2), length_mask)


def paged_prefill_attention(q, k_pool, v_pool, block_table, start):
    """A chunk of one sequence's prompt, at positions start..start+T-1, against all it has cached (chunk included).
    Semantics: prefill_attention(q, K[:start + T], V[:start + T]) with K = concatenation of k_pool[block_table[i]].
    q [T, heads, D]; k_pool, v_pool as in paged_decode_attention; block_table [W] long, W * block_size >= start + T."""
    _, block_size, kv_heads, d = k_pool.shape
    slots = block_slots(block_table, block_size)[: start + q.shape[0]]
    keys = k_pool.view(-1, kv_heads, d).index_select(0, slots)
    return prefill_attention(q, keys, v_pool.view(-1, kv_heads, d).index_select(0, slots))


def shrink_pages(a, unit):
    """One group's shrink pages: a, list of [layers, r, in] (lora_A of each targeted member)
    -> [layers, column blocks * in / unit, unit * PAGE_WIDTH], column block after column block."""
    layers, rank, features = a[0].shape
    blocks = -(-rank * len(a) // PAGE_WIDTH)
    if rank * len(a) == blocks * PAGE_WIDTH:  # no zero columns: no copy before the one below
        columns = a[0] if len(a) == 1 else torch.cat(a, 1)
    else:
        columns = torch.zeros(layers, blocks * PAGE_WIDTH, features, dtype=a[0].dtype, device=a[0].device)
        for i, member in enumerate(a):
            columns[:, i * rank : (i + 1) * rank] = member
    columns = columns.view(layers, blocks, PAGE_WIDTH, features // unit, unit)  # [l, k, t, c, u]
    return columns.permute(0, 1, 3, 4, 2).reshape(layers, -1, unit * PAGE_WIDTH)


def expand_rows(b, unit):
    """An adapter's expand rows: b, list of [layers, r, out_m] ((lora_B * scale)^T of each targeted member)
    -> [layers, sum over m of out_m / unit * r, unit], in the order of the layout above."""
    layers, rank, _ = b[0].shape
    return torch.cat([t.view(layers, rank, -1, unit).transpose(1, 2) for t in b], 1).view(layers, -1, unit)


@dataclass
class PageTable:
    """Where a resident adapter's pages are in the pool (layout above)."""

    unit: int
    rank: int
    shrink: dict  # group -> LongTensor [column blocks, in / unit] shrink pages
    columns: dict  # projection -> its first column in its group's columns (targeted projections only)
    expand: dict  # projection -> LongTensor [out / unit, rank] expand row (page * PAGE_WIDTH + row) of each (c, j)
    host_shrink: dict  # shrink and expand on the host, where LoraIndex.fill reads them (no device sync)
    host_expand: dict

    def __post_init__(self):
        # what a BGMV plan reads per row, computed once: per group its column blocks; per projection its chunks,
        # its expand rows flat [out / unit * rank], and the shrink column that weighs each of them
        self.blocks = {g: pages.shape[0] for g, pages in self.shrink.items()}
        self.bags = {
            p: (e.shape[0], e.reshape(-1), _bag_columns(self.rank, self.columns[p], e.shape[0], e.device))
            for p, e in self.expand.items()
        }


@functools.lru_cache(maxsize=1024)
def _bag_columns(rank, first, chunks, device):
    """[chunks * rank] the shrink column of each expand row of a projection whose columns start at first (shared by
    the page tables of adapters of one shape: never written)."""
    return (torch.arange(rank, device=device) + first).repeat(chunks)


class _GroupPlan:
    """BGMV indices for one group (projections sharing an input) over a batch; see bgmv."""

    def __init__(self, tables, group, members, in_features, device):
        unit = next(t.unit for t in tables if t)
        bag_pages, bag_row, bag_start, bags = [], [], {}, 0
        for r, t in enumerate(tables):
            if t and group in t.shrink:
                bag_start[r] = bags
                bags += t.blocks[group]
                bag_pages.append(t.shrink[group])
                bag_row += [r] * t.blocks[group]
        self.empty = not bags
        if self.empty:
            return
        pages = torch.cat(bag_pages)  # [bags, in / unit]
        self.shrink_index = (pages[:, :, None] * unit + torch.arange(unit, device=device)).reshape(bags, in_features)
        self.bag_row = torch.tensor(bag_row, device=device)  # [bags] batch row of each shrink bag
        index, weight, shift, lengths, sizes, self.spans = [], [], [], [], [], []
        for m in members:
            chunks = next((t.bags[m][0] for t in tables if t and m in t.bags), 0)  # out_m / unit
            if not chunks:
                self.spans.append(None)  # no row's adapter targets m: its output is left alone
                continue
            self.spans.append((len(sizes), len(tables) * chunks))
            for r, t in enumerate(tables):
                if not t or m not in t.bags:
                    sizes += [0] * chunks  # empty bags add zeros
                    continue
                _, rows, weights = t.bags[m]
                index.append(rows)
                weight.append(weights)
                shift.append(bag_start[r] * PAGE_WIDTH)
                lengths.append(chunks * t.rank)
                sizes += [t.rank] * chunks
        self.expand_index = torch.cat(index)  # [E] expand-pool row of each (row, chunk, rank)
        shift = torch.tensor(shift, device=device).repeat_interleave(torch.tensor(lengths, device=device))
        self.weight_index = torch.cat(weight) + shift  # [E] its weight's position in the flattened shrink output
        self.expand_offsets = torch.tensor([0] + sizes[:-1], device=device).cumsum(0)  # [bags] start of each


class LoraIndex:
    """One group's page indices per entry (a batch row for BGMV, a segment for SGMV) at fixed shapes, read by the
    CUDA kernels (triton_kernels, gather_bgmv). fill() rewrites them in place, so a captured CUDA graph sees new rows.
    Semantics, for entry e whose adapter has PageTable t (no adapter, or e past the tables: every count 0), with the
    group's outputs side by side cut into out chunks o of `unit` columns (member m, its chunk c):
        shrink_pages [E, max_blocks, in / unit] = t.shrink[group]     shrink_blocks [E] = its column blocks
        expand_rows [E, out chunks, max_rank] = t.expand[m][c]         expand_columns [E, out chunks] = t.columns[m]
        expand_ranks [E, out chunks] = t.rank where t targets m, else 0
    int32, padded with 0: kernels mask by the counts and never read padding (the page-0 it names is any adapter's)."""

    def __init__(self, capacity, group, members, in_chunks, out_chunks, max_rank, device):
        self.group, self.members, self.out_chunks, self.max_rank = group, members, out_chunks, max_rank
        blocks, chunks, i32 = -(-max_rank * len(members) // PAGE_WIDTH), sum(out_chunks), torch.int32
        self.shrink_pages = torch.zeros(capacity, blocks, in_chunks, dtype=i32, device=device)
        self.shrink_blocks = torch.zeros(capacity, dtype=i32, device=device)
        self.expand_rows = torch.zeros(capacity, chunks, max_rank, dtype=i32, device=device)
        self.expand_columns = torch.zeros(capacity, chunks, dtype=i32, device=device)
        self.expand_ranks = torch.zeros(capacity, chunks, dtype=i32, device=device)

    @property
    def buffers(self):
        return self.shrink_pages, self.shrink_blocks, self.expand_rows, self.expand_columns, self.expand_ranks

    def fill(self, tables):
        """Entries from per-entry PageTables (None: no adapter); built on the host, one copy per buffer."""
        host = [torch.zeros(b.shape, dtype=b.dtype) for b in self.buffers]
        pages, blocks, rows, columns, ranks = host
        for e, t in enumerate(tables):
            if not t or self.group not in t.shrink:
                continue
            if t.rank > self.max_rank:
                raise ValueError(f"adapter rank {t.rank} exceeds this index's max_rank {self.max_rank}")
            shrink = t.host_shrink[self.group]
            pages[e, : shrink.shape[0]] = shrink
            blocks[e] = shrink.shape[0]
            o = 0
            for m, chunks in zip(self.members, self.out_chunks):
                if m in t.expand:
                    rows[e, o : o + chunks, : t.rank] = t.host_expand[m]
                    columns[e, o : o + chunks] = t.columns[m]
                    ranks[e, o : o + chunks] = t.rank
                o += chunks
        for buffer, values in zip(self.buffers, host):
            buffer.copy_(values)


class BgmvPlan:
    """Per-step BGMV indices, built for each group on first use and shared by all layers: for the CPU kernel
    (_GroupPlan) or, on CUDA, a LoraIndex. A static plan (capacity set: StaticDecode) keeps its LoraIndex tensors
    for good and refill() rewrites them in place; it is never empty, so a captured graph always holds the LoRA work."""

    def __init__(self, tables, device, capacity=None, max_rank=None):
        self.tables, self.device, self.groups, self.indexes = list(tables), torch.device(device), {}, {}
        self.capacity, self.max_rank = capacity, max_rank

    @classmethod
    def build(cls, row_tables, device):
        """row_tables: per batch row, its adapter's PageTable (None = no adapter)."""
        return cls(list(row_tables), device)

    @property
    def empty(self):
        return self.capacity is None and not any(self.tables)

    @property
    def uses_index(self):
        return self.capacity is not None or self.device.type == "cuda"

    def group(self, group, members, in_features):
        if group not in self.groups:
            self.groups[group] = _GroupPlan(self.tables, group, members, in_features, self.device)
        return self.groups[group]

    def index(self, group, members, in_features, out_features, unit):
        if group not in self.indexes:
            rank = self.max_rank or max(t.rank for t in self.tables if t)
            chunks = [n // unit for n in out_features]
            index = LoraIndex(
                self.capacity or len(self.tables), group, members, in_features // unit, chunks, rank, self.device
            )
            index.fill(self.tables)
            self.indexes[group] = index
        return self.indexes[group]

    def refill(self, tables):
        """New rows for a static plan, written into the same index tensors."""
        self.tables, self.groups = list(tables), {}
        for index in self.indexes.values():
            index.fill(self.tables)


use_triton = True  # on CUDA, the Triton kernels when Triton imports; False measures the gather + bmm fallback
_triton_kernels = None


def _triton():
    """The triton_kernels module, imported on first CUDA use (None without Triton): the CPU never needs it."""
    global _triton_kernels
    if _triton_kernels is None:
        try:
            from . import triton_kernels as module
        except ImportError:
            module = False
        _triton_kernels = module
    return _triton_kernels if use_triton else None


def fast_kernels(x):
    """The Triton kernels for x's device, or None: CUDA only (elsewhere Triton runs only in its interpreter)."""
    return _triton() if x.is_cuda else None


def _side_by_side(outputs, apply):
    """apply(out) on the members' outputs as one [n, sum of widths] tensor: a view where they are adjacent column
    ranges of one buffer (q, k, v split from the fused projection), else a copy written back."""
    first, at, adjacent = outputs[0], 0, outputs[0].stride(1) == 1
    for o in outputs:
        adjacent = adjacent and o.stride() == first.stride() and o.data_ptr() == first.data_ptr() + at
        at += o.shape[1] * o.element_size()
    width = sum(o.shape[1] for o in outputs)
    if adjacent:
        apply(first.as_strided((first.shape[0], width), first.stride()))
        return
    out = torch.cat(outputs, 1)
    apply(out)
    for o, part in zip(outputs, out.split([o.shape[1] for o in outputs], 1)):
        o.copy_(part)


def gather_bgmv(out, x, shrink_rows, expand_rows, index):
    """BGMV by gathering each row's pages and batched matmuls: the CUDA fallback without Triton (it materialises the
    gathered adapters, which costs more than reading them in place).
    Semantics: bgmv's, for rows 0..n-1 of index, into out [n, sum out_m] (the members' outputs side by side)."""
    n, unit = x.shape[0], expand_rows.shape[1]
    pages = index.shrink_pages[:n].long()  # [n, blocks, chunks]
    a = shrink_rows.view(-1, unit, PAGE_WIDTH)[pages]  # [n, blocks, chunks, unit, PAGE_WIDTH]
    shrunk = torch.einsum("ncu,nkcut->nkt", x.view(n, -1, unit).to(a.dtype), a)
    blocks = torch.arange(pages.shape[1], device=x.device)
    shrunk = torch.where((blocks < index.shrink_blocks[:n, None])[..., None], shrunk, 0).reshape(n, -1)
    ranks = torch.arange(index.max_rank, device=x.device)
    valid = ranks < index.expand_ranks[:n, :, None]  # [n, out chunks, max_rank]
    columns = (index.expand_columns[:n, :, None] + ranks).clamp(max=shrunk.shape[1] - 1).long()
    weights = torch.where(valid, shrunk.gather(1, columns.view(n, -1)).view(valid.shape), 0)
    b = torch.where(valid[..., None], expand_rows[index.expand_rows[:n].long()], 0)  # padding may be NaN in tests
    out += torch.einsum("nor,noru->nou", weights, b).reshape(n, -1)


def bgmv(outputs, x, shrink_rows, expand_rows, plan, group, members):
    """Batched gather LoRA for decode, one group of members (projections that share the input x).
    Semantics, for every row r whose adapter a targets member m (other rows and members are left unchanged):
        outputs[m][r] += (x[r] . A_{a,m}^T) . B_{a,m}^T * scale_a
    read in place from the page pool (nothing per adapter is materialised), as two weighted row sums:
    shrink bag (r, column block k) sums x[r, h] * shrink_rows[page(k, h // unit) * unit + h % unit] over h;
    expand bag (r, m, chunk c) sums shrunk[r, column of (m, j)] * expand_rows[expand row of (m, c, j)] over ranks j.
    outputs: list of [n, out_m] (views allowed); x [n, in]; shrink_rows [pages * unit, PAGE_WIDTH] and
    expand_rows [pages * PAGE_WIDTH, unit]: one layer's pool; plan: BgmvPlan for these rows; group, members: names.
    Computed in the pool's dtype (x is cast to it); each delta is added into outputs in their own dtype.
    On CUDA, or with a static plan: Triton's bgmv (fp32 accumulation) where it imports, else gather_bgmv."""
    if plan.empty:
        return
    if plan.uses_index:
        unit = expand_rows.shape[1]
        index = plan.index(group, members, x.shape[1], [o.shape[1] for o in outputs], unit)
        fast = fast_kernels(x)
        kernel = fast.bgmv if fast else gather_bgmv
        _side_by_side(outputs, lambda out: kernel(out, x, shrink_rows, expand_rows, index))
        return
    g = plan.group(group, members, x.shape[1])
    if g.empty:
        return
    shrunk = F.embedding_bag(  # [bags, PAGE_WIDTH]
        g.shrink_index, shrink_rows, mode="sum", per_sample_weights=x.index_select(0, g.bag_row).to(shrink_rows.dtype)
    )
    delta = F.embedding_bag(  # [(member,) row, chunk, unit]
        g.expand_index,
        expand_rows,
        g.expand_offsets,
        mode="sum",
        per_sample_weights=shrunk.reshape(-1).index_select(0, g.weight_index),
    )
    for out, span in zip(outputs, g.spans):
        if span is not None:  # a float32 delta into bf16 outputs: one rounding, in the in-place add
            out += delta[span[0] : span[0] + span[1]].view(out.shape[0], -1)


def sgmv(outputs, x, shrink_rows, expand_rows, segments, group, members):
    """Segmented LoRA for prefill: rows come in contiguous segments that share one adapter.
    Semantics, for each segment (start, end, table) and member m its adapter targets:
        outputs[m][start:end] += (x[start:end] . A_m^T) . B_m^T * scale     (the adapter whose pages table lists)
    outputs, x, pools, group, members as in bgmv; segments: list of (start, end, PageTable); dtypes as in bgmv.
    Each segment gathers its adapter's A^T [in, columns] and each B'_m [r, out_m] once, for GEMMs.
    On CUDA where Triton imports: Triton's sgmv, reading the pages in place (fp32 accumulation)."""
    unit = expand_rows.shape[1]
    fast = fast_kernels(x) if segments else None
    if fast:
        # built per call (each layer and group): a prefill's few hundred small copies, against its long GEMMs
        index = LoraIndex(
            len(segments),
            group,
            members,
            x.shape[1] // unit,
            [o.shape[1] // unit for o in outputs],
            max(t.rank for _, _, t in segments),
            x.device,
        )
        index.fill([t for _, _, t in segments])
        bounds = torch.tensor([(s, e) for s, e, _ in segments], dtype=torch.int32, device=x.device)  # [S, 2]
        longest = max(e - s for s, e, _ in segments)
        _side_by_side(outputs, lambda out: fast.sgmv(out, x, shrink_rows, expand_rows, index, bounds, longest))
        return
    pages = shrink_rows.view(-1, unit, PAGE_WIDTH)
    for start, end, table in segments:
        if group not in table.shrink:
            continue
        blocks, chunks = table.shrink[group].shape
        a_t = pages.index_select(0, table.shrink[group].reshape(-1)).view(blocks, chunks * unit, PAGE_WIDTH)
        shrunk = x[start:end].to(shrink_rows.dtype) @ a_t.permute(1, 0, 2).reshape(chunks * unit, -1)
        for out, m in zip(outputs, members):
            if m in table.expand:
                b = expand_rows.index_select(0, table.expand[m].reshape(-1)).view(-1, table.rank, unit)
                columns = shrunk[:, table.columns[m] : table.columns[m] + table.rank]
                out[start:end] += columns @ b.transpose(0, 1).reshape(table.rank, -1)
