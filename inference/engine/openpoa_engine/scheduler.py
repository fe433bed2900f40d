"""Continuous batching: requests join (prefill) and leave between decode steps; one decode step serves every
running sequence, each with its own adapter (or none).

Scheduling by adapter: admission prefers requests whose adapter the batch already uses and takes one adapter's requests
together; a cap bounds the distinct adapters in a batch; a request waiting aging_steps steps goes first and, while it
waits for rows, KV blocks or adapter pages, nobody else is admitted, so its wait is bounded. Adapters of the next
prefetch_depth requests in that order load ahead. Prompts are prefilled in chunks of at most max_prefill_tokens a step
between decode steps, so a long prompt never stalls the running sequences. The KV cache is paged: each sequence
reserves the blocks of its own longest length (prompt + max_tokens, at most max_seq_len) and admission waits while
they are not free; or, with decode_reserve_tokens, only that many tokens past what it has to prefill, then a block more
at a time as it grows. When none is left, the most recently admitted sequence is preempted: its blocks are freed and
it waits again, as if aged (it goes first), to prefill its prompt and the tokens it generated again and go on."""

import os
import random
from dataclasses import dataclass, field

import torch

from .adapter_cache import NoFreePages
from .adapters import AdapterError
from .kernels import BgmvPlan
from .model import LoraBatch, PagedDecodeAttention, PagedKVCache, PagedPrefillAttention
from .static_decode import StaticDecode


class RequestError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


@dataclass
class SamplingParams:
    max_tokens: int = 16
    temperature: float = 1.0  # 0 = greedy
    top_p: float = 1.0
    seed: int = None  # same seed, prompt and adapter -> same completion
    stop: tuple = ()  # stop strings; the completion text ends before the first one
    ignore_eos: bool = False

    def validate(self):
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise RequestError("bad_request", "max_tokens must be a positive integer")
        if not 0 <= self.temperature <= 100 or not 0 < self.top_p <= 1:
            raise RequestError("bad_request", "temperature must be in [0, 100] and top_p in (0, 1]")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise RequestError("bad_request", "stop must be a list of non-empty strings")


@dataclass
class Request:
    id: str
    prompt_tokens: list
    params: SamplingParams
    adapter: str = None  # artifact sha256, None for the base model
    emit: object = None  # callback(event dict); events: token, done, error


@dataclass(eq=False)  # identity matters: two sequences are never the same one
class Sequence:
    request: Request
    rng: random.Random
    decoder: object
    arrival: int = 0  # scheduler step at submission
    admitted: int = None  # scheduler step at admission
    handle: object = None  # AdapterHandle from its prefetch until its adapter is on the device (see adapter_cache)
    pages: object = None  # PageTable of its adapter while running
    blocks: list = field(default_factory=list)  # KV block table
    reserved: int = 0  # KV blocks reserved for it
    length: int = 0  # tokens in the KV cache
    prefill: list = None  # tokens to prefill: the prompt, then after a preemption the prompt and all generated but last
    last_token: int = None
    generated: list = field(default_factory=list)  # token ids
    draws: list = field(default_factory=list)  # its RNG's next uniform draws, taken ahead by the Sampler, not yet used
    preempted: bool = False  # preempted since admission (it counts as aged)
    completion_tokens: int = 0
    text: str = ""
    emitted: int = 0  # characters of text already streamed
    stop_checked: int = 0  # characters of text already searched for stop strings


class Sampler:
    """Semantics: sample(seqs, logits [n, vocab]) gives each row's next token: the argmax of logits + token_bias at
    temperature 0, else temperature + top-p sampling with one uniform draw from the sequence's own seeded RNG, drawn
    in order every step (batch-independent). Its parameters live in device tensors written only when the rows change
    or their `window` draws taken ahead run out, so a steady step copies nothing from the host."""

    def __init__(self, token_bias, max_batch, window=64):
        device = token_bias.device
        self.token_bias, self.window, self.rows, self.used = token_bias, window, None, 0
        self.temperature = torch.ones(max_batch, device=device)  # [B]
        self.top_p = torch.ones(max_batch, device=device)  # [B]
        self.greedy = torch.zeros(max_batch, dtype=torch.bool, device=device)  # [B]
        self.draws = torch.zeros(max_batch, window, dtype=torch.float64, device=device)  # [B, window], column: a step

    def _set_rows(self, seqs):
        n = len(seqs)
        for s in seqs:  # draws taken ahead stay with their sequence: it uses them whichever batch it is in next
            s.draws += [s.rng.random() for _ in range(self.window - len(s.draws))]
        params = [s.request.params for s in seqs]
        self.temperature[:n].copy_(torch.tensor([max(p.temperature, 1e-5) for p in params]))
        self.top_p[:n].copy_(torch.tensor([p.top_p for p in params]))
        self.greedy[:n].copy_(torch.tensor([p.temperature == 0 for p in params]))
        self.draws[:n].copy_(torch.tensor([s.draws for s in seqs], dtype=torch.float64))
        self.rows, self.used = list(seqs), 0

    def sample(self, seqs, logits):
        if seqs != self.rows or self.used == self.window:
            self._set_rows(seqs)
        n, column = len(seqs), self.used
        for s in seqs:
            del s.draws[0]
        self.used += 1
        logits, top_p = logits + self.token_bias, self.top_p[:n, None]
        probs = torch.softmax(logits / self.temperature[:n, None], dim=-1)
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        cumulative = sorted_probs.cumsum(-1)
        sorted_probs = sorted_probs * ((cumulative - sorted_probs) < top_p)  # smallest set reaching top_p
        cumulative = sorted_probs.cumsum(-1)
        draws = self.draws[:n, column].to(cumulative.dtype)
        choice = torch.searchsorted(cumulative, (draws * cumulative[:, -1])[:, None]).clamp_(max=logits.shape[-1] - 1)
        return torch.where(self.greedy[:n], logits.argmax(-1), order.gather(1, choice)[:, 0])


class Scheduler:
    def __init__(
        self,
        model,
        tokenizer,
        cache,
        max_batch_size=32,
        max_seq_len=1024,
        max_prefill_tokens=2048,
        kv_budget_bytes=None,  # default: what max_batch_size contiguous rows of max_seq_len took
        kv_block_size=16,
        max_adapters_per_batch=None,  # None: only the device tier's pages bound it
        aging_steps=64,
        prefetch_depth=None,  # default: max_batch_size
        static_decode=None,  # decode through StaticDecode (one CUDA graph); default: on CUDA without decode_reserve
        decode_reserve_tokens=None,  # None: a sequence reserves all its max_tokens at admission, and is never preempted
    ):
        self.model, self.tokenizer, self.cache = model, tokenizer, cache
        self.wake = None  # set by the server; called from a loader thread when an awaited adapter load completes
        self.max_batch_size, self.max_seq_len, self.max_prefill_tokens = max_batch_size, max_seq_len, max_prefill_tokens
        self.max_adapters_per_batch, self.aging_steps = max_adapters_per_batch, aging_steps
        self.prefetch_depth = prefetch_depth or max_batch_size
        self.decode_reserve_tokens = decode_reserve_tokens
        if max_seq_len > model.config.max_position_embeddings:
            raise ValueError(
                f"max_seq_len {max_seq_len} exceeds the model's {model.config.max_position_embeddings} positions"
            )
        # StaticDecode reads block tables fixed at admission, so growing (preemptible) sequences take the eager step
        growing = decode_reserve_tokens is not None
        static = model.device.type == "cuda" and not growing if static_decode is None else static_decode
        if static and growing:
            raise ValueError("decode_reserve_tokens needs the eager decode step (static_decode=False)")
        if kv_budget_bytes is None:
            num_blocks = max_batch_size * -(-max_seq_len // kv_block_size) + static  # and StaticDecode's sink
        else:
            num_blocks = int(kv_budget_bytes // PagedKVCache.block_bytes(model.config, kv_block_size, model.dtype))
        if num_blocks * kv_block_size < max_seq_len:
            raise ValueError(
                f"the KV budget holds {num_blocks * kv_block_size} tokens, below max_seq_len {max_seq_len}"
            )
        self.kv = PagedKVCache(model.config, num_blocks, kv_block_size, model.device, model.dtype)
        self.static, self.static_rows = None, None  # StaticDecode, and the sequences its rows hold, in order
        if static:
            pools = (cache.device_tier.shrink, cache.device_tier.expand)
            self.static = StaticDecode(model, self.kv, max_batch_size, -(-max_seq_len // kv_block_size), pools)
        vocab = model.config.vocab_size
        self.token_bias = torch.full((vocab,), float("-inf"), device=model.device)  # never sample unusable ids
        self.token_bias[tokenizer.sampleable_ids(vocab)] = 0.0
        self.sampler = Sampler(self.token_bias, max_batch_size)
        # Generation ends at any of the model's stop ids: config.json's eos, the tokenizer's (tokenizer_config.json,
        # generation_config.json; e.g. a chat template's end of turn).
        self.eos_ids = (set(model.config.eos_token_ids) | set(tokenizer.stop_token_ids)) - {None}
        self.waiting = []  # Sequences not yet admitted, in arrival order
        self.running = []  # admitted Sequences (prefilling or decoding), in admission order
        self.by_id = {}
        self.steps = self.generated_tokens = self.preemptions = 0

    # -- requests --

    def submit(self, request):
        """Queue a request; its adapter starts loading now if it is not resident. Raises RequestError/AdapterError."""
        if request.id in self.by_id:
            raise RequestError("duplicate_id", f"request {request.id!r} is already running")
        request.params.validate()
        vocab = self.model.config.vocab_size
        if not request.prompt_tokens or any(
            not isinstance(t, int) or not 0 <= t < vocab for t in request.prompt_tokens
        ):
            raise RequestError("bad_request", f"prompt tokens must be a non-empty list of ids in [0, {vocab})")
        if len(request.prompt_tokens) >= self.max_seq_len:
            raise RequestError(
                "prompt_too_long",
                f"prompt has {len(request.prompt_tokens)} tokens, the context holds {self.max_seq_len}",
            )
        seed = request.params.seed if request.params.seed is not None else int.from_bytes(os.urandom(8), "little")
        seq = Sequence(request, random.Random(seed), self.tokenizer.decoder(), arrival=self.steps)
        seq.prefill = request.prompt_tokens
        if request.adapter is not None and sum(s.handle is not None for s in self.waiting) < self.prefetch_depth:
            seq.handle = self._watch(self.cache.request(request.adapter))  # the rest load in queue order (_prefetch)
        self.waiting.append(seq)
        self.by_id[request.id] = seq

    def _watch(self, handle):
        if self.wake is not None:
            handle.future.add_done_callback(lambda _: self.wake())
        return handle

    def cancel(self, request_id):
        seq = self.by_id.get(request_id)
        if seq is None:
            return False
        self._finish(seq, "cancelled")
        self._prefetch()
        return True

    @property
    def has_work(self):
        return bool(self.running) or any(
            s.request.adapter is None or (s.handle is not None and s.handle.future.done()) for s in self.waiting
        )

    # -- one iteration: admit, prefill a chunk of prompts, one decode step for the prefilled sequences --

    def step(self):
        self._admit()
        self.cache.device_tier.await_placements()  # adapters placed since the last step are copied before it reads
        self._prefill()
        self._decode()
        self.steps += 1
        self._prefetch()

    def _aged(self, seq):
        return self.steps - seq.arrival >= self.aging_steps or seq.preempted

    def _queue_order(self):
        """Waiting sequences in the order admission tries them: aged ones first; then those that add no adapter to
        the batch (base model, or an adapter running sequences use); then the rest grouped by adapter, groups in
        order of their oldest request. Arrival order within each (the sort is stable)."""
        in_batch = {s.request.adapter for s in self.running} | {None}
        group = {}
        for seq in self.waiting:
            group.setdefault(seq.request.adapter, len(group))

        def key(seq):
            if self._aged(seq):
                return (0, seq.arrival)  # (a preempted sequence waits among them in arrival order)
            return (1, 0) if seq.request.adapter in in_batch else (2, group[seq.request.adapter])

        return sorted(self.waiting, key=key)

    def _prefetch(self):
        """Start loading the adapters of the first prefetch_depth requests in queue order (loader threads)."""
        for seq in self._queue_order()[: self.prefetch_depth]:
            if seq.request.adapter is not None and seq.handle is None:
                seq.handle = self._watch(self.cache.request(seq.request.adapter))

    def _admit(self):
        for seq in [s for s in self.waiting if s.handle is not None and s.handle.future.done()]:
            error = seq.handle.future.exception()
            if error is not None:  # a refused adapter fails its request at once, whatever the queue ahead of it
                self._fail(seq, getattr(error, "code", "internal"), str(error))
        adapters = {s.request.adapter for s in self.running} - {None}
        frozen, new_adapters, holding = set(), True, False  # see the aged case below
        for seq in self._queue_order():
            sha, params = seq.request.adapter, seq.request.params
            if sha is not None and (seq.handle is None or not seq.handle.future.done()):
                continue  # adapter still loading; later arrivals may go first
            if sha in frozen:
                continue
            ahead = params.max_tokens - seq.completion_tokens
            if self.decode_reserve_tokens is not None:
                ahead = max(1, min(ahead, self.decode_reserve_tokens))
            tokens = min(len(seq.prefill) + ahead, self.max_seq_len)
            blocks = self.kv.allocator.blocks_for(tokens)
            room = len(self.running) < self.max_batch_size and blocks <= self.kv.allocator.unreserved
            cap = self.max_adapters_per_batch
            slot = sha is None or sha in adapters or (new_adapters and (cap is None or len(adapters) < cap))
            short = 0  # pinned pages in the way of its adapter
            try:
                fits = room and slot and (sha is None or self._pin_adapter(seq))
            except NoFreePages as e:  # the pages it needs are pinned by running sequences: wait for some to finish
                fits, short = False, e.short
            if fits:
                self.kv.allocator.reserve(blocks)
                if self.static:  # its block table is fixed from now on: StaticDecode reads it on the device
                    self.kv.allocator.grow(seq.blocks, tokens)
                seq.reserved, seq.admitted = blocks, self.steps
                self.waiting.remove(seq)
                self.running.append(seq)
                if sha is not None:
                    adapters.add(sha)
                continue
            failed_or_reloading = seq.request.id not in self.by_id or not (
                seq.handle is None or seq.handle.future.done()
            )
            if holding or failed_or_reloading or not self._aged(seq):
                continue  # behind an aged one, refused adapter, evicted since it loaded, or young
            # The oldest aged request that does not fit: hold back what it waits for, so that it frees up in bounded
            # time (one decode of max_tokens, while the adapters that must leave do so together). It goes first in
            # every pass.
            holding = True
            if not room:
                break  # a row or KV blocks: any sequence that finishes frees them; admit nobody before it
            if slot:  # pages: no other adapter takes the ones that free up
                new_adapters = False
            for victim in self._least_recently_joined(adapters):  # admit no more, so they leave the batch
                frozen.add(victim)  # a slot (the cap) takes one; pages, as many as hold the pages in the way
                short -= self.cache.pages_of(victim)
                if short <= 0:
                    break

    def _least_recently_joined(self, adapters):
        """These batch adapters, oldest latest admitted sequence first. Once frozen an adapter gets no new sequences,
        so it keeps its place in later steps until it leaves the batch."""
        latest = {}
        for seq in self.running:
            if seq.request.adapter in adapters:
                latest[seq.request.adapter] = seq.admitted
        return sorted(latest, key=latest.get)

    def _pin_adapter(self, seq):
        """Place the sequence's loaded adapter on the device and pin it. False when it must wait (evicted from both
        tiers since it loaded: loading again) or is refused (the request has failed); raises NoFreePages when the pages
        it needs are pinned."""
        try:
            seq.pages = self.cache.acquire(seq.handle)
        except AdapterError as e:
            self._fail(seq, e.code, str(e))
            return False
        if seq.pages is None:
            self._watch(seq.handle)  # evicted from both tiers since its load: loading again
            return False
        seq.handle = None
        return True

    def _prefill(self):
        """Up to max_prefill_tokens prompt tokens in admission order; a longer prompt continues next step. Chunks are
        packed grouped by adapter, so each adapter is one SGMV segment."""
        budget, chunks = self.max_prefill_tokens, []
        for seq in self.running:
            n = min(len(seq.prefill) - seq.length, budget)
            if n > 0:
                chunks.append((seq, n))
                budget -= n
        if not chunks:
            return
        device = self.model.device
        chunks.sort(key=lambda c: c[0].request.adapter or "")
        tokens, positions, spans, segments, last, row = [], [], [], [], [], 0
        for seq, n in chunks:
            prompt, start = seq.prefill, seq.length
            self.kv.allocator.grow(seq.blocks, start + n)
            tokens += prompt[start : start + n]
            positions += range(start, start + n)
            spans.append((seq.blocks, row, n, start))
            if seq.pages and segments and segments[-1][3] == seq.request.adapter:
                segments[-1][1] = row + n  # same adapter as the chunk before (sorted): one segment
            elif seq.pages:
                segments.append([row, row + n, seq.pages, seq.request.adapter])
            seq.length += n
            row += n
            if seq.length == len(prompt) and not seq.generated:  # (a preempted one has its next input)
                last.append((seq, row - 1))
        lora = None
        if segments:
            tier = self.cache.device_tier
            lora = LoraBatch(tier.shrink, tier.expand, segments=[tuple(s[:3]) for s in segments])
        hidden = self.model.forward(
            torch.tensor(tokens, device=device),
            torch.tensor(positions, device=device),
            PagedPrefillAttention(self.kv, spans, device),
            lora,
        )
        if last:  # prompts completed this step: their first token
            rows = torch.tensor([r for _, r in last], device=device)
            self._sample_and_emit([seq for seq, _ in last], self.model.logits(hidden.index_select(0, rows)))

    def _decode(self):
        for seq in [s for s in self.running if s.length >= self.max_seq_len]:
            self._finish(seq, "length")  # context full
        seqs = [s for s in self.running if s.length >= len(s.prefill)]  # prefilled
        allocator = self.kv.allocator
        for s in list(seqs):  # oldest first: the block a sequence grows into, reserved or taken from the newest
            while s in seqs and allocator.blocks_for(s.length + 1) > s.reserved:
                if allocator.reserve(1):
                    s.reserved += 1
                else:
                    victim = self.running[-1]  # admitted most recently
                    self._preempt(victim)
                    if victim in seqs:
                        seqs.remove(victim)
        if not seqs:
            return
        logits = self._static_step(seqs) if self.static else self._eager_step(seqs)
        for s in seqs:
            s.length += 1
        sampled = self._sample_and_emit(seqs, logits)
        if self.static:
            self.static.advance(sampled)  # the next step's tokens, device to device

    def _eager_step(self, seqs):
        device = self.model.device
        for s in seqs:
            self.kv.allocator.grow(s.blocks, s.length + 1)
        tokens = torch.tensor([s.last_token for s in seqs], device=device)
        positions = torch.tensor([s.length for s in seqs], device=device)
        lora = None
        if any(s.pages for s in seqs):
            plan = BgmvPlan.build([s.pages for s in seqs], device)
            lora = LoraBatch(self.cache.device_tier.shrink, self.cache.device_tier.expand, plan=plan)
        attention = PagedDecodeAttention(self.kv, [s.blocks for s in seqs], positions)
        return self.model.logits(self.model.forward(tokens, positions, attention, lora))

    def _static_step(self, seqs):
        if self.static_rows != seqs:  # the batch changed: its rows are written (a step's only host copies)
            rows = [(s.last_token, s.length, s.blocks, s.pages) for s in seqs]
            self.static.set_rows(*map(list, zip(*rows)))
            self.static_rows = list(seqs)
        return self.static.step()[: len(seqs)]

    # -- sampling, streaming, finishing --

    def _sample(self, seqs, logits):
        return self.sampler.sample(seqs, logits)

    def _preempt(self, seq):
        """Free a running sequence's KV blocks and adapter pin; it waits to prefill all it had cached again."""
        self.kv.allocator.release(seq.blocks, seq.reserved)
        seq.reserved, seq.length, seq.prefill = 0, 0, seq.request.prompt_tokens + seq.generated[:-1]
        seq.preempted = True
        if seq.pages:
            seq.handle = self.cache.request(seq.request.adapter, count=False)  # keeps its host copy while it waits
            self.cache.release(seq.request.adapter)
            seq.pages = None
        self.running.remove(seq)
        self.waiting.insert(0, seq)
        self.preemptions += 1

    def _sample_and_emit(self, seqs, logits):
        """Sample each sequence's next token, stream it, finish the sequences it ends; returns the tokens [n]."""
        tokens = self._sample(seqs, logits)
        for seq, token in zip(seqs, tokens.tolist()):
            self.generated_tokens += 1
            seq.completion_tokens += 1
            seq.last_token = token
            seq.generated.append(token)
            params = seq.request.params
            if token in self.eos_ids and not params.ignore_eos:
                seq.text += seq.decoder.flush()
                self._emit_token(seq, token, final=True)
                self._finish(seq, "stop")
                continue
            seq.text += seq.decoder.push(token)
            stop_at = self._find_stop(seq)
            if stop_at is not None:
                seq.text = seq.text[:stop_at]
                self._emit_token(seq, token, final=True)
                self._finish(seq, "stop")
            elif seq.completion_tokens >= params.max_tokens:
                seq.text += seq.decoder.flush()
                self._emit_token(seq, token, final=True)
                self._finish(seq, "length")
            else:
                self._emit_token(seq, token, final=False)
        return tokens

    def _find_stop(self, seq):
        stops = seq.request.params.stop
        if not stops:
            return None
        # Only text that arrived since the last check can complete a stop string.
        base = max(0, seq.stop_checked - max(map(len, stops)) + 1)
        seq.stop_checked = len(seq.text)
        hits = [i for i in (seq.text.find(s, base) for s in stops) if i >= 0]
        return min(hits) if hits else None

    def _emit_token(self, seq, token, final):
        """Stream the new text, holding back a tail that could still turn into a stop string."""
        end = len(seq.text)
        if not final:
            for stop in seq.request.params.stop:
                for k in range(min(len(stop) - 1, end - seq.emitted), 0, -1):
                    if seq.text.endswith(stop[:k]):
                        end = min(end, len(seq.text) - k)
                        break
        delta, seq.emitted = seq.text[seq.emitted : end], max(seq.emitted, end)
        seq.request.emit({"type": "token", "id": seq.request.id, "token": token, "text": delta})

    def _finish(self, seq, reason):
        self._release(seq)
        seq.request.emit(
            {
                "type": "done",
                "id": seq.request.id,
                "finish_reason": reason,
                "text": seq.text,
                "delta": seq.text[seq.emitted :],
                "usage": {"prompt_tokens": len(seq.request.prompt_tokens), "completion_tokens": seq.completion_tokens},
            }
        )

    def fail_running(self, code, message):
        """End every running sequence with an error (after a failed step, whose KV state cannot be trusted)."""
        for seq in list(self.running):
            self._fail(seq, code, message)

    def _fail(self, seq, code, message):
        self._release(seq)
        seq.request.emit({"type": "error", "id": seq.request.id, "error": {"code": code, "message": message}})

    def _release(self, seq):
        self.by_id.pop(seq.request.id, None)
        if seq in self.waiting:
            self.waiting.remove(seq)
            if seq.handle is not None:
                seq.handle.release()
            return
        self.running.remove(seq)
        self.kv.allocator.release(seq.blocks, seq.reserved)  # blocks return to the free list: nothing is copied
        if seq.pages:
            self.cache.release(seq.request.adapter)
