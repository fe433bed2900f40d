import json
import os

from openpoa_engine.adapters import artifact_hash_of_dir
from openpoa_engine.cli import main as cli_main
from openpoa_engine.generate import generate_adapters
from openpoa_engine.tokenizer import BOS, EOS, ByteTokenizer


def test_generation_is_deterministic(model_dir, tmp_path):
    cli_main(["generate-model", "--out", str(tmp_path / "m"), "--preset", "tiny", "--seed", "0", "--shards", "2"])
    files = sorted(os.listdir(tmp_path / "m"))
    assert "model.safetensors.index.json" in files and sum(f.startswith("model-0000") for f in files) >= 2
    with open(tmp_path / "m" / "config.json") as f, open(os.path.join(model_dir, "config.json")) as g:
        assert json.load(f) == json.load(g)
    first = generate_adapters(model_dir, str(tmp_path / "a"), 2, rank=8, seed=5)
    again = generate_adapters(model_dir, str(tmp_path / "b"), 3, rank=8, seed=5)
    other = generate_adapters(model_dir, str(tmp_path / "c"), 1, rank=8, seed=6)
    assert again[:2] == first and other[0] not in first
    for sha in first:
        assert artifact_hash_of_dir(str(tmp_path / "a" / sha)) == sha
    with open(tmp_path / "a" / first[0] / "adapter_config.json") as f:
        peft = json.load(f)
    assert peft["base_model_name_or_path"] == "openpoa/generated-tiny-seed0" and peft["r"] == 8
    assert len(peft["target_modules"]) == 7


def test_byte_tokenizer_convention_and_incremental_utf8():
    tok = ByteTokenizer()
    text = "aé€😀"
    ids = tok.encode(text)
    assert ids[0] == BOS == 256 and ids[1:] == list(text.encode("utf-8")) and (EOS, tok.pad_token_id) == (257, 258)
    decoder = tok.decoder()
    pieces = [decoder.push(i) for i in ids[1:]]
    assert "".join(pieces) == text
    assert pieces[:3] == ["a", "", "é"]  # a character is emitted once all its bytes arrived
    assert decoder.push(0xFF) == "\ufffd" and decoder.push(EOS) == "" and decoder.flush() == ""
    assert tok.sampleable_ids(512) == list(range(256)) + [EOS]


def test_hf_decoder_holds_back_partial_characters():
    from openpoa_engine.tokenizer import HFDecoder

    class Stub:  # the `tokenizers` API surface HFDecoder uses; pieces are byte strings
        pieces = {1: b"caf", 2: b"\xc3", 3: b"\xa9!", 4: b" ok"}

        def decode(self, ids, skip_special_tokens):
            return b"".join(self.pieces[i] for i in ids).decode("utf-8", "replace")

    decoder = HFDecoder(Stub())
    assert [decoder.push(i) for i in (1, 2, 3, 4)] == ["caf", "", "é!", " ok"]
    assert decoder.flush() == ""


def test_serve_with_a_bad_model_dir_exits_with_a_reason(tmp_path, capsys):
    from openpoa_engine.cli import main

    assert main(["serve", "--model", str(tmp_path), "--adapters", str(tmp_path)]) == 2
    assert "cannot start" in capsys.readouterr().err
