"""The decode step at fixed shapes and addresses, so that on CUDA one captured graph replays it (as in gpt-fast).

The eager step (scheduler._decode) builds its inputs each step: torch.tensor of tokens and positions, block tables
padded to the longest, a BgmvPlan from the rows' page tables, and a key mask whose length is positions.max() + 1 (a
device sync). Here those are persistent tensors: set_rows() writes them when the batch changes, advance() moves every
row on by one position on the device, and the step itself copies nothing from the host and never syncs.
"""

import torch

from . import kernels
from .adapters import MAX_RANK
from .kernels import BgmvPlan
from .model import LoraBatch, PagedDecodeAttention


class StaticPagedAttention(PagedDecodeAttention):
    """PagedDecodeAttention computed on the device from block_tables [B, W] and positions [B]: on CUDA by Triton's
    paged attention (each row's blocks up to its position), elsewhere over every position of the tables, masked."""

    def __init__(self, cache, block_tables, positions):
        self.cache, self.tables, self.positions = cache, block_tables, positions
        self.slots = kernels.block_slots(block_tables, cache.allocator.block_size)  # [B, W * block_size]
        past = torch.arange(self.slots.shape[1], device=positions.device)[None, :] > positions[:, None]
        mask = torch.zeros(past.shape, dtype=cache.k.dtype, device=positions.device).masked_fill_(past, float("-inf"))
        self.mask = mask[:, None, None, :]  # [B, 1, 1, W * block_size]
        self.new_slots = self.slots.gather(1, positions[:, None])[:, 0]  # [B]


class StaticDecode:
    """Semantics: after set_rows() with n <= max_batch rows, step() returns logits [max_batch, vocab] whose first n
    rows equal the eager step's (model.forward with PagedDecodeAttention and a BgmvPlan of the rows' adapters) and
    writes the same keys and values; advance(next_tokens) then feeds next_tokens (a device tensor [n]) at each row's
    next position. Rows past n are padding: token 0 at position 0 of a sink block no sequence owns, never read.
    Each row's block table must already hold the block of every position it will decode (tables of max_blocks
    entries: reserve and grow them to the sequence's longest length when it is admitted).
    On CUDA the first step() captures a graph (after one eager warm-up that builds the LoRA indices and compiles
    the kernels) and every step replays it; set_rows and advance only write into the tensors it reads."""

    def __init__(self, model, kv, max_batch, max_blocks, lora_pools=None, max_rank=MAX_RANK):
        device = model.device
        if not kv.allocator.reserve(1):
            raise ValueError("no free KV block for the padding rows' sink")
        self.sink = kv.allocator.free.pop()
        self.tokens = torch.zeros(max_batch, dtype=torch.long, device=device)  # [B]
        self.positions = torch.zeros(max_batch, dtype=torch.long, device=device)  # [B]
        self.block_tables = torch.full((max_batch, max_blocks), self.sink, dtype=torch.long, device=device)  # [B, W]
        self.plan = BgmvPlan([], device, capacity=max_batch, max_rank=max_rank) if lora_pools else None
        self.lora = LoraBatch(*lora_pools, plan=self.plan) if lora_pools else None
        self.model, self.kv, self.rows, self.graph, self.logits = model, kv, 0, None, None

    def set_rows(self, tokens, positions, block_tables, pages=None):
        """The batch: per row its token, position, block table (a list of blocks) and PageTable (None: no adapter).
        The batch's only host-to-device copies, made when it changes."""
        batch, width = self.block_tables.shape
        n = self.rows = len(tokens)
        tables = [t + [self.sink] * (width - len(t)) for t in block_tables] + [[self.sink] * width] * (batch - n)
        self.tokens.copy_(torch.tensor(list(tokens) + [0] * (batch - n)))
        self.positions.copy_(torch.tensor(list(positions) + [0] * (batch - n)))
        self.block_tables.copy_(torch.tensor(tables))
        if self.plan is not None:
            self.plan.refill(pages or [])

    def advance(self, next_tokens):
        """Every row's next token (a device tensor, e.g. the sampled one) at its next position, on the device."""
        self.tokens[: self.rows].copy_(next_tokens)
        self.positions[: self.rows] += 1

    def _forward(self):
        attention = StaticPagedAttention(self.kv, self.block_tables, self.positions)
        return self.model.logits(self.model.forward(self.tokens, self.positions, attention, self.lora))

    def step(self):
        if self.model.device.type != "cuda":
            return self._forward()
        if self.graph is None:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self._forward()  # rewrites the same keys and values as the replay below
            torch.cuda.current_stream().wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.logits = self._forward()
        self.graph.replay()
        return self.logits
