"""Filter rules: each a named polars expression with a reason and a severity (block / warn).

One family per file; `default_rules` assembles them from the config.
"""

from __future__ import annotations

from curation.config import FilterConfig
from curation.errors import ConfigError
from curation.rules import (
    dialogue, disclaimers, encoding, language_mismatch, length, length_ratio, non_answer, pii, placeholders, similarity,
    truncation, trivial, variety_clash,
)
from curation.rules.rule import Rule

FAMILIES = (length, non_answer, similarity, disclaimers, placeholders, truncation, dialogue, encoding, pii, length_ratio, trivial)
# These read the tags the tagging stages add.
TAG_FAMILIES = (language_mismatch, variety_clash)


def default_rules(config: FilterConfig, tagged: bool = True) -> list[Rule]:
    """Every rule, with the config's severity overrides applied and disabled rules left out."""
    every_rule = [rule for family in FAMILIES + TAG_FAMILIES for rule in family.rules(config)]
    names = {rule.name for rule in every_rule}
    tag_rules = {rule.name for family in TAG_FAMILIES for rule in family.rules(config)}
    rules = [rule for rule in every_rule if tagged or rule.name not in tag_rules]
    unknown = sorted((set(config.severity) | set(config.disabled)) - names)
    if unknown:
        raise ConfigError(f"filters: unknown rule names {unknown}; the rules are {sorted(names)}")
    return [
        rule.with_severity(config.severity.get(rule.name, rule.severity))
        for rule in rules
        if rule.name not in config.disabled
    ]
