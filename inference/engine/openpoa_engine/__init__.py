"""OpenPoA inference engine: one Llama-family base model serving many LoRA adapters in one batch."""

__version__ = "0.1.0"
PROTOCOL = "openpoa-engine/1"
