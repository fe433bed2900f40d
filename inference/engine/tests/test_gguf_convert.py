"""Conversion pieces that need neither the `gguf` package nor the real model: the q/k un-permutation against RoPE
semantics, the GGUF metadata -> config/tokenizer mapping, and the base-model artifact hash against TypeScript's."""

import os
import shutil
import subprocess

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT

from openpoa_engine import kernels
from openpoa_engine.adapters import model_artifact_hash_of_dir
from openpoa_engine.gguf_convert import generation_config, hf_config, tokenizer_config, tokenizer_json, unpermute_qk


def llama_cpp_permute(w, n_head):
    """convert_hf_to_gguf.py's LlamaModel.permute: what llama.cpp stores for q_proj and k_proj."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def interleaved_rope(x, positions, theta):
    """llama.cpp's normal RoPE, fp32 reference: pairs (2i, 2i+1) of each head rotated by position * theta^(-2i/d)."""
    d = x.shape[-1]
    angles = positions[:, None].double() * theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    cos, sin = angles.cos().float()[:, None, :], angles.sin().float()[:, None, :]
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1).flatten(-2)


def test_unpermuted_weights_under_hf_rope_give_llama_cpp_attention_scores():
    g = torch.Generator().manual_seed(0)
    heads, kv_heads, d, hidden, tokens, theta = 6, 2, 16, 40, 7, 10000.0
    wq, wk = torch.randn(heads * d, hidden, generator=g), torch.randn(kv_heads * d, hidden, generator=g)
    gq, gk = (torch.from_numpy(llama_cpp_permute(w.numpy(), n)) for w, n in ((wq, heads), (wk, kv_heads)))
    assert torch.equal(torch.from_numpy(unpermute_qk(gq.numpy(), heads)), wq)
    assert torch.equal(torch.from_numpy(unpermute_qk(gk.numpy(), kv_heads)), wk)

    x, positions = torch.randn(tokens, hidden, generator=g), torch.arange(3, 3 + tokens)
    cos, sin = (t[positions] for t in kernels.rope_tables(d, 32, theta))
    hf_q = kernels.apply_rope((x @ wq.t()).view(tokens, heads, d), cos, sin)
    hf_k = kernels.apply_rope((x @ wk.t()).view(tokens, kv_heads, d), cos, sin)
    cpp_q = interleaved_rope((x @ gq.t()).view(tokens, heads, d), positions, theta)
    cpp_k = interleaved_rope((x @ gk.t()).view(tokens, kv_heads, d), positions, theta)
    group = heads // kv_heads
    hf_scores = torch.einsum("thd,shd->hts", hf_q, hf_k.repeat_interleave(group, dim=1))
    cpp_scores = torch.einsum("thd,shd->hts", cpp_q, cpp_k.repeat_interleave(group, dim=1))
    torch.testing.assert_close(hf_scores, cpp_scores, atol=1e-4, rtol=1e-4)
    # the conventions do differ: without the un-permutation (llama.cpp's RoPE on HF's rows) the scores are wrong
    cpp_k_unpermuted = interleaved_rope((x @ wk.t()).view(tokens, kv_heads, d), positions, theta)
    wrong = torch.einsum("thd,shd->hts", hf_q, cpp_k_unpermuted.repeat_interleave(group, dim=1))
    assert not torch.allclose(hf_scores, wrong, atol=1e-2)


META = {
    "general.architecture": "llama",
    "llama.embedding_length": 8,
    "llama.attention.head_count": 2,
    "llama.attention.head_count_kv": 1,
    "llama.block_count": 1,
    "llama.feed_forward_length": 16,
    "llama.context_length": 64,
    "llama.attention.layer_norm_rms_epsilon": float(np.float32(1e-5)),
    "llama.rope.freq_base": 10000.0,
    "tokenizer.ggml.model": "gpt2",
    "tokenizer.ggml.pre": "smollm",
    "tokenizer.ggml.tokens": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "a", "b", "ab", "Ġ", "Ġab"],
    "tokenizer.ggml.token_type": [3, 3, 3, 1, 1, 1, 1, 1],
    "tokenizer.ggml.merges": ["a b", "Ġ ab"],
    "tokenizer.ggml.bos_token_id": 1,
    "tokenizer.ggml.eos_token_id": 2,
    "tokenizer.ggml.padding_token_id": 2,
    "tokenizer.ggml.add_bos_token": False,
    "tokenizer.chat_template": "{% for m in messages %}<|im_start|>{{ m['content'] }}<|im_end|>{% endfor %}",
}


def test_metadata_mapping():
    config = hf_config(META, "org/model", has_output=False)
    assert config["rms_norm_eps"] == 1e-05 and config["tie_word_embeddings"] is True
    assert (config["head_dim"], config["num_key_value_heads"], config["vocab_size"]) == (4, 1, 8)
    assert generation_config(META) == {"bos_token_id": 1, "eos_token_id": [2, 0], "pad_token_id": 2}
    tc = tokenizer_config(META, 64)
    assert (tc["bos_token"], tc["eos_token"], tc["pad_token"], tc["add_bos_token"]) == (
        "<|im_start|>",
        "<|im_end|>",
        "<|im_end|>",
        False,
    )
    tj = tokenizer_json(META)
    assert [t["id"] for t in tj["added_tokens"]] == [0, 1, 2] and tj["model"]["merges"] == [["a", "b"], ["Ġ", "ab"]]
    assert tj["pre_tokenizer"]["pretokenizers"][0] == {"type": "Digits", "individual_digits": True}
    with pytest.raises(ValueError, match="not supported"):
        tokenizer_json({**META, "tokenizer.ggml.pre": "llama-bpe"})
    with pytest.raises(ValueError, match="not llama"):
        hf_config({**META, "general.architecture": "qwen2"}, "x", False)


def test_model_artifact_hash_equals_the_typescript_one(tmp_path):
    files = {"config.json": b'{"a": 1}\n', "model.safetensors": bytes(range(256)) * 3, "Z.txt": b"", "a.txt": b"x"}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "openpoa-artifact.json").write_bytes(b"manifest: not hashed")
    (tmp_path / ".stamp").write_bytes(b"dotfile: not hashed")
    # computed by inference/artifacts/hash.ts (hashArtifactDir(dir, "model")) on these files
    expected = "b5ce57c7a5aa874ec1b2edb2cd42c6864581b4f94e44c5e78255b8cb322d7597"
    assert model_artifact_hash_of_dir(str(tmp_path)) == expected
    node = os.path.join(REPO_ROOT, "node_modules", ".bin", "node")
    if os.path.exists(node):  # and again, live, where the repo's Node is installed
        script = (
            "import('./inference/artifacts/hash.ts').then(async (m) =>"
            f" console.log((await m.hashArtifactDir({str(tmp_path)!r}, 'model')).artifactHash))"
        )
        result = subprocess.run([node, "-e", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        assert result.stdout.strip() == expected, result.stderr
    os.mkdir(tmp_path / "sub")
    with pytest.raises(ValueError, match="flat directory"):
        model_artifact_hash_of_dir(str(tmp_path))
    shutil.rmtree(tmp_path / "sub")
