"""What an image run changes in the filter: the image rules join it (the captions are the responses, checked by
the text rules as answers are). Its other stages are the image stages (image_exact_dedupe, image_near_dedupe,
image_split), which find duplicates by image, not by prompt (an image dataset asks one prompt, "Describe esta
imagen", of every photo) and keep each image in one split; each says so in its `enabled`."""

from __future__ import annotations

from curation.config import FilterConfig, RunConfig
from curation.rules import image_checks
from curation.rules.rule import Rule


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
