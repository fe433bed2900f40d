import json

from openpoa_engine.cli import main as cli_main


def test_bench_writes_the_result_schema(tmp_path):
    out = tmp_path / "engine.json"
    cli_main(
        [
            "bench",
            "--device",
            "cpu",
            "--preset",
            "tiny",
            "--batch",
            "4",
            "--steps",
            "3",
            "--reps",
            "1",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--out",
            str(out),
        ]
    )
    result = json.loads(out.read_text())
    assert result["device"] == "cpu" and result["batch"] == 4 and result["residentAdapters"] == 4
    for key in ("baseTokensPerSec", "multiAdapterTokensPerSec", "ratio", "adapterColdLoadMs"):
        assert result[key] > 0, key
    assert abs(result["ratioOfMedians"] - result["multiAdapterTokensPerSec"] / result["baseTokensPerSec"]) < 0.01


def test_bench_on_a_given_model_directory(model_dir, tmp_path):
    out = tmp_path / "engine.json"
    args = ["bench", "--device", "cpu", "--model", model_dir, "--batch", "1", "--steps", "3", "--reps", "1"]
    cli_main([*args, "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["model"].startswith("openpoa/generated-tiny-seed0 ") and result["batch"] == 1
    assert (tmp_path / "cache" / "bench-adapters-openpoa-generated-tiny-seed0-r16" / "manifest.json").exists()


def test_kv_admission_counts_blocks_of_each_length():
    from openpoa_engine.bench import bench_kv, kv_admitted

    # 10 blocks of 16 tokens: 16 (1) + 17 (2) + 64 (4) + 48 (3) fill them; the next sequence does not fit
    assert kv_admitted([16, 17, 64, 48, 1], num_blocks=10, block_size=16) == 4
    result = bench_kv(trials=2)
    assert result["contiguousSequences"] == 32  # 16 GiB at 128 KiB a token: 131,072 tokens in rows of 4,096
    assert result["pagedOverContiguous"] == round(result["pagedSequences"] / 32, 2) > 3


def test_fairness_bench_runs_the_scheduler_to_the_end(tmp_path):
    from openpoa_engine.bench import bench_fairness

    result = bench_fairness(str(tmp_path), num_adapters=30, requests=60, rare_from=10, aging_steps=8)
    bound = result["capAndPagesBind"]
    for run in (result, result["withoutAging"], result["tightPages"], result["tightPagesOverloaded"], bound):
        assert 0 <= run["p99WaitSteps"] <= run["maxWaitSteps"] and run["tokensPerStep"] > 0
    assert bound["maxAdaptersPerBatch"] == 8 and bound["evictions"] > 0 and 0 < bound["stepsAtCap"] <= 1
    assert 0 < result["rareRequests"] < 60


def test_adapter_benchmarks_at_a_small_scale(tmp_path):
    from openpoa_engine import bench_adapters
    from openpoa_engine.config import LORA_PROJECTIONS

    assert bench_adapters.adapters_per_gib(bench_adapters.LLAMA3_8B, 8, ("q_proj", "v_proj")) == 146
    assert bench_adapters.adapters_per_gib(bench_adapters.LLAMA3_8B, 16, LORA_PROJECTIONS) == 12  # 80 MiB each
    model_dir, root, shas = bench_adapters.prepare(str(tmp_path), 8)
    assert len(set(shas)) == 8
    with bench_adapters.served(root) as url:
        memory = bench_adapters.bench_memory(model_dir, url, shas, host_mb=2, max_tokens=2, pairs=1)
        cycling = bench_adapters.bench_cycling(model_dir, url, shas, 16, per_round=16, batch=4, max_tokens=4, host_mb=2)
    assert memory["hostBudgetMb"] == 2 and memory["hostTierAtEnd"]["mb"] <= 2 and memory["peakRssMb"]["adapters"][0] > 0
    assert cycling["adapters"] == 8 and cycling["coldRatio"] > 0 and cycling["warmRatio"] > 0
    # cold loads came from the disk cache (8 adapters fit the device tier here, so later requests hit it), warm ones
    # from the host tier; nothing was downloaded while timed
    assert cycling["coldLoadsFromDisk"] > 0 and cycling["warmLoadsFromDisk"] == 0
    assert cycling["downloadsWhileTimed"] == 0
