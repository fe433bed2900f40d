"""Tokenizers: the project's byte-level convention and a model's own tokenizer.json, with chat templates.

The project-wide byte-level convention: token id = UTF-8 byte (0..255), 256 <bos>, 257 <eos>, 258 <pad>.
A model directory with tokenizer.json instead uses that tokenizer (through the `tokenizers` package), the special
tokens and `chat_template` of its tokenizer_config.json (rendered with `jinja2`), and the stop ids of config.json
and generation_config.json. Both packages are imported only when such a model is loaded.
"""

import codecs
import json
import os

BYTE_TOKENIZER_FILE = "openpoa_tokenizer.json"
BOS, EOS, PAD = 256, 257, 258


class ChatTemplateError(ValueError):
    """Messages the chat template refuses (or a model without one)."""


def check_messages(messages):
    """A chat: a non-empty list of {"role": str, "content": str}; returns copies holding just those two keys."""
    if not isinstance(messages, list) or not messages:
        raise ChatTemplateError("messages must be a non-empty list of {role, content} objects")
    checked = []
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise ChatTemplateError("every message needs a string role and a string content")
        checked.append({"role": m["role"], "content": m["content"]})
    return checked


def byte_chat_prompt(messages):
    """The generated models' chat convention, the same text as chatPrompt in inference/sdk/pricing.ts:
    one `<|role|>` block per message, then the assistant's turn."""
    return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages) + "<|assistant|>\n"


class ByteTokenizer:
    kind = "byte"
    bos_token_id, eos_token_id, pad_token_id = BOS, EOS, PAD
    stop_token_ids = frozenset({EOS})
    has_chat_template = False  # messages use byte_chat_prompt, the project's convention

    def encode(self, text, add_bos=None):
        return ([BOS] if add_bos is None or add_bos else []) + list(text.encode("utf-8"))

    def render_chat(self, messages):
        return byte_chat_prompt(check_messages(messages))

    def encode_chat(self, messages):
        return self.encode(self.render_chat(messages), add_bos=True)

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


def _read_json(path):
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _token_text(value):
    """tokenizer_config.json writes a special token as a string or as {"content": ...}."""
    return value.get("content") if isinstance(value, dict) else value


def _as_list(value):
    return [] if value is None else list(value) if isinstance(value, list) else [value]


def compile_chat_template(source):
    """A chat template as Hugging Face renders it: jinja2's immutable sandbox, trim_blocks and lstrip_blocks, the
    loopcontrols extension, `raise_exception` and a `tojson` that keeps non-ASCII text."""
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(value, indent=None, separators=None, sort_keys=False):
        return json.dumps(value, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env.from_string(source)


class HFTokenizer:
    """A model's own tokenizer: tokenizer.json through `tokenizers`, plus tokenizer_config.json and the stop ids."""

    kind = "hf"

    def __init__(self, model_dir, config):
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        tok_config = _read_json(os.path.join(model_dir, "tokenizer_config.json"))
        gen_config = _read_json(os.path.join(model_dir, "generation_config.json"))
        self.special_tokens = {
            key: _token_text(tok_config.get(key)) for key in ("bos_token", "eos_token", "pad_token", "unk_token")
        }

        def token_id(key, fallback):
            text = self.special_tokens[key]
            found = self._tok.token_to_id(text) if isinstance(text, str) else None
            return found if found is not None else fallback

        self.bos_token_id = token_id("bos_token", config.bos_token_id)
        self.eos_token_id = token_id("eos_token", config.eos_token_ids[0] if config.eos_token_ids else None)
        self.pad_token_id = token_id("pad_token", None)
        stops = {*config.eos_token_ids, *_as_list(gen_config.get("eos_token_id")), self.eos_token_id}
        self.stop_token_ids = frozenset(i for i in stops if isinstance(i, int))
        if "add_bos_token" in tok_config:
            self.add_bos = bool(tok_config["add_bos_token"])
        else:  # the tokenizer.json's post-processor says (a Llama-3 style template adds <bos>)
            probe = self._tok.encode("a", add_special_tokens=True).ids
            self.add_bos = self.bos_token_id is not None and probe[:1] == [self.bos_token_id]
        source = tok_config.get("chat_template")
        if isinstance(source, list):  # several named templates: the "default" one
            source = next((t.get("template") for t in source if t.get("name") == "default"), None)
        self._template = compile_chat_template(source) if source else None
        self.has_chat_template = self._template is not None

    def encode(self, text, add_bos=None):
        """Token ids of text; special tokens written in the text are recognised. add_bos None: the model's way."""
        ids = self._tok.encode(text, add_special_tokens=False).ids
        add_bos = self.add_bos if add_bos is None else add_bos
        return ([self.bos_token_id] if add_bos and self.bos_token_id is not None else []) + ids

    def render_chat(self, messages, add_generation_prompt=True):
        """The prompt text of a chat, as the model's chat template writes it."""
        import jinja2

        if self._template is None:
            raise ChatTemplateError("this model has no chat_template: send prompt instead of messages")
        try:
            return self._template.render(
                messages=check_messages(messages), add_generation_prompt=add_generation_prompt, **self.special_tokens
            )
        except jinja2.exceptions.TemplateError as e:
            raise ChatTemplateError(f"chat template: {e}") from None

    def encode_chat(self, messages):
        """The template writes every special token itself (a <bos> included), so none is added."""
        return self.encode(self.render_chat(messages), add_bos=False)

    def decode(self, ids):
        return self._tok.decode(ids, skip_special_tokens=True)

    def decoder(self):
        return HFDecoder(self._tok)

    def sampleable_ids(self, vocab_size):
        return list(range(min(vocab_size, self._tok.get_vocab_size(with_added_tokens=True))))


class HFDecoder:
    """Incremental detokenizer: each token decodes a short window of the latest tokens, never the whole completion.

    Semantics: the texts returned by push() and then flush() concatenate to
    tokenizer.decode(all ids, skip_special_tokens=True). Text is emitted only once it is complete: a window whose
    decoded text ends in U+FFFD (a multi-byte character cut between tokens) waits for the next token. The window
    starts at the tokens emitted last (the prefix, decoded again so that decoders whose output depends on the
    previous token, such as SentencePiece's leading space, see it). At most MAX_PENDING tokens wait (only a run of
    invalid bytes gets there): then the text up to the last token boundary that no character straddles is emitted.
    """

    MAX_PENDING = 16

    def __init__(self, tok):
        self._tok, self._ids = tok, []
        self._prefix = self._read = 0  # ids[prefix:read] were emitted last; ids[read:] are pending
        self._prefix_text = ""  # their text

    def _text(self, start, end):
        return self._tok.decode(self._ids[start:end], skip_special_tokens=True)

    def _advance(self, end, text):
        """Emit the text of ids[prefix:end] beyond the prefix's; the emitted tokens become the next prefix."""
        if text.startswith(self._prefix_text):
            delta = text[len(self._prefix_text) :]
        else:  # a decoder that rewrote the prefix: emit from where they differ
            delta = text[len(os.path.commonprefix([self._prefix_text, text])) :]
        self._prefix, self._read = self._read, end
        self._prefix_text = self._text(self._prefix, self._read)
        return delta

    def push(self, token_id):
        self._ids.append(token_id)
        end = len(self._ids)
        text = self._text(self._prefix, end)
        if len(text) > len(self._prefix_text) and not text.endswith("\ufffd"):
            return self._advance(end, text)
        if end - self._read < self.MAX_PENDING:
            return ""
        # Too many pending: cut at the last boundary k where decoding the two sides apart gives the same text as
        # decoding them together, i.e. no character (complete or not) straddles k, whatever tokens come next.
        for k in range(end - 1, self._read, -1):
            head = self._text(self._prefix, k)
            if head + self._text(k, end) == text:
                return self._advance(k, head)
        return self._advance(end, text)

    def flush(self):
        end = len(self._ids)
        return self._advance(end, self._text(self._prefix, end)) if self._read < end else ""


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
    if os.path.exists(os.path.join(model_dir, "tokenizer.json")):
        try:
            return HFTokenizer(model_dir, config)
        except ImportError as e:
            raise ValueError(
                f"this model's tokenizer needs the `{e.name}` package: run scripts/setup.sh and use .venv/bin/python"
            ) from None
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
