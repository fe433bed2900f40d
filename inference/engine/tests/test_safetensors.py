import json
import os
import struct

import pytest
import torch

from openpoa_engine import safetensors_io as st
from openpoa_engine.model import Llama


def test_round_trip_all_dtypes(tmp_path):
    tensors = {
        "f32": torch.randn(3, 5),
        "bf16": torch.randn(4, 2).bfloat16(),
        "f16": torch.randn(7).half(),
        "f64": torch.randn(2, 2, 2).double(),
        "i64": torch.arange(-3, 3),
        "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "u8": torch.arange(256, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 4),
    }
    path = tmp_path / "x.safetensors"
    st.save_file(tensors, path, {"format": "pt"})
    loaded = st.load_file(path)
    assert loaded.keys() == tensors.keys()
    for name, t in tensors.items():
        assert loaded[name].dtype == t.dtype and loaded[name].shape == t.shape
        assert torch.equal(loaded[name], t), name
    raw = path.read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    assert header_len % 8 == 0 and json.loads(raw[8 : 8 + header_len])["__metadata__"] == {"format": "pt"}


def test_writer_is_deterministic():
    tensors = {"b": torch.ones(2), "a": torch.zeros(3)}
    assert st.to_bytes(tensors) == st.to_bytes(dict(reversed(list(tensors.items()))))


def test_truncated_and_malformed_files_are_refused(tmp_path):
    data = st.to_bytes({"w": torch.randn(16, 16)})
    for cut in (4, 12, len(data) - 1):
        with pytest.raises(st.SafetensorsError, match="truncated|short"):
            st.load_bytes(data[:cut])
    bad = struct.pack("<Q", 5) + b"{nope" + b"\0" * 8
    with pytest.raises(st.SafetensorsError, match="JSON"):
        st.load_bytes(bad)
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}}).encode()
    with pytest.raises(st.SafetensorsError, match="do not match"):
        st.load_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 16)
    path = tmp_path / "t.safetensors"
    path.write_bytes(data[:-10])
    with pytest.raises(st.SafetensorsError, match="truncated"):
        st.load_file(path)


def test_sharded_checkpoint_loads_like_single_file(model_dir, model, tmp_path):
    weights = {}
    for path in st.checkpoint_files(model_dir):
        weights.update(st.load_file(path))
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    for name in ("config.json", "openpoa_tokenizer.json"):
        (sharded / name).write_bytes(open(os.path.join(model_dir, name), "rb").read())
    total = sum(t.numel() * 4 for t in weights.values())
    st.save_checkpoint(weights, str(sharded), max_shard_bytes=total // 3)
    files = st.checkpoint_files(str(sharded))
    assert len(files) >= 3 and os.path.exists(sharded / st.INDEX_FILE)
    reloaded = Llama.load(str(sharded))
    assert torch.equal(reloaded.embed, model.embed) and torch.equal(reloaded.lm_head, model.lm_head)
    for a, b in zip(reloaded.layers, model.layers):
        assert torch.equal(a.qkv, b.qkv) and torch.equal(a.down, b.down)


def test_missing_tensor_in_checkpoint_is_a_clear_error(model_dir, tmp_path):
    from openpoa_engine.model import CheckpointError

    weights = {}
    for path in st.checkpoint_files(model_dir):
        weights.update(st.load_file(path))
    del weights["model.layers.1.mlp.up_proj.weight"]
    for name in ("config.json", "openpoa_tokenizer.json"):
        (tmp_path / name).write_bytes(open(os.path.join(model_dir, name), "rb").read())
    st.save_checkpoint(weights, str(tmp_path))
    with pytest.raises(CheckpointError, match="up_proj"):
        Llama.load(str(tmp_path))
