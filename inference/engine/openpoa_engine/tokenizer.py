"""Tokenizers.

The project-wide byte-level convention: token id = UTF-8 byte (0..255), 256 <bos>, 257 <eos>, 258 <pad>.
"""

import codecs
import json
import os

BYTE_TOKENIZER_FILE = "openpoa_tokenizer.json"
BOS, EOS, PAD = 256, 257, 258


class ByteTokenizer:
    kind = "byte"
    bos_token_id, eos_token_id, pad_token_id = BOS, EOS, PAD

    def encode(self, text, add_bos=True):
        return ([BOS] if add_bos else []) + list(text.encode("utf-8"))

    def decoder(self):
        return ByteDecoder()

    def sampleable_ids(self, vocab_size):
        """Ids the model may emit: bytes and <eos> (never <bos>, <pad> or the unused ids above 258)."""
        return list(range(256)) + [EOS]


class ByteDecoder:
    """Incremental UTF-8: a multi-byte character is emitted once complete; invalid bytes become U+FFFD."""

    def __init__(self):
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")

    def push(self, token_id):
        return self._utf8.decode(bytes([token_id])) if token_id < 256 else ""

    def flush(self):
        return self._utf8.decode(b"", final=True)


class HFTokenizer:
    """tokenizer.json through the optional `tokenizers` package."""

    kind = "hf"

    def __init__(self, path, bos_token_id, eos_token_ids):
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(path)
        self.bos_token_id = bos_token_id
        self.eos_token_id = eos_token_ids[0] if eos_token_ids else None

    def encode(self, text, add_bos=True):
        ids = self._tok.encode(text, add_special_tokens=False).ids
        return ([self.bos_token_id] if add_bos and self.bos_token_id is not None else []) + ids

    def decoder(self):
        return HFDecoder(self._tok)

    def sampleable_ids(self, vocab_size):
        return list(range(min(vocab_size, self._tok.get_vocab_size(with_added_tokens=True))))


class HFDecoder:
    """Decodes the whole completion each time and emits the new suffix, holding back a trailing partial character."""

    def __init__(self, tok):
        self._tok, self._ids, self._emitted = tok, [], 0

    def push(self, token_id):
        self._ids.append(token_id)
        text = self._tok.decode(self._ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return ""
        delta, self._emitted = text[self._emitted :], len(text)
        return delta

    def flush(self):
        text = self._tok.decode(self._ids, skip_special_tokens=True)
        delta, self._emitted = text[self._emitted :], len(text)
        return delta


def load_tokenizer(model_dir, config):
    byte_file = os.path.join(model_dir, BYTE_TOKENIZER_FILE)
    if os.path.exists(byte_file):
        with open(byte_file) as f:
            spec = json.load(f)
        if spec.get("type") != "byte":
            raise ValueError(f"{byte_file}: unknown tokenizer type {spec.get('type')!r}")
        if config.vocab_size < 259:
            raise ValueError("a byte-level model needs vocab_size >= 259")
        return ByteTokenizer()
    hf_file = os.path.join(model_dir, "tokenizer.json")
    if os.path.exists(hf_file):
        try:
            return HFTokenizer(hf_file, config.bos_token_id, config.eos_token_ids)
        except ImportError:
            raise ValueError("tokenizer.json needs the `tokenizers` package, which is not installed") from None
    raise ValueError(f"{model_dir}: no {BYTE_TOKENIZER_FILE} or tokenizer.json")


def write_byte_tokenizer(model_dir):
    with open(os.path.join(model_dir, BYTE_TOKENIZER_FILE), "w") as f:
        json.dump(
            {
                "type": "byte",
                "bos_token_id": BOS,
                "eos_token_id": EOS,
                "pad_token_id": PAD,
                "note": "token id = UTF-8 byte value 0..255; 256 <bos>, 257 <eos>, 258 <pad>",
            },
            f,
            indent=2,
        )
