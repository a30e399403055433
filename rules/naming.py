"""The publication naming convention (../shared/guide.md): a prompts dataset's name contains `prompt`,
a preference dataset's its algorithm (`dpo` or `kto`), a multimodal one's `image`."""

from __future__ import annotations

import re

# What each kind of dataset's name must contain; an image dataset (trl's vision format) names `image` and its
# algorithm (utensilios_ecuador_images_kto).
REQUIRED_WORDS: dict[str, tuple[str, ...]] = {"prompts": ("prompt",), "dpo": ("dpo",), "kto": ("kto",), "images": ("image",),
                                              "images_dpo": ("image", "dpo"), "images_kto": ("image", "kto")}
KIND_WORDS = ("prompt", "dpo", "kto")  # each marks one kind: no other kind's name may carry it


def name_problem(name: str, kind: str) -> str:
    """'' when `name` follows the convention for a dataset of `kind`, else what is wrong."""
    if kind not in REQUIRED_WORDS:
        raise ValueError(f"unknown dataset kind {kind!r}; kinds: {sorted(REQUIRED_WORDS)}")
    words = set(re.split(r"[^a-z0-9]+", name.lower().rsplit("/", 1)[-1]))
    stems = {word.rstrip("s") for word in words}
    required = REQUIRED_WORDS[kind]
    missing = [word for word in required if word not in stems]
    if missing:
        return f"a {kind} dataset's name must contain {' and '.join(map(repr, missing))} (e.g. {name}_{'_'.join(missing)})"
    # `image` marks a modality any kind may add; a multimodal dataset of prompts may name them.
    others = sorted(word for word in KIND_WORDS
                    if word in stems and word not in required and not (kind == "images" and word == "prompt"))
    if others:
        return f"a {kind} dataset's name also names {others}, which mark another kind of dataset"
    return ""
