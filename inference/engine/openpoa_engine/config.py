"""Model configuration (a subset of Hugging Face's LlamaConfig) and the LoRA projection layout."""

import json
import math
import os
from dataclasses import asdict, dataclass, field, replace

# LoRA work is fused per group: members of a group share their input, so one shrink serves them all.
LORA_GROUPS = (
    ("qkv", ("q_proj", "k_proj", "v_proj")),
    ("o", ("o_proj",)),
    ("gate_up", ("gate_proj", "up_proj")),
    ("down", ("down_proj",)),
)
LORA_PROJECTIONS = tuple(p for _, members in LORA_GROUPS for p in members)


def module_path(layer, projection):
    """Hugging Face Llama name of a projection, e.g. model.layers.3.self_attn.q_proj."""
    block = "self_attn" if projection in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
    return f"model.layers.{layer}.{block}.{projection}"


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_scaling: dict = None
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = False
    bos_token_id: int = None
    eos_token_ids: tuple = field(default_factory=tuple)
    name: str = ""  # base-model identity that adapters' base_model_name_or_path may name
    artifact_hash: str = ""  # the model's artifact hash (bare lowercase hex), when the engine was told it

    @classmethod
    def from_hf(cls, hf, name=""):
        model_type = hf.get("model_type", "llama")
        if model_type not in ("llama", "mistral"):
            raise ConfigError(f"model_type {model_type!r} is not a Llama-family architecture")
        if model_type == "mistral" and hf.get("sliding_window") is not None:
            raise ConfigError("sliding-window attention is not supported")
        if hf.get("attention_bias") or hf.get("mlp_bias"):
            raise ConfigError("attention/MLP biases are not supported")
        if hf.get("hidden_act", "silu") != "silu":
            raise ConfigError(f"hidden_act {hf['hidden_act']!r} is not supported (SwiGLU needs silu)")
        heads = hf["num_attention_heads"]
        eos = hf.get("eos_token_id")
        return cls(
            vocab_size=hf["vocab_size"],
            hidden_size=hf["hidden_size"],
            intermediate_size=hf["intermediate_size"],
            num_layers=hf["num_hidden_layers"],
            num_heads=heads,
            num_kv_heads=hf.get("num_key_value_heads") or heads,
            head_dim=hf.get("head_dim") or hf["hidden_size"] // heads,
            rms_norm_eps=hf.get("rms_norm_eps", 1e-5),
            rope_theta=hf.get("rope_theta", 10000.0),
            rope_scaling=hf.get("rope_scaling"),
            max_position_embeddings=hf.get("max_position_embeddings", 2048),
            tie_word_embeddings=hf.get("tie_word_embeddings", False),
            bos_token_id=hf.get("bos_token_id"),
            eos_token_ids=tuple(eos if isinstance(eos, list) else [] if eos is None else [eos]),
            name=name or hf.get("_name_or_path", ""),
        )

    @classmethod
    def load(cls, model_dir, name="", artifact_hash=""):
        with open(os.path.join(model_dir, "config.json")) as f:
            hf = json.load(f)
        config = cls.from_hf(hf, name or hf.get("_name_or_path") or os.path.basename(os.path.normpath(model_dir)))
        return replace(config, artifact_hash=artifact_hash) if artifact_hash else config

    def to_hf(self):
        eos = list(self.eos_token_ids)
        return {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "_name_or_path": self.name,
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_heads,
            "num_key_value_heads": self.num_kv_heads,
            "head_dim": self.head_dim,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "rope_scaling": self.rope_scaling,
            "max_position_embeddings": self.max_position_embeddings,
            "tie_word_embeddings": self.tie_word_embeddings,
            "hidden_act": "silu",
            "bos_token_id": self.bos_token_id,
            "eos_token_id": eos[0] if len(eos) == 1 else eos,
            "torch_dtype": "float32",
        }

    def summary(self):
        return {k: v for k, v in asdict(self).items() if k not in ("rope_scaling", "eos_token_ids")}

    @property
    def q_size(self):
        return self.num_heads * self.head_dim

    @property
    def kv_size(self):
        return self.num_kv_heads * self.head_dim

    @property
    def lora_unit(self):
        """Rows of a LoRA page (see kernels): the largest length that divides every projection's in and out features."""
        return math.gcd(self.hidden_size, self.q_size, self.kv_size, self.intermediate_size)

    def in_features(self, projection):
        return {"o_proj": self.q_size, "down_proj": self.intermediate_size}.get(projection, self.hidden_size)

    def out_features(self, projection):
        return {
            "q_proj": self.q_size,
            "k_proj": self.kv_size,
            "v_proj": self.kv_size,
            "o_proj": self.hidden_size,
            "gate_proj": self.intermediate_size,
            "up_proj": self.intermediate_size,
            "down_proj": self.hidden_size,
        }[projection]


# Llama-3-8B's shapes, for what the allocators and benchmarks compute without its weights (KV: 128 KiB a token in bf16).
LLAMA3_8B = ModelConfig(
    vocab_size=128256,
    hidden_size=4096,
    intermediate_size=14336,
    num_layers=32,
    num_heads=32,
    num_kv_heads=8,
    head_dim=128,
)
