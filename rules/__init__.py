"""Filter rules: each a named polars expression with a reason and a severity (block / warn).

One family per file; `default_rules` assembles them from the config.
"""

from __future__ import annotations

from curation.config import FilterConfig
from curation.errors import ConfigError
from curation.rules import (
    dialogue,
    disclaimers,
    encoding,
    language_mismatch,
    length,
    length_ratio,
    non_answer,
    pii,
    placeholders,
    similarity,
    trivial,
    truncation,
    variety_clash,
)
from curation.rules.rule import Rule

FAMILIES = (length, non_answer, similarity, disclaimers, placeholders, truncation, dialogue, encoding, pii, length_ratio, trivial)
# language_mismatch and variety_clash read the tags the tagging stages add.


def default_rules(config: FilterConfig, tagged: bool = True, varieties_lexicon: str = "varieties.yaml") -> list[Rule]:
    """Every rule, with the config's severity overrides applied and disabled rules left out. Rules on the
    tags only when the run tags (`tagged`); variety_clash reads the lexicon the tags were made with."""
    tag_rules = [*language_mismatch.rules(config), *variety_clash.rules(config, varieties_lexicon)]
    every_rule = [rule for family in FAMILIES for rule in family.rules(config)] + tag_rules
    names = {rule.name for rule in every_rule}
    rules = every_rule if tagged else every_rule[:len(every_rule) - len(tag_rules)]
    unknown = sorted((set(config.severity) | set(config.disabled)) - names)
    if unknown:
        raise ConfigError(f"filters: unknown rule names {unknown}; the rules are {sorted(names)}")
    return [
        rule.with_severity(config.severity.get(rule.name, rule.severity))
        for rule in rules
        if rule.name not in config.disabled
    ]
