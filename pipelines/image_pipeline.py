"""What an image run changes in the pipeline: the image rules join the filter (the captions are the responses,
checked by the text rules as answers are), and duplicates are found by image, not by prompt: an image
dataset asks one prompt ("Describe esta imagen") of every photo. The split keeps each image in one split."""

from __future__ import annotations

from curation.config import FilterConfig, ImagesConfig, RunConfig
from curation.pipelines.image_exact_dedupe import ImageExactDedupe
from curation.pipelines.image_near_dedupe import ImageNearDedupe
from curation.pipelines.image_split import ImageSplit
from curation.rules import image_checks
from curation.rules.rule import Rule
from curation.stage import Stage


def image_rules(config: RunConfig) -> list[Rule]:
    """The image rules with the config's severities (filters.severity, filters.disabled); none for text runs."""
    if config.images is None:
        return []
    return [rule.with_severity(config.filters.severity.get(rule.name, rule.severity))
            for rule in image_checks.rules(config.images) if rule.name not in config.filters.disabled]


def text_filters(config: RunConfig) -> FilterConfig:
    """The filter settings for the text rules: without the image rules' names, which they do not know."""
    names = {rule.name for rule in image_checks.rules(config.images)} if config.images else set()
    if not names:
        return config.filters
    return config.filters.model_copy(update={
        "severity": {name: value for name, value in config.filters.severity.items() if name not in names},
        "disabled": [name for name in config.filters.disabled if name not in names]})


def image_stages(config: RunConfig) -> list[Stage]:
    """Exact, then near-duplicate images, then the split by image."""
    dedupe, images = config.dedupe, config.images or ImagesConfig()
    common = {"scope": dedupe.scope, "persona": dedupe.persona, "generic_system_prompts": dedupe.generic_system_prompts}
    near = [ImageNearDedupe(images.near_max_distance, **common)] if images.near else []
    return [ImageExactDedupe(**common), *near, ImageSplit(test_fraction=config.split.test_fraction, seed=config.split.seed)]
