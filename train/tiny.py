"""A tiny random Llama and a byte-level BPE tokenizer trained here on the demo texts: a model that loads by
path like any other, for smoke tests, the notebooks and the benchmark, with nothing downloaded."""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

# ChatML, as SmolLM2 and many instruct models write it.
CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def demo_texts() -> list[str]:
    """Every prompt, system prompt and answer of the embedded demo data."""
    text = resources.files("curation.demo").joinpath("arena_demo.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [row[key] for row in rows for key in ("system_prompt", "question", "chosen", "rejected") if row.get(key)]


def build_tiny_model(folder: Path, texts: Iterable[str] | None = None, vocab_size: int = 1024, hidden_size: int = 64,
                     layers: int = 2, chat_template: str | None = CHATML, architecture: str = "llama",
                     seed: int = 0) -> Path:
    """Write a random model and its tokenizer (trained on `texts`, the demo texts by default) to `folder`;
    returns it. `chat_template=None` makes a tokenizer without one. `architecture="gemma3"` makes a tiny
    Gemma 3 with a vision tower, laid out like Gemma-3-4b-it (Gemma3ForConditionalGeneration)."""
    import torch
    from transformers import AutoModelForCausalLM

    tokenizer = _tokenizer(list(texts or demo_texts()), vocab_size, chat_template)
    config = {"llama": _llama_config, "gemma3": _gemma3_config}[architecture](tokenizer, hidden_size, layers)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    folder = Path(folder)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _tokenizer(texts: list[str], vocab_size: int, chat_template: str | None):
    """A byte-level BPE (no unknown characters, whatever the language) with ChatML's special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                        pad_token="<|endoftext|>", unk_token="<|endoftext|>")
    tokenizer.chat_template = chat_template
    return tokenizer


def _special_ids(tokenizer) -> dict[str, int]:
    return {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id}


def _llama_config(tokenizer, hidden_size: int, layers: int):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                       num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                       max_position_embeddings=4096, tie_word_embeddings=True, **_special_ids(tokenizer))


def _gemma3_config(tokenizer, hidden_size: int, layers: int):
    from transformers import Gemma3Config, Gemma3TextConfig, SiglipVisionConfig

    # The image tokens sit past the text vocabulary: text never produces them.
    image, begin_image, end_image = len(tokenizer), len(tokenizer) + 1, len(tokenizer) + 2
    text = Gemma3TextConfig(vocab_size=len(tokenizer) + 3, hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                            num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                            head_dim=hidden_size // 4, max_position_embeddings=4096, sliding_window=64,
                            **_special_ids(tokenizer))
    vision = SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                image_size=32, patch_size=8)
    return Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=4, image_token_index=image,
                        boi_token_index=begin_image, eoi_token_index=end_image, **_special_ids(tokenizer))
