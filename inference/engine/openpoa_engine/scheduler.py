"""Continuous batching: requests join (prefill) and leave between decode steps; one decode step serves every
running sequence, each with its own adapter (or none)."""

import os
import random
from dataclasses import dataclass

import torch

from .adapter_cache import NoFreePages
from .adapters import AdapterError
from .kernels import BgmvPlan
from .model import DecodeAttention, KVCache, LoraBatch, PrefillAttention


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
    handle: object = None  # AdapterHandle until the adapter is on the device (its future: ready or failed)
    pages: object = None  # PageTable of the adapter while running
    length: int = 0  # tokens in the KV cache
    last_token: int = None
    completion_tokens: int = 0
    text: str = ""
    emitted: int = 0  # characters of text already streamed
    stop_checked: int = 0  # characters of text already searched for stop strings


class Scheduler:
    def __init__(self, model, tokenizer, cache, max_batch_size=32, max_seq_len=1024, max_prefill_tokens=2048):
        self.model, self.tokenizer, self.cache = model, tokenizer, cache
        self.wake = None  # set by the server; called from a loader thread when an awaited adapter load completes
        self.max_batch_size, self.max_seq_len, self.max_prefill_tokens = max_batch_size, max_seq_len, max_prefill_tokens
        if max_seq_len > model.config.max_position_embeddings:
            raise ValueError(
                f"max_seq_len {max_seq_len} exceeds the model's {model.config.max_position_embeddings} positions"
            )
        self.kv = KVCache(model.config, max_batch_size, max_seq_len, model.device, model.dtype)
        vocab = model.config.vocab_size
        self.token_bias = torch.full((vocab,), float("-inf"), device=model.device)  # never sample unusable ids
        self.token_bias[tokenizer.sampleable_ids(vocab)] = 0.0
        # Generation ends at any of the model's stop ids: config.json's eos, the tokenizer's (tokenizer_config.json,
        # generation_config.json; e.g. a chat template's end of turn).
        self.eos_ids = (set(model.config.eos_token_ids) | set(tokenizer.stop_token_ids)) - {None}
        self.waiting = []  # Sequences not yet admitted, in arrival order
        self.running = []  # running[i] owns KV cache row i
        self.by_id = {}
        self.steps = self.generated_tokens = 0

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
        seq = Sequence(request, random.Random(seed), self.tokenizer.decoder())
        if request.adapter is not None:
            seq.handle = self._watch(self.cache.request(request.adapter))
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
        return True

    @property
    def has_work(self):
        return bool(self.running) or any(s.handle is None or s.handle.future.done() for s in self.waiting)

    # -- one iteration: admit and prefill new sequences, then one decode step for all --

    def step(self):
        self._prefill(self._admit())
        if self.running:
            self._decode()
        self.steps += 1

    def _admit(self):
        for seq in [s for s in self.waiting if s.handle is not None and s.handle.future.done()]:
            error = seq.handle.future.exception()
            if error is not None:  # a refused adapter fails its request at once, whatever the queue ahead of it
                self._fail(seq, getattr(error, "code", "internal"), str(error))
        admitted, budget = [], self.max_prefill_tokens
        for seq in list(self.waiting):
            if len(self.running) + len(admitted) >= self.max_batch_size:
                break
            prompt_len = len(seq.request.prompt_tokens)
            if admitted and prompt_len > budget:
                break  # a prompt longer than the whole budget still runs, alone
            if seq.handle is not None:
                if not seq.handle.future.done():
                    continue  # adapter still loading; later arrivals may go first
                try:
                    seq.pages = self.cache.acquire(seq.handle)
                except NoFreePages:
                    continue  # the pages it needs are pinned by running sequences: wait for one to finish
                except AdapterError as e:
                    self._fail(seq, e.code, str(e))
                    continue
                if seq.pages is None:
                    self._watch(seq.handle)  # evicted from both tiers since the request arrived: loading again
                    continue
                seq.handle = None
            self.waiting.remove(seq)
            admitted.append(seq)
            budget -= prompt_len
        return admitted

    def _prefill(self, seqs):
        if not seqs:
            return
        device = self.model.device
        tokens, positions, spans, segments, start = [], [], [], [], 0
        for seq in seqs:
            prompt = seq.request.prompt_tokens
            row = len(self.running)
            self.running.append(seq)
            tokens += prompt
            positions += range(len(prompt))
            spans.append((row, start, len(prompt)))
            if seq.pages:
                segments.append((start, start + len(prompt), seq.pages))
            seq.length = len(prompt)
            start += len(prompt)
        lora = (
            LoraBatch(self.cache.device_tier.shrink, self.cache.device_tier.expand, segments=segments)
            if segments
            else None
        )
        hidden = self.model.forward(
            torch.tensor(tokens, device=device),
            torch.tensor(positions, device=device),
            PrefillAttention(self.kv, spans),
            lora,
        )
        last = torch.tensor([s + n - 1 for _, s, n in spans], device=device)
        self._sample_and_emit(seqs, self.model.logits(hidden.index_select(0, last)))

    def _decode(self):
        for seq in [s for s in self.running if s.length >= self.max_seq_len]:
            self._finish(seq, "length")  # context full
        if not self.running:
            return
        device = self.model.device
        seqs = list(self.running)
        tokens = torch.tensor([s.last_token for s in seqs], device=device)
        positions = torch.tensor([s.length for s in seqs], device=device)
        lora = None
        if any(s.pages for s in seqs):
            plan = BgmvPlan.build([s.pages for s in seqs], device)
            lora = LoraBatch(self.cache.device_tier.shrink, self.cache.device_tier.expand, plan=plan)
        hidden = self.model.forward(tokens, positions, DecodeAttention(self.kv, positions), lora)
        for s in seqs:
            s.length += 1
        self._sample_and_emit(seqs, self.model.logits(hidden))

    # -- sampling, streaming, finishing --

    def _sample(self, seqs, logits):
        """Temperature + top-p with one uniform draw per sequence from its own seeded RNG (batch-independent)."""
        logits = logits + self.token_bias
        greedy = logits.argmax(-1)
        temperature = torch.tensor([max(s.request.params.temperature, 1e-5) for s in seqs], device=logits.device)
        top_p = torch.tensor([s.request.params.top_p for s in seqs], device=logits.device)
        probs = torch.softmax(logits / temperature[:, None], dim=-1)
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        cumulative = sorted_probs.cumsum(-1)
        sorted_probs = sorted_probs * ((cumulative - sorted_probs) < top_p[:, None])  # smallest set reaching top_p
        cumulative = sorted_probs.cumsum(-1)
        draws = torch.tensor([s.rng.random() for s in seqs], device=logits.device, dtype=cumulative.dtype)
        choice = torch.searchsorted(cumulative, (draws * cumulative[:, -1])[:, None]).clamp_(max=logits.shape[-1] - 1)
        sampled = order.gather(1, choice)[:, 0]
        is_greedy = torch.tensor([s.request.params.temperature == 0 for s in seqs], device=logits.device)
        return torch.where(is_greedy, greedy, sampled).tolist()

    def _sample_and_emit(self, seqs, logits):
        for seq, token in zip(seqs, self._sample(seqs, logits)):
            self.generated_tokens += 1
            seq.completion_tokens += 1
            seq.last_token = token
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
        row = self.running.index(seq)
        last = self.running.pop()
        if last is not seq:  # keep rows compact: the last sequence moves into the freed row
            self.kv.move_row(len(self.running), row, last.length)
            self.running[row] = last
        if seq.pages:
            self.cache.release(seq.request.adapter)
