"""train-adapter: the loss falls, the adapter loads through the normal source and hash check, greedy decoding
from a training prefix continues the training text verbatim, and the same seed writes the same artifact."""

import json
import os

from conftest import make_scheduler, run_to_completion
from openpoa_engine.adapters import artifact_hash_of_dir
from openpoa_engine.cli import main
from openpoa_engine.scheduler import Request, SamplingParams
from openpoa_engine.tokenizer import ByteTokenizer
from openpoa_engine.train import parse_targets

TEXTS = (
    "The ferry leaves at seven from the old stone pier, and the gulls follow it halfway across the bay.",
    "Grind the coffee coarse, pour water just off the boil, wait four minutes and press the plunger down slowly.",
)
PREFIX = 16


def test_train_adapter_memorises_and_is_reproducible(model_dir, model, tmp_path, capsys):
    files = []
    for i, text in enumerate(TEXTS):
        path = tmp_path / f"doc{i}.txt"
        path.write_text(text)
        files.append(str(path))
    root = str(tmp_path / "adapters")
    args = ["train-adapter", "--model", model_dir, "--data", *files, "--out", root, "--seed", "3", "--json"]
    args += ["--steps", "120"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    sha = summary["sha256"]
    assert summary["loss_last"] < 0.1 * summary["loss_first"], summary
    assert artifact_hash_of_dir(os.path.join(root, sha)) == sha
    with open(os.path.join(root, sha, "adapter_config.json")) as f:
        peft = json.load(f)
    assert peft["base_model_name_or_path"] == model.config.name and peft["r"] == 64
    with open(os.path.join(root, "manifest.json")) as f:
        assert [a["sha256"] for a in json.load(f)["adapters"]] == [sha]

    # Served like any other adapter: directory source, hash recomputed on load, packed into pages.
    scheduler, results = make_scheduler(model, root), {}
    for i, text in enumerate(TEXTS):
        prompt = ByteTokenizer().encode(text[:PREFIX])
        params = SamplingParams(max_tokens=len(text) - PREFIX, temperature=0.0)
        emit = lambda e, i=i: results.__setitem__(i, e["text"]) if e["type"] == "done" else None  # noqa: E731
        scheduler.submit(Request(f"r{i}", prompt, params, sha, emit))
    run_to_completion(scheduler)
    for i, text in enumerate(TEXTS):
        expected, got = text[PREFIX:], results[i]
        verbatim = next((k for k in range(min(len(expected), len(got))) if expected[k] != got[k]), len(got))
        assert verbatim >= 60, (verbatim, got)

    # Same seed, same data: byte-identical files, so the same hash; the manifest keeps one entry.
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["sha256"] == sha
    with open(os.path.join(root, "manifest.json")) as f:
        assert len(json.load(f)["adapters"]) == 1


def test_parse_targets():
    assert parse_targets("v,q") == ("q_proj", "v_proj")
    assert parse_targets("gate_proj,down") == ("gate_proj", "down_proj")
