"""Safetensors reader/writer of our own (the `safetensors` package is used for file loads where it imports).

Format: u64 little-endian header length N, N bytes of JSON
{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {str: str}},
then the data buffer (offsets relative to its start, row-major, little-endian).
"""

import json
import os
import struct

import torch

try:
    import safetensors.torch as _st_package
except ImportError:
    _st_package = None

DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
for _name, _attr in (
    ("F8_E4M3", "float8_e4m3fn"),
    ("F8_E5M2", "float8_e5m2"),
    ("U16", "uint16"),
    ("U32", "uint32"),
    ("U64", "uint64"),
):
    if hasattr(torch, _attr):  # torch 1.13 lacks these; newer torch has them
        DTYPES[_name] = getattr(torch, _attr)
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}
MAX_HEADER_BYTES = 100 << 20


class SafetensorsError(ValueError):
    pass


ELEMENT_SIZES = {dtype: torch.empty((), dtype=dtype).element_size() for dtype in DTYPES.values()}


def parse_header(prefix, total_size):
    """Validate the header against the file size; returns ({name: (dtype, shape, begin, end)}, metadata, data_start)."""
    if total_size < 8 or len(prefix) < 8:
        raise SafetensorsError("file too short for a safetensors header (truncated?)")
    (header_len,) = struct.unpack("<Q", prefix[:8])
    if header_len > MAX_HEADER_BYTES or 8 + header_len > total_size:
        raise SafetensorsError(f"header length {header_len} exceeds file size {total_size} (truncated?)")
    if len(prefix) < 8 + header_len:
        raise SafetensorsError("header not fully read")
    try:
        header = json.loads(bytes(prefix[8 : 8 + header_len]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError("header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    data_start = 8 + header_len
    data_size = total_size - data_start
    entries = {}
    for name, info in header.items():
        try:
            dtype = DTYPES[info["dtype"]]
            shape = [int(d) for d in info["shape"]]
            begin, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"tensor {name!r}: bad header entry {info!r}") from None
        numel = 1
        for d in shape:
            if d < 0:
                raise SafetensorsError(f"tensor {name!r}: negative dimension in {shape}")
            numel *= d
        if not 0 <= begin <= end or end - begin != numel * ELEMENT_SIZES[dtype]:
            raise SafetensorsError(
                f"tensor {name!r}: offsets {begin}..{end} do not match shape {shape} {info['dtype']}"
            )
        if end > data_size:
            raise SafetensorsError(
                f"tensor {name!r}: data ends at {end} but the buffer holds {data_size} bytes (truncated)"
            )
        entries[name] = (dtype, shape, begin, end)
    return entries, metadata, data_start


def load_bytes(data):
    """Tensors from a whole safetensors file held in memory (bytes or bytearray)."""
    buffer = bytearray(data) if isinstance(data, bytes) else data
    entries, _, data_start = parse_header(memoryview(buffer)[: 8 + MAX_HEADER_BYTES], len(buffer))
    return views(buffer, entries, data_start)


def views(buffer, entries, data_start):
    """Tensors viewing buffer (a whole file, as a bytearray or mmap) at its header's entries (parse_header's)."""
    tensors = {}
    for name, (dtype, shape, begin, end) in entries.items():
        if end == begin:
            tensors[name] = torch.empty(shape, dtype=dtype)
            continue
        raw = torch.frombuffer(buffer, dtype=torch.uint8, count=end - begin, offset=data_start + begin)
        if (data_start + begin) % ELEMENT_SIZES[dtype]:
            raw = raw.clone()  # a misaligned offset cannot be reinterpreted in place
        tensors[name] = raw.view(dtype).reshape(shape)
    return tensors


def read_header(path):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) == 8:
            prefix += f.read(min(struct.unpack("<Q", prefix)[0], MAX_HEADER_BYTES))
    return parse_header(prefix, size)


def load_file(path):
    read_header(path)  # our own validation first: clear errors for truncated or malformed files
    if _st_package is not None:
        return _st_package.load_file(str(path))
    with open(path, "rb") as f:
        return load_bytes(bytearray(f.read()))


def _serialized(tensors, metadata):
    """(header bytes, [tensor in name order, as a flat uint8 view]): the file is the u64 length, header, then those."""
    header, views, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if t.dtype not in DTYPE_NAMES:
            raise SafetensorsError(f"tensor {name!r}: dtype {t.dtype} has no safetensors name")
        raw = t.reshape(-1).view(torch.uint8) if t.numel() else torch.empty(0, dtype=torch.uint8)
        header[name] = {
            "dtype": DTYPE_NAMES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + raw.numel()],
        }
        views.append(raw)
        offset += raw.numel()
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    return struct.pack("<Q", len(header_bytes)) + header_bytes, views


def to_bytes(tensors, metadata=None):
    """Serialize deterministically: tensors in name order, header padded with spaces to 8 bytes."""
    head, views = _serialized(tensors, metadata)
    return b"".join([head, *(v.numpy().tobytes() for v in views)])


def save_file(tensors, path, metadata=None):
    """The bytes of to_bytes, written tensor by tensor (a large checkpoint is never copied whole in memory)."""
    head, views = _serialized(tensors, metadata)
    with open(path, "wb") as f:
        f.write(head)
        for view in views:
            f.write(memoryview(view.numpy()))


INDEX_FILE = "model.safetensors.index.json"


def save_checkpoint(tensors, directory, max_shard_bytes=None):
    """Write model.safetensors, or HF-style shards model-0000i-of-0000n.safetensors plus the index."""
    names = sorted(tensors)
    if not max_shard_bytes:
        save_file(tensors, os.path.join(directory, "model.safetensors"), {"format": "pt"})
        return
    shards, current, size = [], [], 0
    for name in names:
        nbytes = tensors[name].numel() * tensors[name].element_size()
        if current and size + nbytes > max_shard_bytes:
            shards.append(current)
            current, size = [], 0
        current.append(name)
        size += nbytes
    shards.append(current)
    weight_map = {}
    for i, shard in enumerate(shards):
        filename = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file({n: tensors[n] for n in shard}, os.path.join(directory, filename), {"format": "pt"})
        weight_map.update({n: filename for n in shard})
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    with open(os.path.join(directory, INDEX_FILE), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)


def checkpoint_files(directory):
    """Safetensors files of a checkpoint directory (sharded via the index, or every *.safetensors)."""
    index_path = os.path.join(directory, INDEX_FILE)
    if os.path.exists(index_path):
        with open(index_path) as f:
            weight_map = json.load(f)["weight_map"]
        return [os.path.join(directory, name) for name in sorted(set(weight_map.values()))]
    files = sorted(n for n in os.listdir(directory) if n.endswith(".safetensors"))
    if not files:
        raise SafetensorsError(f"no *.safetensors in {directory}")
    return [os.path.join(directory, n) for n in files]
