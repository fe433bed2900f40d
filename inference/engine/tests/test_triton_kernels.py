"""The Triton LoRA kernels against a plain fp32 reference: on CUDA where there is one, else on the CPU through Triton's
interpreter (TRITON_INTERPRET=1; small shapes keep it fast). CI installs Triton (scripts/setup-engine.sh) and sets
OPENPOA_REQUIRE_REAL_MODEL=1, so there a missing Triton fails instead of skipping."""

import os

import pytest
import torch
from conftest import acquire, make_cache, require_packages
from test_kernels import CONFIG, MIXED, ROWS, SEGMENTS, UNIT, reference_delta, tier_with
from test_static_decode import PROMPTS, prefilled

from openpoa_engine import kernels
from openpoa_engine.config import LORA_GROUPS
from openpoa_engine.kernels import LoraIndex
from openpoa_engine.static_decode import StaticDecode

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
if DEVICE == "cpu":
    os.environ["TRITON_INTERPRET"] = "1"  # read when the kernels are decorated, so before the import below


@pytest.fixture(scope="module")
def triton_kernels():
    require_packages("triton")
    from openpoa_engine import triton_kernels

    return triton_kernels


def index_for(tables, group, members, capacity=None, max_rank=40):
    """A LoraIndex (kernels' layout) with one entry per table (None: no adapter), capacity entries in all."""
    out_chunks = [CONFIG.out_features(m) // UNIT for m in members]
    index = LoraIndex(
        capacity or len(tables), group, members, CONFIG.in_features(members[0]) // UNIT, out_chunks, max_rank, DEVICE
    )
    index.fill(tables)
    return index


def pool_views(tier, layer):
    pool = tier.pool[layer].to(DEVICE)  # [pages, unit * PAGE_WIDTH], unused pages NaN (tier_with)
    return pool.view(-1, tier.shrink.shape[2]), pool.view(-1, UNIT)


def expected_rows(base, x, adapters, layer, members):
    """base [n, sum out_m] plus each row's reference delta in fp32 (adapters: per row a LoraWeights or None)."""
    deltas = []
    for r, lora in enumerate(adapters):
        row = x[r : r + 1].float().cpu()
        zero = [torch.zeros(1, CONFIG.out_features(m)) for m in members]
        deltas.append(torch.cat([reference_delta(lora, layer, m, row) for m in members] if lora else zero, 1))
    return base.float().cpu() + torch.cat(deltas)


@pytest.mark.parametrize("group,members", LORA_GROUPS)
def test_bgmv_matches_reference_reading_pages_in_place(triton_kernels, group, members):
    tier, tables = tier_with(MIXED)
    layer = 1
    n, width = len(ROWS), sum(CONFIG.out_features(m) for m in members)
    x = torch.randn(n, CONFIG.in_features(members[0]), device=DEVICE)
    base = torch.randn(n, width, device=DEVICE)
    out = base.clone()
    index = index_for([tables[i] if i >= 0 else None for i in ROWS], group, members)
    triton_kernels.bgmv(out, x, *pool_views(tier, layer), index)
    expected = expected_rows(base, x, [MIXED[i] if i >= 0 else None for i in ROWS], layer, members)
    torch.testing.assert_close(out.cpu(), expected, rtol=1e-4, atol=1e-3)


def test_bgmv_with_a_static_index_larger_than_the_batch(triton_kernels):
    """A graph's index: more entries and a larger max rank than this batch uses; the unused ones add nothing."""
    group, members = LORA_GROUPS[0]
    tier, tables = tier_with(MIXED)
    index = index_for([tables[2], None, tables[4]], group, members, capacity=8, max_rank=64)
    x = torch.randn(3, CONFIG.hidden_size, device=DEVICE)
    base = torch.randn(3, CONFIG.q_size + 2 * CONFIG.kv_size, device=DEVICE)
    out = base.clone()
    triton_kernels.bgmv(out, x, *pool_views(tier, 0), index)
    expected = expected_rows(base, x, [MIXED[2], None, MIXED[4]], 0, members)
    torch.testing.assert_close(out.cpu(), expected, rtol=1e-4, atol=1e-3)
    assert torch.equal(out[1], base[1])  # no adapter: not written


@pytest.mark.parametrize("group,members", LORA_GROUPS)
def test_sgmv_matches_reference_per_segment(triton_kernels, group, members):
    tier, tables = tier_with(MIXED)
    layer = 0
    runs = [(s, e, i) for s, e, i in SEGMENTS if i is not None]  # rows 5..6 have no adapter: no segment
    tokens, width = SEGMENTS[-1][1], sum(CONFIG.out_features(m) for m in members)
    x = torch.randn(tokens, CONFIG.in_features(members[0]), device=DEVICE)
    base = torch.randn(tokens, width, device=DEVICE)
    out = base.clone()
    index = index_for([tables[i] for _, _, i in runs], group, members)
    bounds = torch.tensor([(s, e) for s, e, _ in runs], dtype=torch.int32, device=DEVICE)
    triton_kernels.sgmv(out, x, *pool_views(tier, layer), index, bounds, max(e - s for s, e, _ in runs))
    row_adapter = [None] * tokens
    for s, e, i in runs:
        row_adapter[s:e] = [MIXED[i]] * (e - s)
    torch.testing.assert_close(out.cpu(), expected_rows(base, x, row_adapter, layer, members), rtol=1e-4, atol=1e-3)


def test_bf16_outputs_get_fp32_accumulated_deltas(triton_kernels):
    """bf16 pool and outputs (the GPU's dtype): within bf16 rounding of the fp32 reference."""
    group, members = LORA_GROUPS[2]
    tier, tables = tier_with(MIXED[:3], dtype=torch.bfloat16)
    x = torch.randn(3, CONFIG.hidden_size, device=DEVICE).bfloat16()
    base = torch.randn(3, 2 * CONFIG.intermediate_size, device=DEVICE).bfloat16()
    out = base.clone()
    triton_kernels.bgmv(out, x, *pool_views(tier, 1), index_for(tables, group, members))
    expected = expected_rows(base, x, MIXED[:3], 1, members)  # deltas ~30: bf16 keeps ~0.1
    torch.testing.assert_close(out.float().cpu(), expected, rtol=2e-2, atol=0.5)


@pytest.mark.parametrize("heads,kv_heads,block_size", [(6, 2, 4), (8, 8, 16), (4, 1, 16)])
def test_paged_decode_attention_reads_only_each_sequences_blocks(triton_kernels, heads, kv_heads, block_size):
    """Against kernels.paged_decode_attention (gathered keys, masked past each position); the pool's unused blocks
    are NaN, so reading one would show."""
    g = torch.Generator().manual_seed(heads)
    dim, width, positions = 16, 6, torch.tensor([0, 5, 23, 17, block_size * 6 - 1])
    k_pool = torch.full((40, block_size, kv_heads, dim), float("nan"))
    v_pool = k_pool.clone()
    tables = torch.randperm(40, generator=g)[: len(positions) * width].view(len(positions), width)
    for b, position in enumerate(positions.tolist()):  # only what each sequence has written is finite
        for i in range(position + 1):
            block, row = tables[b, i // block_size], i % block_size
            k_pool[block, row] = torch.randn(kv_heads, dim, generator=g)
            v_pool[block, row] = torch.randn(kv_heads, dim, generator=g)
    q = torch.randn(len(positions), heads, dim, generator=g)
    length = int(positions.max()) + 1
    slots = kernels.block_slots(tables, block_size)[:, :length]
    past = torch.arange(length)[None, :] > positions[:, None]
    mask = torch.zeros(past.shape).masked_fill_(past, float("-inf"))[:, None, None, :]
    expected = kernels.paged_decode_attention(q, k_pool.nan_to_num(), v_pool.nan_to_num(), slots, mask)
    on = [t.to(DEVICE) for t in (q, k_pool, v_pool, tables, positions)]
    torch.testing.assert_close(triton_kernels.paged_decode_attention(*on).cpu(), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(DEVICE == "cuda", reason="on a GPU test_static_decode runs the model through these kernels")
def test_the_model_through_the_triton_kernels_equals_the_cpu_path(triton_kernels, model, adapters, monkeypatch):
    """Every Triton kernel chosen as on CUDA (here interpreted) inside the engine: a packed prefill (SGMV; q, k, v
    side by side in the fused projection's output), then StaticDecode steps (BGMV, paged attention) give the logits
    of the CPU path (per-segment GEMMs, gather_bgmv, gathered attention)."""
    root, shas = adapters
    cache = make_cache(model, root)
    pages = [acquire(cache, shas["r8"][0]), None, acquire(cache, shas["r40"][0]), acquire(cache, shas["r8"][1])]
    tier = cache.device_tier

    def logits():
        kv, tables = prefilled(model, cache, pages, steps=2)
        decode = StaticDecode(model, kv, 6, 4, (tier.shrink, tier.expand), max_rank=40)
        decode.set_rows([p[-1] for p in PROMPTS], [len(p) for p in PROMPTS], tables, pages)
        first = decode.step()[: len(PROMPTS)].clone()
        decode.advance(first.argmax(-1))
        return first, decode.step()[: len(PROMPTS)], kv.k

    expected = logits()
    monkeypatch.setattr(kernels, "fast_kernels", lambda x: triton_kernels)
    for got, want in zip(logits(), expected):  # both steps' logits and every key the prefill and steps wrote
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


# Compiles each kernel for sm_90 (H100/H200) with Triton 3.2's API, through ptxas: the interpreter accepts code
# that the compiler refuses, and this machine has no GPU. In a subprocess, because this module interprets.
COMPILE_FOR_HOPPER = """
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from openpoa_engine import triton_kernels as tk

shrink = dict(UNIT=1024, BLOCK_U=tk.SHRINK_U, CHUNKS=14, MAX_BLOCKS=3, WIDTH=16)
expand = dict(UNIT=1024, BLOCK_U=tk.EXPAND_U, CHUNKS=6, MAX_RANK=16, SHRUNK=48, BLOCK_R=tk.BLOCK_R)
for dt in ("bf16", "fp32"):
    x, pool, i32, f32 = f"*{dt}", f"*{dt}", "*i32", "*fp32"
    cases = [
        (tk._bgmv_shrink, dict(x=x, x_row="i32", pool=pool, pages=i32, blocks=i32, shrunk=f32), shrink),
        (tk._bgmv_expand, dict(shrunk=f32, pool=pool, rows=i32, columns=i32, ranks=i32, out=x, out_row="i32"), expand),
        (tk._sgmv_shrink, dict(x=x, x_row="i32", pool=pool, pages=i32, blocks=i32, bounds=i32, shrunk=f32),
         dict(shrink, BLOCK_T=tk.BLOCK_T)),
        (tk._sgmv_expand, dict(shrunk=f32, pool=pool, rows=i32, columns=i32, ranks=i32, bounds=i32, out=x,
         out_row="i32"), dict(expand, BLOCK_T=tk.BLOCK_T)),
    ]
    cases.append((tk._paged_decode_attention, dict(q=x, k_pool=x, v_pool=x, tables="*i64", positions="*i64", out=x,
                  scale="fp32"), dict(WIDTH=35, BLOCK_SIZE=16, KV_HEADS=8, GROUP=4, GROUP_PAD=16, HEAD_DIM=128,
                  BLOCK_N=64)))
    for fn, signature, constants in cases:
        assert triton.compile(ASTSource(fn, signature, constants), target=GPUTarget("cuda", 90, 32)).asm["cubin"]
print("compiled")
"""


@pytest.mark.skipif(DEVICE == "cuda", reason="on a GPU the other tests compile and run the kernels")
def test_kernels_compile_for_hopper(triton_kernels):
    import subprocess
    import sys

    import triton

    if triton.__version__ != "3.2.0":
        pytest.skip(f"the compile check uses Triton 3.2.0's ASTSource API; this is {triton.__version__}")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    engine = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(
        [sys.executable, "-c", COMPILE_FOR_HOPPER], cwd=engine, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and "compiled" in done.stdout, done.stderr[-3000:]
