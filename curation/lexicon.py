"""Evidence lexicons a linguist edits (YAML) and the whole-column tagger that applies them.

A lexicon file maps a language code (or `phrases`, for every language) to groups of words or phrases,
each group with an evidence kind, a weight and the labels it points to (varieties, registers or
cultural dimensions). A text's label is the one with the highest total weight; a tie gives
"undetermined" with the tied labels as candidates; the matched words are kept as evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from curation.errors import ConfigError
from curation.safe_yaml import load_yaml
from curation.text import dfa_friendly, fold, fold_accents

UNDETERMINED = "undetermined"
_CONTEXT = " .!?:;,\n¿¡(*-"  # what a pattern may match before its word (a clause start): not part of the evidence
ANY_LANGUAGE = "phrases"




def _alternative(entry: str) -> str:
    """A whole-word regex for one entry: word boundaries only where the entry starts or ends with a letter."""
    body = r"\s+".join(re.escape(word) for word in entry.split())
    start = r"\b" if entry[0].isalnum() else ""
    end = r"\b" if entry[-1].isalnum() else ""
    return start + body + end


class LexiconGroup(BaseModel):
    """One group of a lexicon file: its entries (words or regexes) point to labels with a kind and a weight."""
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    kind: str
    varieties: list[str] = Field(min_length=1)
    weight: int = 1  # 0: a match that counts for nothing (a mention: "el té" is not "te")
    words: list[str | int] = []
    patterns: list[str] = []
    except_: list[str] = Field([], alias="except")

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                pl.select(pl.lit("").str.contains(dfa_friendly(pattern)))
            except pl.exceptions.ComputeError as error:
                raise ValueError(f"pattern {pattern!r} is not a valid regex: {' '.join(str(error).split())}") from None
        return patterns


def _groups(text: str, file_name: str) -> dict[str, list[LexiconGroup]]:
    """The lexicon file's groups, checked: a mistake is named by file, language, group and field."""
    document = load_yaml(text, f"lexicon {file_name}")
    if not isinstance(document, dict):
        raise ConfigError(f"lexicon {file_name}: expected a mapping of language code -> list of groups")
    checked = {}
    for language, groups in document.items():
        if not isinstance(groups, list):
            raise ConfigError(f"lexicon {file_name}, language {language}: expected a list of groups, got {type(groups).__name__}")
        checked[language] = []
        for number, group in enumerate(groups, start=1):
            try:
                checked[language].append(LexiconGroup.model_validate(group))
            except ValidationError as error:
                problems = "; ".join(f"{'.'.join(str(part) for part in item['loc']) or 'group'}: {item['msg']}"
                                     for item in error.errors())
                raise ConfigError(f"lexicon {file_name}, language {language}, group {number}: {problems}") from None
    return checked


@dataclass(frozen=True)
class Lexicon:
    name: str
    entries: pl.DataFrame  # language, key (folded entry, or a group's regex), kind, weight, label
    patterns: dict[str, str]  # language -> one regex matching any of its entries
    # Morphology: (language, regex over folded text, words it must not match) per `patterns` group, with the
    # group's kind, weight and labels in `pattern_entries` (gid = the group's index here).
    pattern_groups: tuple[tuple[str, str, frozenset[str]], ...] = ()
    pattern_entries: pl.DataFrame | None = None

    @classmethod
    def load(cls, file_name: str) -> Lexicon:
        return _load(file_name)

    @property
    def pattern(self) -> str:
        """Every language's entries in one regex: one pass over the text; the join keeps each language's own."""
        return "|".join(f"(?:{pattern})" for pattern in self.patterns.values())


def _extract_all(text: pl.Expr, lexicon: Lexicon, language: pl.Expr | None) -> pl.Expr:
    """Every match in the text of its language's entries (case kept); null where the row's language has none.
    Each language's regex runs on its own: one regex for all of them grows past what the fast regex engine
    caches, and runs ~15x slower. Each reads only its language's texts (the others are null to it)."""
    if language is None:
        return text.str.extract_all(f"(?i){lexicon.pattern}")
    if ANY_LANGUAGE in lexicon.patterns:  # phrases of any language: every text of a language the lexicon names
        return pl.when(language.is_in(list(lexicon.patterns))).then(text.str.extract_all(f"(?i){lexicon.pattern}"))
    return pl.coalesce(pl.when(language == code).then(text).str.extract_all(f"(?i){pattern}")
                       for code, pattern in lexicon.patterns.items())


def matches(column: str, lexicon: Lexicon, language_column: str | None = None) -> pl.Expr:
    """Every match of the lexicon's entries in the column (accents folded, case kept): a list per row."""
    language = pl.col(language_column) if language_column else None
    return _extract_all(pl.concat_str(pl.lit("\n"), fold_accents(column)), lexicon, language)


@cache
def _load(file_name: str) -> Lexicon:
    try:  # a packaged name ("varieties.yaml") or a user's path (an absolute path replaces the package's folder)
        text = resources.files("curation.data").joinpath(file_name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"lexicon {file_name}: cannot read it ({type(error).__name__}: {getattr(error, 'strerror', None) or error})") from None
    rows, groups_out, pattern_rows = [], [], []
    regexes: dict[str, list[str]] = {}
    for language, groups in _groups(text, file_name).items():
        for group in groups:
            for entry in group.words:
                for label in group.varieties:
                    rows.append({"language": language, "key": " ".join(fold(str(entry)).split()),
                                 "kind": group.kind, "weight": group.weight, "label": label})
            for regex in group.patterns:
                gid = len(groups_out)
                groups_out.append((language, dfa_friendly(f"^(?:{regex})$"), frozenset(fold(str(w)) for w in group.except_)))
                regexes.setdefault(language, []).append(regex)
                for label in group.varieties:
                    pattern_rows.append({"language": language, "gid": gid, "kind": group.kind, "weight": group.weight, "label": label})
                    rows.append({"language": language, "key": regex, "kind": group.kind, "weight": group.weight, "label": label})
    entries = pl.DataFrame(rows).unique(maintain_order=True)
    patterns = {}
    for language, keys in entries.group_by("language", maintain_order=True).agg(pl.col("key").unique()).iter_rows():
        # Longest first, so a phrase wins over a word it starts with; morphology patterns after every word.
        # A pattern ends where its author says: `\b` after a word, or punctuation ("hombre, ...").
        words = sorted(set(keys) - set(regexes.get(language, [])), key=len, reverse=True)
        alternatives = [_alternative(key) for key in words] + [f"(?:{regex})" for regex in regexes.get(language, [])]
        patterns[language] = dfa_friendly("|".join(alternatives))
    pattern_entries = pl.DataFrame(pattern_rows, schema={"language": pl.String, "gid": pl.Int64, "kind": pl.String,
                                                         "weight": pl.Int64, "label": pl.String})
    return Lexicon(file_name, entries, patterns, tuple(groups_out), pattern_entries)


def confidence(best: pl.Expr, second: pl.Expr) -> pl.Expr:
    """0..1: grows with the winning weight (1 -> 0.5, 2 -> 0.75, 3 -> 0.88) and shrinks with a rival's share."""
    return ((1 - 0.5 ** best.cast(pl.Float64)) * best / (best + second)).fill_nan(0.0).fill_null(0.0).round(3)


def tag(frame: pl.DataFrame, column: str, lexicon: Lexicon, language_column: str | None, prefix: str, *,
        mask: str | None = None, exclude_column: str | None = None, prior: pl.Expr | None = None,
        min_prior_score: int = 3, max_prior_candidates: int = 9, with_confidence: bool = False,
        excluded_column: str | None = None) -> pl.DataFrame:
    """Add <prefix> (label), <prefix>_score (its weight), <prefix>_candidates, <prefix>_evidence ("kind:word")
    and <prefix>_confidence (0..1).

    mask: a regex over the folded text whose spans are not evidence (quoted words, "la palabra X").
    exclude_column: a text (the prompt) whose own matches are not evidence here (an answer explaining them).
    excluded_column: the same, given as a column that already holds that text's matches (`matches`).
    prior: a label per row (the country's variety): when the best candidates tie and it is among them, with a
    weight of at least `min_prior_score`, it is the label.
    """
    # A line break first: a pattern's clause start ("[.!?\n] describe") then covers the text's start without
    # `^|`, which would make the regex engine try every punctuation mark as a possible start.
    text = pl.concat_str(pl.lit("\n"), fold_accents(column))
    # The mask is applied as written: case-insensitive only where it says so (`(?i:...)`); a case-insensitive
    # [^"\n]{1,60} would blow up the regex engine's state cache on long texts.
    searched = text.str.replace_all(mask, " ") if mask else text
    use_language = language_column is not None and ANY_LANGUAGE not in lexicon.patterns
    applies = pl.col(language_column).is_in(list(lexicon.patterns)) if use_language else pl.lit(True)
    matched = _extract_all(searched, lexicon, pl.col(language_column) if use_language else None)
    language = pl.col(language_column) if use_language else pl.lit(ANY_LANGUAGE)
    extra = [prior.alias("_prior")] if prior is not None else []
    if exclude_column is not None:
        extra.append(pl.when(applies).then(_extract_all(pl.concat_str(pl.lit("\n"), fold_accents(exclude_column)),
                                                        lexicon, pl.col(language_column) if use_language else None))
                     .alias("_excluded"))
    elif excluded_column is not None:
        extra.append(pl.col(excluded_column).alias("_excluded"))
    rows = frame.select(matched.alias("_matched"), language.alias("language"), *extra).with_row_index("_row")
    found = (
        rows.select("_row", "language", "_matched").explode("_matched").drop_nulls("_matched")
        .with_columns(pl.col("_matched").str.to_lowercase())
        .with_columns(key=pl.col("_matched").str.replace_all(r"\s+", " ").str.strip_chars_start(_CONTEXT))
    )
    if "_excluded" in rows.columns:
        asked = rows.select("_row", key=pl.col("_excluded")).explode("key").drop_nulls("key").with_columns(
            pl.col("key").str.to_lowercase().str.replace_all(r"\s+", " ")).unique()
        found = found.join(asked, on=["_row", "key"], how="anti")
    hits = found.join(lexicon.entries, on=["language", "key"])
    if lexicon.pattern_groups:
        rest = found.join(lexicon.entries, on=["language", "key"], how="anti")
        gid = pl.lit(None, dtype=pl.Int64)
        for index, (group_language, regex, excepted) in reversed(list(enumerate(lexicon.pattern_groups))):
            # The whole match, with the clause start or punctuation a pattern may include.
            fits = pl.col("_matched").str.contains(regex) & ~pl.col("key").is_in(list(excepted))
            if use_language:
                fits = fits & (pl.col("language") == group_language)
            gid = pl.when(fits).then(pl.lit(index, dtype=pl.Int64)).otherwise(gid)
        by_pattern = (rest.with_columns(gid=gid).drop_nulls("gid").join(lexicon.pattern_entries.drop("language"), on="gid")
                      .with_columns(pl.col("key").str.strip_chars_end(_CONTEXT)))
        hits = pl.concat([hits, by_pattern.select(hits.columns)])
    hits = hits.filter(pl.col("weight") > 0)
    scores = hits.group_by("_row", "label").agg(pl.col("weight").sum().alias("score"))
    ranked = scores.with_columns(top=pl.col("score").max().over("_row"))
    best = ranked.filter(pl.col("score") == pl.col("top")).group_by("_row").agg(
        pl.col("label").sort().alias("candidates"), pl.col("score").first())
    second = ranked.filter(pl.col("score") < pl.col("top")).group_by("_row").agg(pl.col("score").max().alias("second"))
    evidence = hits.group_by("_row").agg(pl.format("{}:{}", "kind", "key").unique(maintain_order=True).alias("evidence"))
    labelled = (rows.select("_row", *(["_prior"] if prior is not None else []))
                .join(best, on="_row", how="left").join(second, on="_row", how="left")
                .join(evidence, on="_row", how="left").sort("_row"))
    single = pl.col("candidates").list.len() == 1
    label = pl.when(single).then(pl.col("candidates").list.first())
    sure = confidence(pl.col("score"), pl.col("second").fill_null(0))
    conf = pl.when(single).then(sure)
    if prior is not None:
        prior_fits = (pl.col("candidates").list.contains(pl.col("_prior")) & (pl.col("score") >= min_prior_score)
                      & (pl.col("candidates").list.len() <= max_prior_candidates))
        label = label.when(prior_fits).then(pl.col("_prior"))
        # A tie settled by the country: the evidence fits it, but it is shared with the other candidates.
        conf = conf.when(prior_fits).then((sure * 0.8).round(3))
    return frame.with_columns(
        labelled.select(
            label.otherwise(pl.lit(UNDETERMINED)).alias(prefix),
            pl.col("score").fill_null(0).alias(f"{prefix}_score"),
            pl.col("candidates").fill_null([]).alias(f"{prefix}_candidates"),
            pl.col("evidence").fill_null([]).alias(f"{prefix}_evidence"),
            *([conf.otherwise(pl.lit(0.0)).alias(f"{prefix}_confidence")] if with_confidence else []),
        )
    )


TAGGED_FIELDS = ("prompt", "chosen", "rejected")


def tag_columns(label: str) -> tuple[str, ...]:
    """The columns `tag_fields` adds for a label: <field>_<label>, _score, _candidates, _evidence."""
    return tuple(f"{field}_{label}{suffix}" for field in TAGGED_FIELDS
                 for suffix in ("", "_score", "_candidates", "_evidence", "_confidence"))


def tag_fields(frame: pl.DataFrame, lexicon: Lexicon, label: str, *, mask: str | None = None,
               mask_answers: bool = True, prior: bool = False) -> pl.DataFrame:
    """Tag prompt, chosen and rejected, each matched against its own language's entries.

    mask: mention spans (quoted words) that are not evidence; on the prompt only unless mask_answers.
    The answers leave out what they share with the prompt (words asked about). prior: a tie that
    includes the row's country variety (<lang>-<country>) is decided for it.
    """
    asked = "_asked_in_prompt"  # the prompt's matches, found once for both answers
    frame = frame.with_columns(matches("prompt", lexicon, "prompt_lang").alias(asked))
    for field in TAGGED_FIELDS:
        country = None
        if prior and "country" in frame.columns:
            country = pl.format("{}-{}", pl.col(f"{field}_lang"), pl.col("country"))
        frame = tag(frame, field, lexicon, f"{field}_lang", f"{field}_{label}",
                    mask=mask if field == "prompt" or mask_answers else None,
                    excluded_column=None if field == "prompt" else asked, prior=country, with_confidence=True)
    return frame.drop(asked)
