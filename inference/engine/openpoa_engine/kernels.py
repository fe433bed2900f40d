"""Compute kernels, plain PyTorch (CPU, and CUDA through the same ops).

Every kernel states its semantics; tests compare each against a plain fp32 reference. A CUDA/Triton backend
can replace any function here with one of the same signature and semantics.

LoRA layout (paged, like S-LoRA): an adapter of rank r occupies ceil(r / PAGE_RANK) pages of the device pools.
  shrink pool of a group (members m = e.g. q,k,v), one layer: [num_pages, in_features, members * PAGE_RANK]
      page p, row h, columns m*PAGE_RANK + j  =  A_m[page_index * PAGE_RANK + j, h]     (A_m = PEFT lora_A [r, in])
  expand pool of a projection, one layer:      [num_pages * PAGE_RANK, out_features]
      row p*PAGE_RANK + j                     =  B[:, page_index * PAGE_RANK + j] * scale (B = PEFT lora_B [out, r])
Ranks that are not a multiple of PAGE_RANK are zero-padded inside their last page.
The pools hold the model's dtype, except where BGMV's F.embedding_bag lacks it (bfloat16 on CPU in torch 1.13): there
they hold float32 (lora_pool_dtype), and the LoRA kernels compute in float32 and add into the bf16 outputs.

KV layout (paged, like vLLM): per layer, pools [blocks, block_size, kv_heads, head_dim] of keys and of values; a block
table lists a sequence's blocks in order, and block_slots turns it into pool rows (the pool viewed as
[blocks * block_size, kv_heads, head_dim]).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

PAGE_RANK = 16
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


@dataclass
class BgmvPlan:
    """Per-step index tensors for BGMV, shared by all layers and groups.
    A "bag" is one (row, page) pair; bags are ordered by row, then by page order within the adapter."""

    bag_page: torch.Tensor  # [num_bags] page of each bag
    bag_row: torch.Tensor  # [num_bags] batch row of each bag
    expand_index: torch.Tensor  # [num_bags * PAGE_RANK] expand-pool row of each (bag, j)
    expand_offsets: torch.Tensor  # [num_rows] start of each row's bag run in expand_index
    shrink_index: dict  # in_features -> [num_bags, in_features] shrink-pool row of each (bag, h)

    @classmethod
    def build(cls, row_pages, device):
        """row_pages: per batch row, the adapter's page list ([] = no adapter, i.e. idx = -1)."""
        bag_page = [p for pages in row_pages for p in pages]
        bag_row = [r for r, pages in enumerate(row_pages) for _ in pages]
        starts, total = [], 0
        for pages in row_pages:
            starts.append(total)
            total += len(pages) * PAGE_RANK
        bag_page_t = torch.tensor(bag_page, dtype=torch.long, device=device)
        expand_index = (bag_page_t[:, None] * PAGE_RANK + torch.arange(PAGE_RANK, device=device)).reshape(-1)
        return cls(
            bag_page_t,
            torch.tensor(bag_row, dtype=torch.long, device=device),
            expand_index,
            torch.tensor(starts, dtype=torch.long, device=device),
            {},
        )

    @property
    def empty(self):
        return self.bag_page.numel() == 0

    def shrink_rows(self, in_features):
        if in_features not in self.shrink_index:
            arange = torch.arange(in_features, device=self.bag_page.device)
            self.shrink_index[in_features] = self.bag_page[:, None] * in_features + arange
        return self.shrink_index[in_features]


def bgmv(outputs, x, shrink_pool, expand_pools, plan):
    """Batched gather LoRA for decode, one fused group (members share the input x).
    Semantics, for every row r with adapter a (rows without one are left unchanged), every member m:
        outputs[m][r] += (x[r] . A_{a,m}^T) . B_{a,m}^T * scale_a
    read in place from the paged pools (nothing per-adapter is materialised).
    outputs: list of [n, out_m] (views allowed); x [n, in]; shrink_pool [pages, in, members * PAGE_RANK];
    expand_pools: list of [pages * PAGE_RANK, out_m]; plan: BgmvPlan for these rows.
    Computed in the pools' dtype (x is cast to it); each delta is added into outputs in their own dtype."""
    if plan.empty:
        return
    pages, in_features, width = shrink_pool.shape
    # Shrink as a weighted sum of pool rows: bag (r, p) sums x[r, h] * pool[p, h, :] over h.
    shrunk = F.embedding_bag(
        plan.shrink_rows(in_features),
        shrink_pool.view(pages * in_features, width),
        mode="sum",
        per_sample_weights=x.index_select(0, plan.bag_row).to(shrink_pool.dtype),
    )
    shrunk = shrunk.view(-1, len(outputs), PAGE_RANK)  # [num_bags, members, PAGE_RANK]
    for m, (out, expand_pool) in enumerate(zip(outputs, expand_pools)):
        out += F.embedding_bag(  # a float32 delta into bf16 outputs: one rounding, in the in-place add
            plan.expand_index, expand_pool, plan.expand_offsets, mode="sum", per_sample_weights=shrunk[:, m].reshape(-1)
        )


def sgmv(outputs, x, shrink_pool, expand_pools, segments):
    """Segmented LoRA for prefill: rows come in contiguous segments that share one adapter.
    Semantics, for each segment (start, end, pages) and member m:
        outputs[m][start:end] += (x[start:end] . A_m^T) . B_m^T * scale     (the adapter stored in `pages`)
    outputs, x, pools as in bgmv; segments: list of (start, end, page LongTensor); dtypes as in bgmv."""
    members = len(outputs)
    for start, end, pages in segments:
        shrink = shrink_pool.index_select(0, pages)  # [c, in, members * PAGE_RANK]
        rows = x[start:end].to(shrink.dtype)
        shrunk = torch.einsum("th,chk->tck", rows, shrink).reshape(end - start, -1, members, PAGE_RANK)
        rows = (pages[:, None] * PAGE_RANK + torch.arange(PAGE_RANK, device=pages.device)).reshape(-1)
        for m, (out, expand_pool) in enumerate(zip(outputs, expand_pools)):
            out[start:end] += shrunk[:, :, m].reshape(end - start, -1) @ expand_pool.index_select(0, rows)
