"""Rule packs: YAML files a steward edits (see default_pack.yaml).

Row rules compile to polars expressions (a `Rule`, run by the filter stage: block quarantines with
every reason, warn annotates). Dataset expectations are great-expectations expectations, run by
`curation.rules.expectations` on the accepted rows and on tables made from them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import polars as pl
import pycountry
from pydantic import Field, ValidationError, model_validator

from curation.config import Settings, Severity
from curation.errors import ConfigError
from curation.rules.rule import Rule
from curation.safe_yaml import read_yaml
from curation.text import contains_any_branch

DEFAULT_PACK = Path(__file__).with_name("default_pack.yaml")
# Named value sets a pack may use instead of a list.
VALUE_SETS: dict[str, list[str]] = {"iso_countries": sorted(country.alpha_2 for country in pycountry.countries)}
Check = Literal["not_null", "in_set", "length_between", "matches", "not_matches"]


class Condition(Settings):
    """The rule applies only to rows where `column` is one of `in`."""
    column: str
    values: list[str] = Field(alias="in")


class RowRule(Settings):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    column: str
    check: Check
    reason: str
    severity: Severity = "block"
    values: list[str] | str | None = None
    min: int | None = None
    max: int | None = None
    pattern: str | None = None
    when: Condition | None = None

    @model_validator(mode="after")
    def _has_its_arguments(self) -> RowRule:
        needs = {"in_set": ["values"], "length_between": [], "matches": ["pattern"], "not_matches": ["pattern"]}
        missing = [argument for argument in needs.get(self.check, []) if getattr(self, argument) is None]
        if missing:
            raise ValueError(f"check {self.check} needs {missing}")
        if self.check == "length_between" and self.min is None and self.max is None:
            raise ValueError("check length_between needs min, max or both")
        return self

    def breaks(self) -> pl.Expr:
        """True on the rows that break the rule."""
        column = pl.col(self.column)
        if self.check == "not_null":
            broken = column.is_null() | (column.cast(pl.String).str.strip_chars() == "")
        elif self.check == "in_set":
            broken = column.is_not_null() & ~column.cast(pl.String).is_in(value_set(self.values))
        elif self.check == "length_between":
            length = column.str.len_chars()
            broken = (length < (self.min or 0)) | (length > self.max if self.max is not None else pl.lit(False))
        elif self.check == "matches":
            broken = ~contains_any_branch(column, self.pattern)
        else:
            broken = contains_any_branch(column, self.pattern)
        if self.when is not None:
            broken = broken & pl.col(self.when.column).cast(pl.String).is_in(self.when.values)
        return broken

    def rule(self) -> Rule:
        columns = (self.column,) if self.when is None else (self.column, self.when.column)
        return Rule(self.name, self.reason, self.severity, self.breaks(), columns=columns)


class Expectation(Settings):
    expectation: str = Field(pattern=r"^expect_[a-z_]+$")
    kwargs: dict[str, Any]
    table: str = "accepted"
    description: str | None = None


class Pack(Settings):
    name: str
    description: str = ""
    row_rules: list[RowRule] = Field(default_factory=list)
    expectations: list[Expectation] = Field(default_factory=list)

    def rules(self) -> list[Rule]:
        return [row_rule.rule() for row_rule in self.row_rules]


def value_set(values: list[str] | str | None) -> list[str]:
    if isinstance(values, str):
        if values not in VALUE_SETS:
            raise ConfigError(f"unknown value set {values!r}; named sets: {sorted(VALUE_SETS)}")
        return VALUE_SETS[values]
    return list(values or [])


def load_pack(name_or_path: str) -> Pack:
    """`default`, or the path of a pack YAML file."""
    path = DEFAULT_PACK if name_or_path == "default" else Path(name_or_path)
    if not path.is_file():
        raise ConfigError(f"rule pack {name_or_path!r}: no such file (use 'default' or a path to a YAML pack)")
    try:
        return Pack.model_validate(read_yaml(path, f"rule pack {path}"))
    except ValidationError as error:
        raise ConfigError(f"rule pack {path}: {error}") from None


def load_packs(names: list[str]) -> list[Pack]:
    packs = [load_pack(name) for name in names]
    rule_names = [rule.name for pack in packs for rule in pack.row_rules]
    repeated = sorted({name for name in rule_names if rule_names.count(name) > 1})
    if repeated:
        raise ConfigError(f"rule packs {names} define the row rules {repeated} more than once")
    return packs
