"""DPO training on a curated split: trl, peft LoRA, codecarbon, evaluation and the model card."""
