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
