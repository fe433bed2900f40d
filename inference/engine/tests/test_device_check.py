"""The GPU's prepared script (gpu/device_check.py) runs its logic on the CPU with tiny shapes: it must execute end to
end and write every key of bench/results/engine-gpu.json, so that the one run on a lent GPU does not fail on a bug."""

import importlib.util
import json
import os

from conftest import ENGINE_DIR

KEYS = [
    "device",
    "model",
    "baseTokensPerSec",
    "multiAdapterTokensPerSec",
    "baseBoundTokensPerSec",
    "mixedBoundTokensPerSec",
    "baseFractionOfBound",
    "mixedFractionOfBound",
    "coldLoadMs",
    "sweep",
    "targets",
]


def test_cpu_smoke_writes_the_results_and_chart(tmp_path):
    spec = importlib.util.spec_from_file_location("device_check", os.path.join(ENGINE_DIR, "gpu", "device_check.py"))
    device_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(device_check)
    out, chart = tmp_path / "engine-gpu.json", tmp_path / "sweep.png"
    device_check.main(["--cpu-smoke", "--skip-tests", "--out", str(out), "--chart", str(chart)])
    results = json.loads(out.read_text())
    assert "errors" not in results, results.get("errors")
    assert all(k in results for k in KEYS), [k for k in KEYS if k not in results]
    assert [p["distinctAdapters"] for p in results["sweep"]] == list(device_check.SMOKE.sweep)
    assert all(p["tokensPerSec"] > 0 for p in results["sweep"])
    assert results["sweep"][-1]["loadsPerStep"] > 0  # more identities than the device tier holds: loads happen
    assert 0 < results["mixedBoundTokensPerSec"] < results["baseBoundTokensPerSec"]
    assert results["coldLoadMB"] > 0
    if importlib.util.find_spec("PIL"):
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
