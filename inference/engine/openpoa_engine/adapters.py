"""PEFT LoRA adapters: the artifact hash, parsing and validation against the base model, the host-tier form.

Artifact hash (what the contracts and the gateway store): lowercase hex SHA-256 of
    b"openpoa-lora-v1\n"
    + for name in ("adapter_config.json", "adapter_model.safetensors"), in this order:
          name (UTF-8) + b"\n" + len(file bytes) as u64 little-endian + the file bytes, as stored
The files are hashed byte for byte (no JSON canonicalisation): whoever publishes an adapter hashes the exact files
it uploads. The length prefixes make the concatenation unambiguous.

A base model's artifact hash (inference/artifacts/hash.ts defines it; model_artifact_hash_of_dir here) is the same
construction with the domain line b"openpoa-model-v1\n" over every file of its flat directory, in byte order of the
UTF-8 names, except openpoa-artifact.json (the manifest) and names starting with ".".

PEFT semantics followed here (checked against peft's own output by tests/test_peft_interop.py):
- scale = lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora; missing r and lora_alpha default to LoraConfig's 8
- target_modules (a list: exact name or ".name" suffix; a string: re.fullmatch; "all-linear"; missing: PEFT's Llama
  default q_proj, v_proj) decides which modules PEFT builds LoRA layers for. PEFT silently drops tensors of other
  modules, so such a tensor is refused here rather than applied. A targeted module without tensors adds nothing.
- fan_in_fan_out is ignored, as PEFT ignores it for nn.Linear; bias only matters through bias tensors, refused.
- refused: DoRA, LoRA bias tensors, modules_to_save, rank_pattern, alpha_pattern, layers_to_transform,
  layer_replication, trainable tokens, target_parameters, aLoRA, QA-LoRA, arrow routing, and initialisations that
  change the base weights (PiSSA, OLoRA, LoftQ, CorDA).
"""

import hashlib
import json
import math
import mmap
import os
import re
import struct
from dataclasses import dataclass

import torch

from . import safetensors_io
from .config import LORA_PROJECTIONS, module_path

ARTIFACT_FILES = ("adapter_config.json", "adapter_model.safetensors")
HASH_DOMAIN = b"openpoa-lora-v1\n"
MODEL_HASH_DOMAIN = b"openpoa-model-v1\n"
MODEL_MANIFEST_FILE = "openpoa-artifact.json"  # beside a model's files, never part of its hash
MAX_RANK = 128
MAX_LAYOUTS = 16  # read_adapter's layouts kept
_KEY = re.compile(
    r"^(?:base_model\.model\.)?model\.layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])(?:\.default)?\.weight$"
)
_HASH = re.compile(r"^[0-9a-f]{64}$")
_BASE_HASH = re.compile(r"^(?:0x)?([0-9a-f]{64})$")
# PEFT's LoraConfig defaults, and its default target_modules for Llama and Mistral
PEFT_DEFAULT_R = 8
PEFT_DEFAULT_ALPHA = 8
PEFT_DEFAULT_TARGETS = ["q_proj", "v_proj"]
# Config fields whose non-empty value changes what the adapter computes in ways the engine does not implement.
_UNSUPPORTED_FIELDS = (
    "use_dora",
    "lora_bias",
    "modules_to_save",
    "rank_pattern",
    "alpha_pattern",
    "layers_to_transform",
    "layer_replication",
    "trainable_token_indices",
    "target_parameters",
    "alora_invocation_tokens",
    "use_qalora",
    "arrow_config",
)
# init_lora_weights values whose adapter is relative to modified base weights (PEFT rewrites the base on load).
_BASE_CHANGING_INITS = ("pissa", "olora", "loftq", "corda")


class AdapterError(Exception):
    """A refused adapter; code is the protocol's error code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def artifact_hash(config_bytes, weights_bytes):
    digest = hashlib.sha256(HASH_DOMAIN)
    for name, content in zip(ARTIFACT_FILES, (config_bytes, weights_bytes)):
        digest.update(name.encode() + b"\n" + struct.pack("<Q", len(content)))
        digest.update(content)
    return digest.hexdigest()


def read_artifact(directory):
    contents = []
    for name in ARTIFACT_FILES:
        with open(os.path.join(directory, name), "rb") as f:
            contents.append(f.read())
    return tuple(contents)


def _hash_files(domain, directory, names):
    """The artifact-hash construction over files streamed from disk (a large file is never in memory whole)."""
    digest = hashlib.sha256(domain)
    for name in names:
        path = os.path.join(directory, name)
        digest.update(name.encode("utf-8") + b"\n" + struct.pack("<Q", os.path.getsize(path)))
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 16), b""):  # small reads reuse heap memory
                digest.update(chunk)
    return digest.hexdigest()


def artifact_hash_of_dir(directory):
    return _hash_files(HASH_DOMAIN, directory, ARTIFACT_FILES)


_MODEL_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


def model_artifact_hash_of_dir(directory):
    """The base-model artifact hash of a flat directory."""
    names = []
    for entry in os.scandir(directory):
        if entry.name == MODEL_MANIFEST_FILE or entry.name.startswith("."):
            continue
        if not entry.is_file(follow_symlinks=True) or not _MODEL_FILE_NAME.match(entry.name):
            raise ValueError(f"{entry.path}: a model artifact is a flat directory of plain files")
        names.append(entry.name)
    if not names:
        raise ValueError(f"{directory} holds no files")
    return _hash_files(MODEL_HASH_DOMAIN, directory, sorted(names, key=lambda n: n.encode("utf-8")))


def normalize_model_hash(value):
    """The engine's --model-artifact-hash: 64 lowercase hex digits, 0x allowed; returns the bare form ("" if none)."""
    if not value:
        return ""
    match = _BASE_HASH.match(value)
    if not match:
        raise ValueError(f"model artifact hash must be 64 lowercase hex digits (0x allowed), got {value!r}")
    return match.group(1)


def base_model_matches(base, model_config):
    """An adapter's base_model_name_or_path names this engine's model when it is empty, equals the model's name, or is
    the model's artifact hash (lowercase hex, with or without 0x) and the engine was told that hash."""
    if not base or not (model_config.name or model_config.artifact_hash):
        return True
    if base == model_config.name:
        return True
    match = _BASE_HASH.match(base) if isinstance(base, str) else None
    return bool(match and model_config.artifact_hash and match.group(1) == model_config.artifact_hash)


def targeted_modules(peft, model_config):
    """The (layer, projection) pairs PEFT builds LoRA layers for, from target_modules and exclude_modules."""

    def matches(spec, name):
        if isinstance(spec, str):
            return spec == "all-linear" or re.fullmatch(spec, name) is not None
        return any(name == t or name.endswith("." + t) for t in spec)

    spec = peft.get("target_modules")
    spec = PEFT_DEFAULT_TARGETS if spec is None else spec
    exclude = peft.get("exclude_modules") or []
    if not isinstance(spec, (str, list)) or not isinstance(exclude, (str, list)):
        raise AdapterError("adapter_corrupt", "target_modules and exclude_modules must be a string or a list")
    try:
        return {
            (layer, p)
            for layer in range(model_config.num_layers)
            for p in LORA_PROJECTIONS
            if matches(spec, module_path(layer, p)) and not matches(exclude, module_path(layer, p))
        }
    except (re.error, TypeError) as e:
        raise AdapterError("adapter_corrupt", f"target_modules {spec!r}: {e}") from None


def check_hash_format(sha256):
    if not isinstance(sha256, str) or not _HASH.match(sha256):
        raise AdapterError("bad_request", f"adapter must be a 64-character lowercase hex sha256, got {sha256!r}")


@dataclass
class LoraSpec:
    """What adapter_config.json says, checked against the base model."""

    rank: int
    scale: float
    targets: set  # (layer, projection) pairs PEFT builds LoRA layers for
    target_modules: object  # as written, for messages


@dataclass
class LoraWeights:
    rank: int
    scale: float
    a: dict  # (layer, projection) -> lora_A [rank, in]
    b: dict  # (layer, projection) -> lora_B [out, rank]


def parse_config(config_bytes, model_config):
    """Validate adapter_config.json against the base model; every refusal is an AdapterError with a precise message."""
    try:
        peft = json.loads(config_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise AdapterError("adapter_corrupt", f"adapter_config.json is not valid JSON: {e}") from None
    if not isinstance(peft, dict):
        raise AdapterError("adapter_corrupt", "adapter_config.json is not a JSON object")
    if peft.get("peft_type", "LORA") != "LORA":
        raise AdapterError("adapter_unsupported", f"peft_type {peft.get('peft_type')!r} is not LORA")
    base = peft.get("base_model_name_or_path")
    if not base_model_matches(base, model_config):
        known = f"artifact hash {model_config.artifact_hash}" if model_config.artifact_hash else "no artifact hash"
        raise AdapterError(
            "adapter_wrong_base_model",
            f"adapter was trained on {base!r}, this engine serves {model_config.name!r} ({known})",
        )
    for unsupported in _UNSUPPORTED_FIELDS:
        if peft.get(unsupported):
            raise AdapterError("adapter_unsupported", f"{unsupported} is not supported")
    init = peft.get("init_lora_weights")
    if isinstance(init, str) and init.lower().startswith(_BASE_CHANGING_INITS):
        raise AdapterError(
            "adapter_unsupported", f"init_lora_weights {init!r} changes the base weights; convert it to plain LoRA"
        )
    # fan_in_fan_out: PEFT resets it to False for nn.Linear (every Llama projection) and the tensors keep their shapes;
    # bias: PEFT's LoRA layers have none, and a Llama has no biases to train, so only bias tensors matter (refused).
    rank = peft.get("r", PEFT_DEFAULT_R)
    if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= MAX_RANK:
        raise AdapterError("adapter_unsupported", f"rank r={rank!r} must be an integer in 1..{MAX_RANK}")
    alpha = peft.get("lora_alpha", PEFT_DEFAULT_ALPHA)
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not math.isfinite(alpha):
        raise AdapterError("adapter_corrupt", f"lora_alpha {alpha!r} is not a number")
    scale = alpha / math.sqrt(rank) if peft.get("use_rslora") else alpha / rank
    return LoraSpec(rank, scale, targeted_modules(peft, model_config), peft.get("target_modules"))


def check_tensors(entries, spec, model_config):
    """Validate the safetensors entries {name: (dtype, shape)} against the config and the base model (before any
    weight is read); returns {name: (layer, projection, "A" or "B")}."""
    c = model_config
    keys = {}
    for key, (dtype, shape) in entries.items():
        match = _KEY.match(key)
        if not match:
            if key.endswith(".bias"):
                raise AdapterError("adapter_unsupported", f"{key}: LoRA biases are not supported")
            raise AdapterError("adapter_unsupported", f"unexpected tensor {key!r} (only q,k,v,o,gate,up,down LoRA)")
        layer, projection, kind = int(match.group(1)), match.group(2), match.group(3)
        if projection not in LORA_PROJECTIONS or module_path(layer, projection) not in key:
            raise AdapterError("adapter_unsupported", f"{key}: module {projection!r} is not a LoRA target we serve")
        if layer >= c.num_layers:
            raise AdapterError("adapter_bad_shape", f"{key}: layer {layer} but the base model has {c.num_layers}")
        if (layer, projection) not in spec.targets:
            raise AdapterError(
                "adapter_corrupt",
                f"{key}: target_modules {spec.target_modules!r} does not name this module (PEFT would drop it)",
            )
        expected = [spec.rank, c.in_features(projection)] if kind == "A" else [c.out_features(projection), spec.rank]
        if list(shape) != expected:
            raise AdapterError("adapter_bad_shape", f"{key}: shape {list(shape)}, expected {expected}")
        if not dtype.is_floating_point:
            raise AdapterError("adapter_corrupt", f"{key}: dtype {dtype} is not floating point")
        keys[key] = (layer, projection, kind)
    if not keys:
        raise AdapterError("adapter_corrupt", "adapter_model.safetensors holds no LoRA tensors")
    a = {(layer, p) for layer, p, kind in keys.values() if kind == "A"}
    b = {(layer, p) for layer, p, kind in keys.values() if kind == "B"}
    if a != b:
        missing = sorted(a ^ b)[0]
        raise AdapterError("adapter_corrupt", f"layer {missing[0]} {missing[1]}: lora_A and lora_B do not pair up")
    return keys


def parse_adapter(config_bytes, weights_bytes, model_config):
    """The adapter's weights from its two files held in memory, validated as read_adapter does."""
    spec = parse_config(config_bytes, model_config)
    try:
        tensors = safetensors_io.load_bytes(bytearray(weights_bytes))
    except safetensors_io.SafetensorsError as e:
        raise AdapterError("adapter_corrupt", f"adapter_model.safetensors: {e}") from None
    keys = check_tensors({k: (t.dtype, t.shape) for k, t in tensors.items()}, spec, model_config)
    a, b = {}, {}
    for key, (layer, projection, kind) in keys.items():
        if not torch.isfinite(tensors[key]).all():
            raise AdapterError("adapter_corrupt", f"{key}: non-finite weights")
        (a if kind == "A" else b)[(layer, projection)] = tensors[key].float()
    return LoraWeights(spec.rank, spec.scale, a, b)


@dataclass
class HostAdapter:
    """An adapter as the host tier keeps it: its own rank and targets, nothing padded, scale folded into b.
    Projections it does not target are absent; layers of a targeted projection it does not target are zeros."""

    rank: int
    a: dict  # projection -> [layers, rank, in]   lora_A of each layer
    b: dict  # projection -> [layers, rank, out]  (lora_B * scale)^T of each layer
    flat: torch.Tensor = None  # [nbytes / element size] the memory that a and b view, when empty() made them

    @property
    def nbytes(self):
        return sum(t.numel() * t.element_size() for t in (*self.a.values(), *self.b.values()))

    @staticmethod
    def empty(rank, projections, model_config, dtype, pin=False):
        """Zeros in one flat tensor, in pinned memory (pin) or else in an anonymous mapping of its own: unmapped when
        the adapter is dropped, so memory returns to the system as adapters cycle through the host tier instead of
        fragmenting the heap (where glibc places buffers of this size once it has freed some)."""
        c = model_config
        shapes = {("a", p): c.in_features(p) for p in projections} | {("b", p): c.out_features(p) for p in projections}
        size = HostAdapter.nbytes_of(rank, projections, model_config, dtype)
        if pin:
            flat = torch.zeros(size // torch.empty((), dtype=dtype).element_size(), dtype=dtype, pin_memory=True)
        else:
            flat = torch.frombuffer(mmap.mmap(-1, size), dtype=dtype)
        parts = flat.split([c.num_layers * rank * n for n in shapes.values()])
        tensors = {key: part.view(c.num_layers, rank, n) for (key, n), part in zip(shapes.items(), parts)}
        a, b = ({p: tensors[kind, p] for p in projections} for kind in ("a", "b"))
        return HostAdapter(rank, a, b, flat)

    @staticmethod
    def nbytes_of(rank, projections, model_config, dtype):
        c = model_config
        features = sum(c.in_features(p) + c.out_features(p) for p in projections)
        return c.num_layers * rank * features * torch.empty((), dtype=dtype).element_size()

    @classmethod
    def from_weights(cls, lora, model_config, dtype):
        projections = [p for p in LORA_PROJECTIONS if any(q == p for _, q in lora.a)]
        adapter = cls.empty(lora.rank, projections, model_config, dtype)
        for (layer, p), a in lora.a.items():
            adapter.a[p][layer] = a
            adapter.b[p][layer] = (lora.b[(layer, p)] * lora.scale).t()
        return adapter


class ReadBuffer:
    """A loader thread's memory for the files of the adapter it loads, reused from load to load (grown when a file is
    larger): each file is read once, and the hash and the parse see those same bytes."""

    def __init__(self):
        self.memory = mmap.mmap(-1, 1 << 20)

    def read(self, directory):
        """(adapter_config.json bytes, adapter_model.safetensors as a memoryview of this buffer whose data section
        starts 8-byte aligned, so tensors view it in place)."""
        with open(os.path.join(directory, ARTIFACT_FILES[0]), "rb") as f:
            config_bytes = f.read()
        with open(os.path.join(directory, ARTIFACT_FILES[1]), "rb") as f:
            size, head = os.fstat(f.fileno()).st_size, f.read(8)
            pad = -(8 + (struct.unpack("<Q", head)[0] if len(head) == 8 else 0)) % 8
            if len(self.memory) < pad + size:
                self.memory = mmap.mmap(-1, pad + size)
            weights = memoryview(self.memory)[pad : pad + size]
            weights[: len(head)] = head
            if len(head) + f.readinto(weights[len(head) :]) != size:
                raise AdapterError("adapter_corrupt", "adapter_model.safetensors changed while it was read")
        return config_bytes, weights


def _copy_layers(dst, weights, data_start, entries, layers, transpose):
    """dst[layer] = the tensor of each (layer, tensor name) in weights (a safetensors file whose data section starts
    8-byte aligned), transposed for lora_B ([out, r] -> [r, out]); layers in layer order. Consecutive layers stored
    at a regular stride are one strided view, so a file written in layer order takes one copy per projection, not one
    per layer."""
    typed, i = {}, 0
    while i < len(layers):
        dtype, shape, begin, end = entries[layers[i][1]]
        size = safetensors_io.ELEMENT_SIZES[dtype]
        j, stride = i + 1, None
        while j < len(layers) and begin % size == 0 and layers[j][0] == layers[j - 1][0] + 1:
            step = entries[layers[j][1]][2] - entries[layers[j - 1][1]][2]
            if entries[layers[j][1]][0] != dtype or step <= 0 or step % size or step != (stride or step):
                break
            j, stride = j + 1, step
        if begin % size:  # misaligned: it cannot be viewed in place
            run = torch.frombuffer(weights, dtype=torch.uint8, count=end - begin, offset=data_start + begin)
            run = run.clone().view(dtype).view(1, *shape)
        else:
            if dtype not in typed:
                count = (len(weights) - data_start) // size
                typed[dtype] = torch.frombuffer(weights, dtype=dtype, count=count, offset=data_start)
            run = typed[dtype].as_strided((j - i, *shape), ((stride or 0) // size, shape[1], 1), begin // size)
        dst[layers[i][0] : layers[j - 1][0] + 1] = run.transpose(1, 2) if transpose else run
        i = j


def read_adapter(files, model_config, dtype, reserve=None, pin=False, layouts=None):
    """The adapter in files (ReadBuffer.read's; its hash already checked) as a HostAdapter of dtype, validated like
    parse_adapter. The config and the safetensors header are checked first; then reserve(nbytes) is called with the
    HostAdapter's size (it may wait for room) before the weights are copied: beyond its reservation a load holds its
    files, one adapter per loader thread. pin: a HostAdapter in pinned memory (the fastest to copy to a GPU).
    layouts: a dict that keeps what the checks of a config and a header found, for adapters of the same config and
    header (e.g. of one shape, written by one tool) to skip them: its key is their bytes and the file's size."""
    config_bytes, weights = files
    header_end = 8 + struct.unpack("<Q", weights[:8])[0] if len(weights) >= 8 else 0
    key = (config_bytes, bytes(weights[: min(header_end, 8 + safetensors_io.MAX_HEADER_BYTES)]), len(weights))
    layout = layouts.get(key) if layouts is not None else None
    if layout is None:
        spec = parse_config(config_bytes, model_config)
        try:
            entries, _, data_start = safetensors_io.parse_header(
                weights[: 8 + safetensors_io.MAX_HEADER_BYTES], len(weights)
            )
        except safetensors_io.SafetensorsError as e:
            raise AdapterError("adapter_corrupt", f"adapter_model.safetensors: {e}") from None
        by_target = {}  # (projection, kind) -> [(layer, tensor name)] in layer order
        for key, (layer, projection, kind) in check_tensors(
            {k: (e[0], e[1]) for k, e in entries.items()}, spec, model_config
        ).items():
            by_target.setdefault((projection, kind), []).append((layer, key))
        by_target = {target: sorted(layers) for target, layers in by_target.items()}
        projections = [p for p in LORA_PROJECTIONS if (p, "A") in by_target]
        layout = spec, entries, data_start, by_target, projections
        if layouts is not None:
            if len(layouts) >= MAX_LAYOUTS:
                del layouts[next(iter(layouts))]  # the oldest
            layouts[key] = layout
    spec, entries, data_start, by_target, projections = layout
    if reserve is not None:
        reserve(HostAdapter.nbytes_of(spec.rank, projections, model_config, dtype))
    adapter = HostAdapter.empty(spec.rank, projections, model_config, dtype, pin)
    for (projection, kind), layers in by_target.items():
        dst = adapter.a[projection] if kind == "A" else adapter.b[projection]
        _copy_layers(dst, weights, data_start, entries, layers, kind == "B")
    for projection in projections:
        adapter.b[projection].mul_(spec.scale)
    if not adapter.flat.sum(dtype=torch.float64).isfinite():  # exact: a float64 sum of finite floats is finite
        tensors = safetensors_io.views(weights, entries, data_start)
        bad = [k for layers in by_target.values() for _, k in layers if not torch.isfinite(tensors[k]).all()]
        where = bad[0] if bad else f"lora_B times the scale {spec.scale}"
        raise AdapterError("adapter_corrupt", f"{where}: non-finite weights")
    return adapter
