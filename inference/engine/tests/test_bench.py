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
    assert 0 < result["ratio"] < 3


def test_bench_on_a_given_model_directory(model_dir, tmp_path):
    out = tmp_path / "engine.json"
    args = ["bench", "--device", "cpu", "--model", model_dir, "--batch", "1", "--steps", "3", "--reps", "1"]
    cli_main([*args, "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["model"].startswith("openpoa/generated-tiny-seed0 ") and result["batch"] == 1
    assert (tmp_path / "cache" / "bench-adapters-openpoa-generated-tiny-seed0-r16" / "manifest.json").exists()


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
