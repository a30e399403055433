"""The publication naming convention (../shared/guide.md): a prompts dataset's name contains `prompt`,
a preference dataset's its algorithm (`dpo` or `kto`), a multimodal one's `image`."""

from __future__ import annotations

import re

# What each kind of dataset must name, and the words no other kind may carry.
REQUIRED_WORD = {"prompts": "prompt", "dpo": "dpo", "kto": "kto", "images": "image"}


def name_problem(name: str, kind: str) -> str:
    """'' when `name` follows the convention for a dataset of `kind`, else what is wrong."""
    if kind not in REQUIRED_WORD:
        raise ValueError(f"unknown dataset kind {kind!r}; kinds: {sorted(REQUIRED_WORD)}")
    words = set(re.split(r"[^a-z0-9]+", name.lower().rsplit("/", 1)[-1]))
    stems = {word.rstrip("s") for word in words}
    required = REQUIRED_WORD[kind]
    if required not in stems:
        return f"a {kind} dataset's name must contain {required!r} (e.g. {name}_{required})"
    # A multimodal dataset names `image` besides its kind (utensilios_ecuador_images_kto), and an image
    # dataset may name its prompts.
    others = sorted(word for other, word in REQUIRED_WORD.items()
                    if other not in (kind, "images") and word in stems and not (kind == "images" and word == "prompt"))
    if others:
        return f"a {kind} dataset's name also names {others}, which mark another kind of dataset"
    return ""
