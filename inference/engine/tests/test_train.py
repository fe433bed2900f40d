"""train-adapter: the loss falls, the adapter loads through the normal source and hash check, greedy decoding
from a training prefix continues the training text verbatim, and the same seed writes the same artifact."""

import json
import os

from conftest import make_scheduler, run_to_completion
from openpoa_engine.adapters import artifact_hash_of_dir
from openpoa_engine.cli import main
from openpoa_engine.scheduler import Request, SamplingParams
from openpoa_engine.tokenizer import ByteTokenizer
from openpoa_engine.train import TRAINING_MANIFEST, Dataset, pack_sequences, parse_targets, split_holdout

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


def test_pack_sequences_cuts_long_documents_and_never_exceeds_the_length():
    docs = [list(range(5)), list(range(100, 112)), [7, 8]]
    sequences = pack_sequences(docs, 8)
    assert all(len(tokens) <= 8 for tokens, _ in sequences)
    # Every token once, in order; every span inside its sequence.
    assert [t for tokens, _ in sequences for t in tokens] == [t for d in docs for t in d]
    assert [n for _, spans in sequences for _, n in spans] == [5, 8, 4, 2]
    for tokens, spans in sequences:
        assert sum(n for _, n in spans) == len(tokens) and spans[0][0] == 0


def test_split_holdout_keeps_one_of_every_dataset_of_two_or_more_by_seed():
    datasets = [Dataset("a", ["a1", "a2", "a3", "a4"]), Dataset("b", ["b1"]), Dataset("c", ["c1", "c2"])]
    train, held, counts = split_holdout(datasets, 0.25, seed=1)
    assert (
        counts == [1, 0, 1] and len(held) == 2 and sorted(train + held) == sorted(sum((d.texts for d in datasets), []))
    )
    assert split_holdout(datasets, 0.25, seed=1) == (train, held, counts)
    assert split_holdout(datasets, 0.0, seed=1) == (sum((d.texts for d in datasets), []), [], [0, 0, 0])


def test_train_adapter_from_a_spec_reports_held_out_loss_and_writes_its_manifest(model_dir, tmp_path, capsys):
    files = []
    for i, text in enumerate(TEXTS + TEXTS):
        path = tmp_path / f"doc{i}.txt"
        path.write_text(text)
        files.append(str(path))
    spec = tmp_path / "spec.json"
    meta = {"datanetId": "1", "version": "2", "weightBps": 10000}
    spec.write_text(json.dumps({"datasets": [{"name": "datanet 1 v2", "files": files, "meta": meta}]}))
    root = str(tmp_path / "adapters")
    args = ["train-adapter", "--model", model_dir, "--spec", str(spec), "--out", root, "--steps", "40", "--json"]
    assert main(args + ["--holdout", "0.25", "--seq-len", "64", "--base-artifact-hash", "ab" * 32]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["heldOutDocuments"] == 1 and summary["documents"] == 3
    # Every document is there twice, so the held-out one is a copy of a trained one: training lowers its loss.
    assert summary["heldOutLoss"]["after"] < summary["heldOutLoss"]["before"]
    with open(os.path.join(root, summary["sha256"], TRAINING_MANIFEST)) as f:
        manifest = json.load(f)
    assert manifest["datasets"] == [{"name": "datanet 1 v2", "documents": 4, "heldOut": 1, **meta}]
    assert manifest["baseModel"]["artifactHash"] == "ab" * 32 and len(manifest["losses"]) == 40
    assert manifest["hyperparameters"]["seqLen"] == 64
    progress = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    assert progress[-1]["step"] == 40 and progress[-1]["etaSeconds"] == 0
