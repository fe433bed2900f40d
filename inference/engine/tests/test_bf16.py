"""bfloat16 on CPU: the generated tiny model with adapters, decoded in bf16, against the fp32 engine as reference.

torch 1.13's CPU F.embedding_bag (BGMV) has no bf16; the LoRA pools are then fp32 (kernels.lora_pool_dtype) and the
LoRA work runs in fp32, added into the bf16 activations. Tolerance, for logits that reach ~24: max |bf16 - fp32| <=
0.25 and relative (Frobenius) error <= 1 % (observed <= 0.12 and 0.23 %); and the adapter's own effect, (adapter -
base) in bf16 vs in fp32, within 35 % (observed 2-21 %: the base model's bf16 rounding is most of it, and a lost or
badly scaled LoRA delta would be 100 %).
"""

import pytest
import torch

from conftest import engine_logits, make_cache, make_scheduler, run_to_completion
from openpoa_engine import kernels
from openpoa_engine.model import Llama
from openpoa_engine.scheduler import Request, SamplingParams
from openpoa_engine.tokenizer import ByteTokenizer

PROMPTS = ("Hello there, how are", "The quick brown fox", "abc")


@pytest.fixture(scope="module")
def bf16_model(model_dir):
    return Llama.load(model_dir, dtype=torch.bfloat16)


def test_bf16_cpu_decode_matches_fp32_reference(model, bf16_model, adapters):
    root, shas = adapters
    chosen = [None, shas["r8"][0], shas["r16"][1], shas["r40"][0], shas["attn_rslora"][0]]
    rows = [(ByteTokenizer().encode(p), sha) for p in PROMPTS for sha in chosen]
    reference = engine_logits(model, make_cache(model, root), rows)
    cache = make_cache(bf16_model, root)
    assert cache.dtype == kernels.lora_pool_dtype("cpu", torch.bfloat16)
    got = engine_logits(bf16_model, cache, rows)
    for k, ((_, sha), ref, out) in enumerate(zip(rows, reference, got)):
        assert (out - ref).abs().max() <= 0.25 and (out - ref).norm() <= 0.01 * ref.norm(), k
        if sha:
            base = k - k % len(chosen)
            effect, effect_bf16 = ref - reference[base], out - got[base]
            assert (effect_bf16 - effect).norm() <= 0.35 * effect.norm(), k


def test_bf16_cpu_serves_mixed_adapters_through_the_scheduler(bf16_model, adapters):
    """The path that crashed in F.embedding_bag before: continuous batching, prefill and decode, in bf16."""
    root, shas = adapters
    scheduler, done = make_scheduler(bf16_model, root), {}
    chosen = [shas["r8"][0], None, shas["r40"][0], shas["attn_rslora"][0]]
    for i, sha in enumerate(chosen):
        params = SamplingParams(max_tokens=12, temperature=0.0, ignore_eos=True)
        emit = lambda e, i=i: done.__setitem__(i, e) if e["type"] in ("done", "error") else None  # noqa: E731
        scheduler.submit(Request(f"r{i}", ByteTokenizer().encode(PROMPTS[i % 3]), params, sha, emit))
    run_to_completion(scheduler)
    assert [done[i]["type"] for i in range(len(chosen))] == ["done"] * len(chosen)
    assert all(done[i]["usage"]["completion_tokens"] == 12 for i in range(len(chosen)))


def test_a_dtype_without_cpu_matrix_products_is_refused_at_start(model_dir):
    if kernels._works("matmul", "cpu", torch.float16):
        pytest.skip(f"torch {torch.__version__} multiplies float16 on CPU")
    with pytest.raises(ValueError, match="float16 matrix products are not implemented on cpu"):
        Llama.load(model_dir, dtype=torch.float16)
