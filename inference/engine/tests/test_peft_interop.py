"""Interop with Hugging Face PEFT, proven against golden fixtures that transformers 4.40.2 + peft 0.10.0 wrote
(tests/fixtures/make_peft_fixtures.py, run once; neither library is needed here).

The engine loads the fixture model and PEFT's adapter directories unchanged (only moved under their artifact hash),
and its fp32 logits equal PEFT's within ATOL = 5e-5 absolute, at every position of every prompt, for the base model,
each adapter alone and a batch mixing all of them, through both LoRA kernels (SGMV for the prefilled part of each
prompt, BGMV for the rest, decoded token by token). Logits reach ~8 in magnitude; observed differences are <= 1.3e-5,
while each adapter moves some logit by 1.2 to 5.9, so a 1 % error in a scale would show as >= 1e-2.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from conftest import engine_logits, make_cache
from openpoa_engine import safetensors_io
from openpoa_engine.adapters import (
    AdapterError,
    artifact_hash_of_dir,
    model_artifact_hash_of_dir,
    parse_adapter,
    read_artifact,
)
from openpoa_engine.config import ModelConfig
from openpoa_engine.generate import generate_adapters
from openpoa_engine.model import Llama

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "peft")
MODEL_DIR = os.path.join(FIXTURES, "model")
ADAPTERS = ("rslora_all", "qv_r20", "regex_layer1_bf16")
ATOL = 5e-5


@pytest.fixture(scope="module")
def golden():
    with open(os.path.join(FIXTURES, "golden.json")) as f:
        meta = json.load(f)
    return meta, safetensors_io.load_file(os.path.join(FIXTURES, "golden_logits.safetensors"))


@pytest.fixture(scope="module")
def peft_model():
    return Llama.load(MODEL_DIR)


@pytest.fixture(scope="module")
def peft_root(tmp_path_factory):
    """PEFT's adapter directories, their two files copied byte for byte under ROOT/<artifact hash>/."""
    root = str(tmp_path_factory.mktemp("peft-adapters"))
    shas = {}
    for name in ADAPTERS:
        sha = artifact_hash_of_dir(os.path.join(FIXTURES, name))
        os.makedirs(os.path.join(root, sha))
        for file in ("adapter_config.json", "adapter_model.safetensors"):
            shutil.copyfile(os.path.join(FIXTURES, name, file), os.path.join(root, sha, file))
        shas[name] = sha
    return root, shas


def expected(golden, variant, prompt_index):
    return golden[1][f"{variant}.{prompt_index}"]


def test_fixture_model_loads_unchanged_and_base_logits_match_transformers(peft_model, peft_root, golden):
    meta, _ = golden
    assert peft_model.config.name == meta["model_name"]  # config.json _name_or_path, as transformers saved it
    cache = make_cache(peft_model, peft_root[0])
    rows = [(p, None) for p in meta["prompts"]]
    for i, logits in enumerate(engine_logits(peft_model, cache, rows)):
        torch.testing.assert_close(logits, expected(golden, "base", i), rtol=0, atol=ATOL)


@pytest.mark.parametrize("name", ADAPTERS)
def test_each_peft_adapter_alone_matches_peft(peft_model, peft_root, golden, name):
    meta, _ = golden
    root, shas = peft_root
    cache = make_cache(peft_model, root)
    lora = parse_adapter(*read_artifact(os.path.join(root, shas[name])), peft_model.config)
    assert lora.scale == pytest.approx(meta["adapters"][name]["peft_scaling"], rel=1e-12)
    rows = [(p, shas[name]) for p in meta["prompts"]]
    for i, logits in enumerate(engine_logits(peft_model, cache, rows)):
        torch.testing.assert_close(logits, expected(golden, name, i), rtol=0, atol=ATOL)
        assert (logits - expected(golden, "base", i)).abs().max() > 0.1  # the adapter does change the output


def test_mixed_batch_of_peft_adapters_matches_peft(peft_model, peft_root, golden):
    """Every (prompt, adapter or none) pair in one batch, interleaved: one adapter per row, BGMV and SGMV."""
    meta, _ = golden
    root, shas = peft_root
    cache = make_cache(peft_model, root)
    variants = ["base", *ADAPTERS]
    pairs = [(i, v) for v in range(len(variants)) for i in range(len(meta["prompts"]))]
    pairs = pairs[1::2] + pairs[0::2]  # neighbours use different adapters
    rows = [(meta["prompts"][i], shas.get(variants[v])) for i, v in pairs]
    for (i, v), logits in zip(pairs, engine_logits(peft_model, cache, rows)):
        torch.testing.assert_close(logits, expected(golden, variants[v], i), rtol=0, atol=ATOL)


def edited(name, edit_config=None, edit_weights=None):
    """The bytes of a PEFT fixture adapter, its config and/or tensors edited."""
    config_bytes, weights_bytes = read_artifact(os.path.join(FIXTURES, name))
    config = json.loads(config_bytes)
    if edit_config:
        edit_config(config)
    tensors = safetensors_io.load_bytes(bytearray(weights_bytes))
    if edit_weights:
        edit_weights(tensors)
    return json.dumps(config).encode(), safetensors_io.to_bytes(tensors)


def parse_edited(model, name, edit_config=None, edit_weights=None):
    return parse_adapter(*edited(name, edit_config, edit_weights), model.config)


def refusal(model, name, edit_config=None, edit_weights=None):
    with pytest.raises(AdapterError) as e:
        parse_edited(model, name, edit_config, edit_weights)
    return e.value


def test_peft_config_defaults_and_target_modules_follow_peft(peft_model, golden):
    meta, _ = golden
    defaults = meta["lora_config_defaults"]
    # A config without lora_alpha or r means LoraConfig's defaults (8 and 8), not alpha = r.
    lora = parse_edited(peft_model, "rslora_all", lambda c: [c.pop("lora_alpha"), c.pop("r")])
    assert (lora.rank, lora.scale) == (defaults["r"], defaults["lora_alpha"] / defaults["r"] ** 0.5)
    lora = parse_edited(peft_model, "qv_r20", lambda c: [c.pop("lora_alpha"), c.pop("use_rslora")])
    assert lora.scale == defaults["lora_alpha"] / 20
    # target_modules: a list (exact name or suffix), a regex string, "all-linear", or missing (PEFT's Llama default).
    assert meta["default_target_modules_llama"] == ["q_proj", "v_proj"]
    assert len(parse_edited(peft_model, "qv_r20", lambda c: c.pop("target_modules")).a) == 4
    assert len(parse_edited(peft_model, "rslora_all", lambda c: c.update(target_modules="all-linear")).a) == 14
    lora = parse_edited(peft_model, "rslora_all", lambda c: c.update(target_modules=r".*\.(q|k|v|o|gate|up|down)_proj"))
    assert len(lora.a) == 14
    lora = parse_edited(peft_model, "qv_r20", lambda c: c.update(target_modules=["self_attn.q_proj", "v_proj"]))
    assert len(lora.a) == 4
    # Tensors of a module target_modules does not name: PEFT would silently drop them; the engine refuses.
    for name, edit in (
        ("rslora_all", lambda c: c.pop("target_modules")),
        ("qv_r20", lambda c: c.update(target_modules=["q_proj"])),
        ("regex_layer1_bf16", lambda c: c.update(target_modules=r"model\.layers\.0\..*")),
        ("qv_r20", lambda c: c.update(exclude_modules=["model.layers.1.self_attn.v_proj"])),
    ):
        error = refusal(peft_model, name, edit)
        assert error.code == "adapter_corrupt" and "target_modules" in str(error)
    # A targeted module without tensors adds nothing (PEFT's B starts at zero).
    assert len(parse_edited(peft_model, "qv_r20", lambda c: c.update(target_modules=["q_proj", "v_proj", "o"])).a) == 4


def test_peft_flags_that_do_not_change_a_llama_are_accepted(peft_model):
    plain = parse_edited(peft_model, "qv_r20")
    for edit in (
        lambda c: c.update(fan_in_fan_out=True),  # PEFT resets it to False for nn.Linear
        lambda c: c.update(bias="all"),  # a Llama has no biases; bias tensors themselves are refused below
        lambda c: c.update(init_lora_weights="gaussian", inference_mode=False, lora_dropout=0.1, revision="main"),
        lambda c: c.update(some_future_field={"x": 1}),
    ):
        lora = parse_edited(peft_model, "qv_r20", edit)
        assert lora.scale == plain.scale and all(torch.equal(lora.a[k], plain.a[k]) for k in plain.a)

    def rename(suffix_from, suffix_to, prefix_from="", prefix_to=""):
        def edit(tensors):
            for key in list(tensors):
                tensors[key.replace(suffix_from, suffix_to).replace(prefix_from, prefix_to, 1)] = tensors.pop(key)

        return edit

    # Also accepted: keys with the adapter name left in (".default", as newer PEFT loads them) or without the
    # base_model.model. prefix.
    for edit in (rename(".weight", ".default.weight"), rename("", "", "base_model.model.", "")):
        lora = parse_edited(peft_model, "qv_r20", edit_weights=edit)
        assert all(torch.equal(lora.b[k], plain.b[k]) for k in plain.b)


@pytest.mark.parametrize(
    "field,value",
    [
        ("use_dora", True),
        ("modules_to_save", ["lm_head"]),
        ("rank_pattern", {"q_proj": 4}),
        ("alpha_pattern", {"q_proj": 4}),
        ("layers_to_transform", [0]),
        ("layer_replication", [[0, 2]]),
        ("lora_bias", True),
        ("trainable_token_indices", [5]),
        ("alora_invocation_tokens", [1, 2]),
        ("init_lora_weights", "pissa_niter_4"),
        ("init_lora_weights", "olora"),
        ("init_lora_weights", "loftq"),
    ],
)
def test_peft_features_the_engine_does_not_implement_are_refused(peft_model, field, value):
    error = refusal(peft_model, "qv_r20", lambda c: c.update({field: value}))
    assert error.code == "adapter_unsupported" and field.split("_")[0] in str(error)


def test_lora_bias_tensors_are_refused(peft_model):
    def add_bias(tensors):
        tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_B.bias"] = torch.zeros(64)

    error = refusal(peft_model, "qv_r20", edit_weights=add_bias)
    assert error.code == "adapter_unsupported" and "bias" in str(error)


def json_type(value):
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}.get(type(value), "other")


def test_engine_written_adapters_have_peft_key_names_dtypes_and_config_fields(peft_model, tmp_path):
    """The reverse direction. make_peft_fixtures.py --check-engine-adapter loaded such adapters with peft once (no
    unexpected or missing keys, the same scaling, logits within 9.3e-6); here they are held to what PEFT wrote."""
    from openpoa_engine.train import TrainConfig, read_files, train_adapter

    root = str(tmp_path)
    (generated,) = generate_adapters(MODEL_DIR, root, 1, rank=8, alpha=16.0, use_rslora=True, seed=5)
    doc = tmp_path / "doc.txt"
    doc.write_text("A short text to train on.")
    config = TrainConfig(rank=20, steps=1, targets=("q_proj", "v_proj"), alpha=10)
    trained = train_adapter(MODEL_DIR, read_files([str(doc)]), root, config)
    for sha, peft_name in ((generated, "rslora_all"), (trained["sha256"], "qv_r20")):
        ours, theirs = os.path.join(root, sha), os.path.join(FIXTURES, peft_name)
        with open(os.path.join(ours, "adapter_config.json")) as f:
            ours_config = json.load(f)
        with open(os.path.join(theirs, "adapter_config.json")) as f:
            theirs_config = json.load(f)
        for field, value in ours_config.items():  # every field we write is one of PEFT's, with PEFT's JSON type
            assert field in theirs_config and json_type(value) == json_type(theirs_config[field]), field
        for field in ("peft_type", "task_type", "r", "lora_alpha", "use_rslora", "bias", "fan_in_fan_out"):
            assert ours_config[field] == theirs_config[field], field
        assert sorted(ours_config["target_modules"]) == sorted(theirs_config["target_modules"])
        assert ours_config["base_model_name_or_path"] == theirs_config["base_model_name_or_path"]
        ours_entries, ours_meta, _ = safetensors_io.read_header(os.path.join(ours, "adapter_model.safetensors"))
        theirs_entries, theirs_meta, _ = safetensors_io.read_header(os.path.join(theirs, "adapter_model.safetensors"))
        assert ours_meta == theirs_meta == {"format": "pt"}
        assert {k: (e[0], e[1]) for k, e in ours_entries.items()} == {
            k: (e[0], e[1]) for k, e in theirs_entries.items()
        }
        assert all(e[0] == torch.float32 for e in ours_entries.values())
        lora = parse_adapter(*read_artifact(ours), peft_model.config)
        assert lora.scale == parse_adapter(*read_artifact(theirs), peft_model.config).scale


# -- base_model_name_or_path: the model's name, or its artifact hash --


def test_model_artifact_hash_definition(capsys):
    import hashlib
    import struct

    from openpoa_engine.cli import main

    manual = hashlib.sha256(b"openpoa-model-v1\n")
    for name in sorted(os.listdir(MODEL_DIR), key=str.encode):
        with open(os.path.join(MODEL_DIR, name), "rb") as f:
            content = f.read()
        manual.update(name.encode() + b"\n" + struct.pack("<Q", len(content)) + content)
    assert model_artifact_hash_of_dir(MODEL_DIR) == manual.hexdigest()
    # what inference/artifacts/hash.ts (hashArtifactDir) printed for the same directory, run once with Node 22
    assert manual.hexdigest() == "dd86ff7cce9da51933cb56190adbc9784f1cffb56104176e572214ae24bcf326"
    assert main(["artifact-hash", MODEL_DIR]) == 0
    assert capsys.readouterr().out.strip() == manual.hexdigest()


def test_base_model_is_matched_by_name_or_artifact_hash(peft_model):
    model_hash = model_artifact_hash_of_dir(MODEL_DIR)
    told = ModelConfig.load(MODEL_DIR, artifact_hash=model_hash)
    untold = peft_model.config

    def parse(base, config):
        return parse_adapter(*edited("qv_r20", lambda c: c.update(base_model_name_or_path=base)), config)

    for base in ("openpoa-fixtures/tiny-llama", None, ""):
        parse(base, told)
        parse(base, untold)
    for base in (model_hash, "0x" + model_hash):
        parse(base, told)
        with pytest.raises(AdapterError) as e:  # the engine was not told its hash: it cannot match one
            parse(base, untold)
        assert e.value.code == "adapter_wrong_base_model" and "no artifact hash" in str(e.value)
    for base in (model_hash.upper(), "0X" + model_hash, model_hash[:-1] + "0", "tiny-llama", "meta-llama/Llama-3-8B"):
        with pytest.raises(AdapterError) as e:
            parse(base, told)
        assert e.value.code == "adapter_wrong_base_model" and model_hash in str(e.value)


ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_serve_flag_model_artifact_hash(peft_root, tmp_path):
    """The real process: --model-artifact-hash reaches the hello and lets an adapter name the model by its hash."""
    model_hash = model_artifact_hash_of_dir(MODEL_DIR)
    root, shas = peft_root
    by_hash = shutil.copytree(root, str(tmp_path / "adapters"))
    from conftest import copy_adapter

    named = copy_adapter(
        by_hash, shas["qv_r20"], by_hash, lambda c: c.update(base_model_name_or_path="0x" + model_hash)
    )
    other = copy_adapter(by_hash, shas["qv_r20"], by_hash, lambda c: c.update(base_model_name_or_path="f" * 64))
    lines = [
        {"id": "a", "type": "generate", "prompt_tokens": [256, 72], "max_tokens": 2, "adapter": named, "seed": 1},
        {"id": "b", "type": "generate", "prompt_tokens": [256, 72], "max_tokens": 2, "adapter": other, "seed": 1},
    ]
    command = [sys.executable, "-m", "openpoa_engine", "serve", "--model", MODEL_DIR, "--adapters", by_hash]
    command += ["--max-seq-len", "128", "--device-budget-mb", "4"]
    done = subprocess.run(
        [*command, "--model-artifact-hash", "0x" + model_hash],
        input="".join(json.dumps(m) + "\n" for m in lines),
        capture_output=True,
        text=True,
        cwd=ENGINE_DIR,
        timeout=120,
    )
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0, done.stderr
    assert replies[0]["model"]["artifact_hash"] == model_hash
    assert next(r for r in replies if r["id"] == "a" and r["type"] in ("done", "error"))["type"] == "done"
    error = next(r for r in replies if r["id"] == "b" and r["type"] in ("done", "error"))
    assert error["type"] == "error" and error["error"]["code"] == "adapter_wrong_base_model"
    bad = subprocess.run(
        [*command, "--model-artifact-hash", "xyz"], capture_output=True, text=True, cwd=ENGINE_DIR, timeout=120
    )
    assert bad.returncode == 2 and "model artifact hash" in bad.stderr
