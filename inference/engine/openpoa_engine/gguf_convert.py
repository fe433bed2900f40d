"""GGUF (llama.cpp) -> the Hugging Face layout the engine loads: config.json, model.safetensors, tokenizer.json,
tokenizer_config.json (with the chat template), generation_config.json.

Reads the file with the `gguf` package (its reader and its numpy dequantisers), imported only here. The output is
deterministic: the same GGUF gives the same bytes on every run and machine (JSON with sorted keys or a fixed key
order, floats printed shortest-round-trip, tensors in name order, no timestamps).

Weights are written as float32 by default: every GGUF type we read (F32, F16, Q8_0, Q4_0, Q4_1, ...) dequantises to
values that float32 holds exactly or nearly so (a float16 scale times a small integer, plus a float16 offset), so the
checkpoint is the GGUF's own weights with nothing lost. bfloat16 (--dtype bfloat16) halves the file but rounds every
weight to 8 significant bits; the engine can still run float32 weights in bfloat16 (serve --dtype bfloat16).
"""

import hashlib
import json
import os
import shutil

import numpy as np
import torch

from . import safetensors_io

STAMP_FILE = ".openpoa-convert.json"  # a dotfile: never part of the model artifact hash
CONVERTER_VERSION = 1  # bump when the output of the same GGUF changes

# llama.cpp tensor names -> Hugging Face Llama names (per layer: blk.N.<key>)
_GLOBAL_TENSORS = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
_LAYER_TENSORS = {
    "attn_norm.weight": "input_layernorm.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
# tokenizer.ggml.pre values whose pre-tokenisation is "every digit alone, then GPT-2's byte-level regex"
# (llama.cpp: LLAMA_VOCAB_PRE_TYPE_SMOLLM, STARCODER, REFACT, CODESHELL), and plain GPT-2.
_DIGITS_THEN_GPT2 = ("smollm", "starcoder", "refact", "codeshell")
_GPT2 = ("gpt-2", "gpt2", "default")
# Control tokens that end a turn whatever the template (llama.cpp marks these end-of-generation by their text).
_END_OF_GENERATION = ("<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<end_of_turn>", "<EOT>")
TOKEN_NORMAL, TOKEN_CONTROL, TOKEN_USER_DEFINED = 1, 3, 4


class ConvertError(ValueError):
    pass


def unpermute_qk(weight, n_head):
    """Undo llama.cpp's rotary permutation of a q or k projection ([out, in], n_head heads of out/n_head rows).

    Semantics: llama.cpp's convert_hf_to_gguf.py stores w.reshape(n_head, 2, d/2, in).swapaxes(1, 2) so that its
    interleaved RoPE (pairs 2i, 2i+1) computes what Hugging Face's rotate-half RoPE (pairs i, i+d/2) computes on the
    original rows: GGUF row h*d + 2i + j holds HF row h*d + j*d/2 + i. This returns the HF rows.
    """
    out, inp = weight.shape
    return weight.reshape(n_head, out // n_head // 2, 2, inp).swapaxes(1, 2).reshape(out, inp)


def _float32_value(x):
    """A GGUF float32 as the shortest decimal that reads back as the same float32 (9.9999997e-06 -> 1e-05)."""
    return float(np.format_float_positional(np.float32(x), unique=True, trim="-"))


def _fields(reader):
    values = {}
    for key, field in reader.fields.items():
        try:
            values[key] = field.contents()
        except Exception:  # a field this gguf version cannot decode is one we do not read
            continue
    return values


def _require(meta, key):
    if key not in meta:
        raise ConvertError(f"GGUF lacks {key}")
    return meta[key]


def hf_config(meta, name, has_output):
    if meta.get("general.architecture") != "llama":
        raise ConvertError(f"architecture {meta.get('general.architecture')!r} is not llama")
    arch = "llama."
    hidden = int(_require(meta, arch + "embedding_length"))
    heads = int(_require(meta, arch + "attention.head_count"))
    head_dim = int(meta.get(arch + "rope.dimension_count", hidden // heads))
    if head_dim * heads != hidden:
        raise ConvertError(f"head_dim {head_dim} x heads {heads} != hidden {hidden}: not a plain Llama")
    if meta.get(arch + "rope.scaling.type", "none") not in ("none",):
        raise ConvertError(f"rope scaling {meta[arch + 'rope.scaling.type']!r} is not converted yet")
    eos = meta.get("tokenizer.ggml.eos_token_id")
    return {
        "_name_or_path": name,
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "bos_token_id": meta.get("tokenizer.ggml.bos_token_id"),
        "eos_token_id": eos,
        "head_dim": head_dim,
        "hidden_act": "silu",
        "hidden_size": hidden,
        "intermediate_size": int(_require(meta, arch + "feed_forward_length")),
        "max_position_embeddings": int(_require(meta, arch + "context_length")),
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": heads,
        "num_hidden_layers": int(_require(meta, arch + "block_count")),
        "num_key_value_heads": int(meta.get(arch + "attention.head_count_kv", heads)),
        "pad_token_id": meta.get("tokenizer.ggml.padding_token_id"),
        "rms_norm_eps": _float32_value(_require(meta, arch + "attention.layer_norm_rms_epsilon")),
        "rope_scaling": None,
        "rope_theta": _float32_value(meta.get(arch + "rope.freq_base", 10000.0)),
        "tie_word_embeddings": not has_output,
        "torch_dtype": "float32",
        "vocab_size": int(meta.get(arch + "vocab_size", len(_require(meta, "tokenizer.ggml.tokens")))),
    }


def _byte_level_pre_tokenizer(pre):
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    if pre in _DIGITS_THEN_GPT2:
        return {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, byte_level]}
    if pre in _GPT2:
        return byte_level
    raise ConvertError(f"tokenizer.ggml.pre {pre!r} is not supported yet (supported: {_DIGITS_THEN_GPT2 + _GPT2})")


def tokenizer_json(meta):
    """A `tokenizers` tokenizer.json for a GPT-2 style byte-level BPE vocabulary (tokenizer.ggml.model == gpt2)."""
    if meta.get("tokenizer.ggml.model") != "gpt2":
        raise ConvertError(f"tokenizer.ggml.model {meta.get('tokenizer.ggml.model')!r} is not gpt2 (byte-level BPE)")
    tokens = list(_require(meta, "tokenizer.ggml.tokens"))
    types = list(meta.get("tokenizer.ggml.token_type", [TOKEN_NORMAL] * len(tokens)))
    merges = list(_require(meta, "tokenizer.ggml.merges"))
    if len(set(tokens)) != len(tokens):
        raise ConvertError("tokenizer.ggml.tokens holds duplicates")
    added = [
        {
            "id": i,
            "content": token,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": types[i] == TOKEN_CONTROL,
        }
        for i, token in enumerate(tokens)
        if types[i] in (TOKEN_CONTROL, TOKEN_USER_DEFINED)
    ]
    pairs = []
    for merge in merges:
        left, sep, right = merge.partition(" ")
        if not sep or not left or not right or " " in right:
            raise ConvertError(f"merge {merge!r} is not two space-separated tokens")
        pairs.append([left, right])
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": _byte_level_pre_tokenizer(meta.get("tokenizer.ggml.pre", "default")),
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": {token: i for i, token in enumerate(tokens)},
            "merges": pairs,
        },
    }


def tokenizer_config(meta, max_positions):
    tokens = list(_require(meta, "tokenizer.ggml.tokens"))

    def token(key):
        i = meta.get(f"tokenizer.ggml.{key}_token_id")
        return tokens[i] if i is not None and 0 <= i < len(tokens) else None

    config = {
        "add_bos_token": bool(meta.get("tokenizer.ggml.add_bos_token", False)),
        "add_eos_token": bool(meta.get("tokenizer.ggml.add_eos_token", False)),
        "bos_token": token("bos"),
        "clean_up_tokenization_spaces": False,
        "eos_token": token("eos"),
        "model_max_length": max_positions,
        "pad_token": token("padding"),
        "tokenizer_class": "GPT2Tokenizer",
        "unk_token": token("unknown"),
    }
    if "tokenizer.chat_template" in meta:
        config["chat_template"] = meta["tokenizer.chat_template"]
    return config


def generation_config(meta):
    """eos_token_id: the GGUF's eos first, then the control tokens that end a turn by their text (llama.cpp's rule)."""
    tokens = list(_require(meta, "tokenizer.ggml.tokens"))
    types = list(meta.get("tokenizer.ggml.token_type", [TOKEN_NORMAL] * len(tokens)))
    eos = meta.get("tokenizer.ggml.eos_token_id")
    stops = [eos] if eos is not None else []
    stops += [i for i, t in enumerate(tokens) if types[i] == TOKEN_CONTROL and t in _END_OF_GENERATION and i != eos]
    return {
        "bos_token_id": meta.get("tokenizer.ggml.bos_token_id"),
        "eos_token_id": stops,
        "pad_token_id": meta.get("tokenizer.ggml.padding_token_id"),
    }


def _weights(reader, config, dtype):
    import gguf  # local: only conversion needs the package

    by_name = {t.name: t for t in reader.tensors}
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    out = {}
    for name, tensor in by_name.items():
        if name in _GLOBAL_TENSORS:
            hf_name = _GLOBAL_TENSORS[name]
        else:
            prefix, _, rest = name.partition(".")
            layer, _, key = rest.partition(".")
            if prefix != "blk" or not layer.isdigit() or key not in _LAYER_TENSORS:
                if name in ("rope_freqs.weight",):
                    raise ConvertError(f"{name}: rope frequency factors are not converted yet")
                raise ConvertError(f"unexpected tensor {name!r}")
            hf_name = f"model.layers.{int(layer)}.{_LAYER_TENSORS[key]}"
        array = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        shape = [int(d) for d in reversed(tensor.shape)]  # GGUF lists ne0 (the fastest dimension) first
        array = np.ascontiguousarray(array, dtype=np.float32).reshape(shape)
        if name.endswith("attn_q.weight"):
            array = unpermute_qk(array, heads)
        elif name.endswith("attn_k.weight"):
            array = unpermute_qk(array, kv_heads)
        out[hf_name] = torch.from_numpy(np.array(array, dtype=np.float32, order="C")).to(dtype)
    return out


def _dump_json(obj, path, sort_keys=True):
    text = json.dumps(obj, indent=2, sort_keys=sort_keys, ensure_ascii=False, allow_nan=False) + "\n"
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def _file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _recipe(gguf_sha256, name, dtype_name):
    with open(__file__, "rb") as f:
        converter = hashlib.sha256(f.read()).hexdigest()
    return {
        "converter_version": CONVERTER_VERSION,
        "converter_sha256": converter,
        "dtype": dtype_name,
        "gguf_sha256": gguf_sha256,
        "name": name,
    }


def is_current(out_dir, gguf_path, name="", dtype_name="float32"):
    """Whether out_dir holds this converter's output of this GGUF with these options (the stamp says so)."""
    try:
        with open(os.path.join(out_dir, STAMP_FILE)) as f:
            stamp = json.load(f)
    except (OSError, ValueError):
        return False
    return stamp == _recipe(_file_sha256(gguf_path), name or stamp.get("name"), dtype_name)


def default_name(meta):
    organization, base = meta.get("general.organization"), meta.get("general.name") or "gguf-model"
    return f"{organization}/{base}" if organization else base


def convert_gguf(gguf_path, out_dir, name="", dtype_name="float32"):
    """Write the HF layout of gguf_path into out_dir (built aside, then renamed into place). Returns the config."""
    import gguf  # local: only conversion needs the package

    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype_name]
    reader = gguf.GGUFReader(gguf_path)
    meta = _fields(reader)
    name = name or default_name(meta)
    config = hf_config(meta, name, has_output=any(t.name == "output.weight" for t in reader.tensors))
    config["torch_dtype"] = dtype_name
    tokens = list(_require(meta, "tokenizer.ggml.tokens"))
    if len(tokens) != config["vocab_size"]:
        raise ConvertError(f"{len(tokens)} tokens but vocab_size {config['vocab_size']}")

    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    staging = f"{out_dir}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    try:
        _dump_json(config, os.path.join(staging, "config.json"))
        _dump_json(generation_config(meta), os.path.join(staging, "generation_config.json"))
        _dump_json(
            tokenizer_config(meta, config["max_position_embeddings"]), os.path.join(staging, "tokenizer_config.json")
        )
        _dump_json(tokenizer_json(meta), os.path.join(staging, "tokenizer.json"), sort_keys=False)
        safetensors_io.save_file(
            _weights(reader, config, dtype), os.path.join(staging, "model.safetensors"), {"format": "pt"}
        )
        _dump_json(_recipe(_file_sha256(gguf_path), name, dtype_name), os.path.join(staging, STAMP_FILE))
        del reader
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.rename(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return config
