"""Llama-family decoder (RMSNorm, rotary embeddings, grouped-query attention, SwiGLU) with per-row LoRA."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import kernels
from .config import LORA_GROUPS, LORA_PROJECTIONS, ModelConfig, module_path
from .safetensors_io import checkpoint_files, load_file


class CheckpointError(ValueError):
    pass


@dataclass
class LayerWeights:
    """Projections stored transposed ([in, out]): x @ w measured ~10% faster than F.linear on CPU BLAS."""

    attn_norm: torch.Tensor  # [hidden]
    qkv: torch.Tensor  # [hidden, q_size + 2 * kv_size]  q, k, v fused: one GEMM for the three
    o: torch.Tensor  # [q_size, hidden]
    mlp_norm: torch.Tensor  # [hidden]
    gate_up: torch.Tensor  # [hidden, 2 * intermediate]  gate, up fused
    down: torch.Tensor  # [intermediate, hidden]


class KVCache:
    """Contiguous keys and values, a row of max_seq positions per sequence (the reference layout for PagedKVCache)."""

    def __init__(self, config, max_batch, max_seq, device, dtype):
        shape = (config.num_layers, max_batch, config.num_kv_heads, max_seq, config.head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)  # [layers, rows, kv_heads, max_seq, head_dim]
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.max_seq = max_seq


def length_mask(positions, dtype):
    """[n, 1, 1, L] with L = max(positions) + 1: 0 up to each row's position, -inf past it."""
    past = torch.arange(int(positions.max()) + 1, device=positions.device)[None, :] > positions[:, None]
    mask = torch.zeros(past.shape, dtype=dtype, device=positions.device).masked_fill_(past, float("-inf"))
    return mask[:, None, None, :]


class DecodeAttention:
    """One new token for each of cache rows 0..n-1, row b's at position positions[b]."""

    def __init__(self, cache, positions):
        self.cache, self.positions = cache, positions
        self.rows = torch.arange(len(positions), device=positions.device)
        self.mask = length_mask(positions, cache.k.dtype)  # [n, 1, 1, length]
        self.length = self.mask.shape[-1]

    def __call__(self, layer, q, k, v):
        n, keys, values = len(self.rows), self.cache.k[layer], self.cache.v[layer]
        keys[self.rows, :, self.positions] = k
        values[self.rows, :, self.positions] = v
        return kernels.decode_attention(q, keys[:n, :, : self.length], values[:n, :, : self.length], self.mask)


class PrefillAttention:
    """Whole prompts packed one after another: spans = [(cache_row, start, length)], positions from 0."""

    def __init__(self, cache, spans):
        self.cache, self.spans = cache, spans

    def __call__(self, layer, q, k, v):
        outputs = []
        for row, start, length in self.spans:
            ks, vs = k[start : start + length], v[start : start + length]
            self.cache.k[layer, row, :, :length] = ks.transpose(0, 1)
            self.cache.v[layer, row, :, :length] = vs.transpose(0, 1)
            outputs.append(kernels.prefill_attention(q[start : start + length], ks, vs))
        return torch.cat(outputs)


class BlockAllocator:
    """Bookkeeping of KV blocks (the tensors live in PagedKVCache): a free list and reservations.
    Semantics: reserve(n) succeeds iff n blocks are unreserved. A sequence then takes blocks one at a time as it grows
    (grow), never more than it reserved, so decoding always finds its next block; release returns its blocks and its
    reservation. A refused reservation is how admission waits for blocks."""

    def __init__(self, num_blocks, block_size):
        self.num_blocks, self.block_size = num_blocks, block_size
        self.free = list(range(num_blocks - 1, -1, -1))  # taken from the end
        self.unreserved = num_blocks

    def blocks_for(self, tokens):
        return -(-tokens // self.block_size)

    def reserve(self, blocks):
        if blocks > self.unreserved:
            return False
        self.unreserved -= blocks
        return True

    def grow(self, table, tokens):
        """Append free blocks to a block table until it holds `tokens` tokens."""
        while len(table) * self.block_size < tokens:
            table.append(self.free.pop())

    def release(self, table, reserved):
        self.free += table
        table.clear()
        self.unreserved += reserved


class PagedKVCache:
    """Keys and values in blocks of block_size tokens, a block table (its blocks in order) per sequence.
    Semantics: token i of a sequence with block table T is at [:, T[i // block_size], i % block_size]. A sequence that
    leaves frees its blocks; nothing moves."""

    def __init__(self, config, num_blocks, block_size, device, dtype):
        shape = (config.num_layers, num_blocks, block_size, config.num_kv_heads, config.head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)  # [layers, blocks, block_size, kv_heads, head_dim]
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.allocator = BlockAllocator(num_blocks, block_size)

    @staticmethod
    def block_bytes(config, block_size, dtype):
        return 2 * config.num_layers * block_size * config.kv_size * torch.empty((), dtype=dtype).element_size()

    def write(self, layer, slots, k, v):
        """k, v [T, kv_heads, head_dim] into pool rows slots [T] (see kernels.block_slots)."""
        self.k[layer].view(-1, *k.shape[1:]).index_copy_(0, slots, k)
        self.v[layer].view(-1, *v.shape[1:]).index_copy_(0, slots, v)


class PagedDecodeAttention:
    """One new token for each sequence b, at position positions[b], through its block table tables[b]."""

    def __init__(self, cache, tables, positions):
        width = max(map(len, tables))
        tables = torch.tensor([t + [0] * (width - len(t)) for t in tables], device=positions.device)  # [n, W]
        self.cache, self.tables, self.positions = cache, tables, positions
        self.mask = length_mask(positions, cache.k.dtype)  # [n, 1, 1, length]
        self.slots = kernels.block_slots(tables, cache.allocator.block_size)[:, : self.mask.shape[-1]].contiguous()
        self.new_slots = self.slots.gather(1, positions[:, None])[:, 0]  # [n] where the new tokens go

    def __call__(self, layer, q, k, v):
        self.cache.write(layer, self.new_slots, k, v)
        keys, values, fast = self.cache.k[layer], self.cache.v[layer], kernels.fast_kernels(q)
        if fast:  # CUDA: each sequence's own blocks read in place, nothing gathered
            return fast.paged_decode_attention(q, keys, values, self.tables, self.positions)
        return kernels.paged_decode_attention(q, keys, values, self.slots, self.mask)


class PagedPrefillAttention:
    """Prompt chunks packed one after another: chunks = [(block table, first packed row, tokens, first position)].
    Each chunk's keys and values go into its blocks; it attends to all its sequence has cached."""

    def __init__(self, cache, chunks, device):
        self.cache = cache
        self.chunks = [(torch.tensor(table, device=device), row, n, position) for table, row, n, position in chunks]
        block_size = cache.allocator.block_size
        self.slots = torch.cat(
            [kernels.block_slots(table, block_size)[position : position + n] for table, _, n, position in self.chunks]
        )  # [T] pool row of every packed token

    def __call__(self, layer, q, k, v):
        self.cache.write(layer, self.slots, k, v)
        outputs = []
        for table, row, n, position in self.chunks:
            if position == 0:  # nothing cached before this chunk: its own keys are all there is, no gather
                outputs.append(kernels.prefill_attention(q[row : row + n], k[row : row + n], v[row : row + n]))
            else:
                keys, values = self.cache.k[layer], self.cache.v[layer]
                outputs.append(kernels.paged_prefill_attention(q[row : row + n], keys, values, table, position))
        return torch.cat(outputs)


@dataclass
class LoraBatch:
    """Which adapter each row uses, as pages of the pool: a BGMV plan (decode) or SGMV segments (prefill)."""

    shrink: torch.Tensor  # [layers, pages * unit, PAGE_WIDTH]  the pool's shrink view (kernels' LoRA layout)
    expand: torch.Tensor  # [layers, pages * PAGE_WIDTH, unit]  the same memory, its expand view
    plan: kernels.BgmvPlan = None
    segments: list = None  # [(start, end, PageTable)]

    def apply(self, layer, group, members, outputs, x):
        """Adds the LoRA deltas to outputs in place and returns them (train.TrainableLora returns new tensors)."""
        if self.plan is not None:
            kernels.bgmv(outputs, x, self.shrink[layer], self.expand[layer], self.plan, group, members)
        else:
            kernels.sgmv(outputs, x, self.shrink[layer], self.expand[layer], self.segments, group, members)
        return outputs


class Llama:
    def __init__(self, config: ModelConfig, weights: dict, device="cpu", dtype=torch.float32):
        self.config, self.device, self.dtype = config, torch.device(device), dtype
        kernels.check_dtype(self.device, dtype)
        c = config

        def take(name, shape):
            if name not in weights:
                raise CheckpointError(f"checkpoint lacks {name}")
            t = weights[name]
            if list(t.shape) != list(shape):
                raise CheckpointError(f"{name}: shape {list(t.shape)}, config expects {list(shape)}")
            return t.to(device=self.device, dtype=dtype)

        self.embed = take("model.embed_tokens.weight", (c.vocab_size, c.hidden_size))
        self.layers = []
        for i in range(c.num_layers):
            p = f"model.layers.{i}."
            w = {
                n: take(f"{module_path(i, n)}.weight", (c.out_features(n), c.in_features(n))) for n in LORA_PROJECTIONS
            }
            self.layers.append(
                LayerWeights(
                    attn_norm=take(f"{p}input_layernorm.weight", (c.hidden_size,)),
                    qkv=torch.cat([w["q_proj"], w["k_proj"], w["v_proj"]]).t().contiguous(),
                    o=w["o_proj"].t().contiguous(),
                    mlp_norm=take(f"{p}post_attention_layernorm.weight", (c.hidden_size,)),
                    gate_up=torch.cat([w["gate_proj"], w["up_proj"]]).t().contiguous(),
                    down=w["down_proj"].t().contiguous(),
                )
            )
        self.norm = take("model.norm.weight", (c.hidden_size,))
        self.lm_head = self.embed if c.tie_word_embeddings else take("lm_head.weight", (c.vocab_size, c.hidden_size))
        cos, sin = kernels.rope_tables(c.head_dim, c.max_position_embeddings, c.rope_theta, c.rope_scaling)
        self.cos, self.sin = cos.to(self.device, dtype), sin.to(self.device, dtype)  # [max_positions, head_dim]

    @classmethod
    def load(cls, model_dir, device="cpu", dtype=torch.float32, name="", artifact_hash=""):
        config = ModelConfig.load(model_dir, name, artifact_hash)
        kernels.check_dtype(device, dtype)  # before any weights are converted
        weights = {}
        for path in checkpoint_files(model_dir):
            # Convert shard by shard so at most one shard is held in its file dtype; they stay on the host, and the
            # constructor moves them a layer at a time, so the device never holds the unfused and fused copies both.
            weights.update({k: v.to(dtype=dtype) for k, v in load_file(path).items()})
        return cls(config, weights, device, dtype)

    def forward(self, tokens, positions, attention, lora=None):
        """tokens, positions [T] -> final hidden states [T, hidden]; attention reads and writes the KV cache."""
        c = self.config
        t = tokens.shape[0]
        x = self.embed.index_select(0, tokens)
        cos, sin = self.cos.index_select(0, positions), self.sin.index_select(0, positions)
        (_, qkv_names), (_, o_names), (_, gate_up_names), (_, down_names) = LORA_GROUPS
        for i, layer in enumerate(self.layers):
            h = kernels.rms_norm(x, layer.attn_norm, c.rms_norm_eps)
            qkv = h @ layer.qkv
            q, k, v = qkv.split([c.q_size, c.kv_size, c.kv_size], dim=-1)
            if lora is not None:
                q, k, v = lora.apply(i, "qkv", qkv_names, [q, k, v], h)
            q = kernels.apply_rope(q.reshape(t, c.num_heads, c.head_dim), cos, sin)
            k = kernels.apply_rope(k.reshape(t, c.num_kv_heads, c.head_dim), cos, sin)
            attn = attention(i, q, k, v.reshape(t, c.num_kv_heads, c.head_dim))
            o = attn @ layer.o
            if lora is not None:
                (o,) = lora.apply(i, "o", o_names, [o], attn)
            x = x + o
            h = kernels.rms_norm(x, layer.mlp_norm, c.rms_norm_eps)
            gate_up = h @ layer.gate_up
            gate, up = gate_up.split([c.intermediate_size, c.intermediate_size], dim=-1)
            if lora is not None:
                gate, up = lora.apply(i, "gate_up", gate_up_names, [gate, up], h)
            act = F.silu(gate) * up
            down = act @ layer.down
            if lora is not None:
                (down,) = lora.apply(i, "down", down_names, [down], act)
            x = x + down
        return kernels.rms_norm(x, self.norm, c.rms_norm_eps)

    def logits(self, hidden):
        return F.linear(hidden, self.lm_head).float()
