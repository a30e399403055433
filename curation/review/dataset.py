"""The Argilla review dataset: fields, questions and metadata (following ../shared/guide.md), and one
Argilla record per accepted row, its two answers in a seeded random order that is recorded."""

from __future__ import annotations

import polars as pl

from curation.rules.pack import VALUE_SETS
from curation.schema import seeded_coin

VOTES = {"a": "A better", "b": "B better", "both_good": "Both good", "both_bad": "Both bad"}
# The guide's seven categories: three reject a prompt, four accept it by its predominant dimension.
REJECT_CATEGORIES = {"trivial": "Trivial / factual", "stereotype": "Reproduces or induces a stereotype",
                     "no_anchor": "No cultural anchor in the country"}
ACCEPT_CATEGORIES = {"knowledge": "Cultural knowledge", "preference": "Preference / norm",
                     "dynamics": "Cultural dynamics", "bias_trap": "Bias trap"}
METADATA = ("country", "language", "variety", "register", "flags", "source", "generator")
GUIDELINES = """Read the prompt (and the system prompt: judge from the role it sets, not from yourself).
Vote for the answer that is correct, fits the culture of the country and of the role, and sounds natural
in the local variety (voseo, leísmo, local words), the same variety as the prompt. There is no neutral
Spanish to reward. "Both good": several culturally valid answers. "Both bad": serious errors of tone,
content or cultural fit. Then classify the prompt: reject it if trivial, stereotyped or without a cultural
anchor; otherwise pick its predominant dimension. You may write a corrected answer."""


def settings(overlap: int = 1):
    import argilla as rg

    return rg.Settings(
        guidelines=GUIDELINES,
        fields=[rg.TextField(name="system_prompt", title="System prompt (the role)", required=False),
                rg.TextField(name="prompt", title="Prompt"),
                rg.TextField(name="response_a", title="Response A", use_markdown=True),
                rg.TextField(name="response_b", title="Response B", use_markdown=True)],
        questions=[rg.LabelQuestion(name="vote", title="Which answer is better?", labels=VOTES),
                   rg.LabelQuestion(name="category", title="The prompt's category",
                                    labels={**ACCEPT_CATEGORIES, **REJECT_CATEGORIES}),
                   rg.TextQuestion(name="corrected_response", title="Corrected answer (optional)", required=False,
                                   use_markdown=True),
                   rg.TextQuestion(name="comment", title="Comment (optional)", required=False)],
        # Countries are ISO codes: the server refuses anything else, so a stray value cannot reach annotators.
        metadata=[rg.TermsMetadataProperty(name="country", options=VALUE_SETS["iso_countries"]),
                  *(rg.TermsMetadataProperty(name=name) for name in METADATA if name != "country"),
                  # The order A/B was drawn in: hidden, so it cannot bias anyone.
                  rg.TermsMetadataProperty(name="a_is_chosen", visible_for_annotators=False)],
        distribution=rg.TaskDistribution(min_submitted=overlap),
    )


def a_is_chosen(ids: pl.Series, seed: int) -> pl.Series:
    """Whether response A shows the chosen answer: a coin per row, fixed by the seed and the row's id."""
    return pl.Series("a_is_chosen", [seeded_coin(seed, row_id) for row_id in ids.to_list()], dtype=pl.Boolean)


def review_rows(accepted: pl.DataFrame, seed: int) -> pl.DataFrame:
    """The rows to review, in the shape of Argilla records: pairs with both answers, A/B drawn per row."""
    pairs = accepted.filter(pl.col("chosen").is_not_null() & pl.col("rejected").is_not_null())
    pairs = pairs.with_columns(a_is_chosen(pairs.get_column("id"), seed))
    optional = {name: pl.col(column) if column in pairs.columns else pl.lit(None, dtype=pl.String)
                for name, column in (("language", "prompt_lang"), ("variety", "prompt_variety"),
                                     ("register", "prompt_register"), ("dimension", "dimension"))}
    generator = next((pl.col(column) for column in ("modelo_gen", "chosen_model") if column in pairs.columns),
                     pl.lit(None, dtype=pl.String))
    flags = pl.col("warnings") if "warnings" in pairs.columns else pl.lit([], dtype=pl.List(pl.String))
    judge = {name: pl.col(name) if name in pairs.columns else pl.lit(None, dtype=pl.String)
             for name in ("judge_model", "judge_rationale")}
    return pairs.select(
        "id", "system_prompt", "prompt", "preference", "country", "source", "a_is_chosen",
        response_a=pl.when("a_is_chosen").then("chosen").otherwise("rejected"),
        response_b=pl.when("a_is_chosen").then("rejected").otherwise("chosen"),
        flags=flags, generator=generator.cast(pl.String), **optional, **judge,
        dimension_score=pl.col("dimension_score") if "dimension_score" in pairs.columns else pl.lit(None, dtype=pl.Int64),
    )


def _arena_vote(preference: str | None, chosen_is_a: bool) -> str | None:
    if preference == "chosen-better":
        return "a" if chosen_is_a else "b"
    return {"both-good": "both_good", "both-bad": "both_bad"}.get(preference or "")


def to_record(row: dict):
    """One Argilla record, its id the row's stable id (so a re-push updates it), with suggestions from
    the arena's vote (or the LLM judge's, on generated rows, with its rationale), the dimension tag and
    the rules' warnings."""
    import argilla as rg

    suggestions = []
    vote = _arena_vote(row["preference"], row["a_is_chosen"])
    if vote and row["judge_model"]:
        suggestions.append(rg.Suggestion("vote", vote, agent=f"LLM judge {row['judge_model']}", type="model"))
    elif vote:
        suggestions.append(rg.Suggestion("vote", vote, score=1.0, agent="arena vote", type="human"))
    if row["dimension"] in ACCEPT_CATEGORIES:
        score = min(1.0, (row["dimension_score"] or 1) / 5)
        suggestions.append(rg.Suggestion("category", row["dimension"], score=score, agent="dimension_tag lexicon", type="model"))
    comments = [*(["judge: " + row["judge_rationale"]] if row["judge_rationale"] else []),
                *(["rules: " + ", ".join(row["flags"])] if row["flags"] else [])]
    if comments:
        suggestions.append(rg.Suggestion("comment", "\n".join(comments), agent="curation", type="model"))
    metadata = {name: row[name] for name in ("country", "language", "variety", "register", "source", "generator") if row[name]}
    if row["flags"]:
        metadata["flags"] = list(row["flags"])
    metadata["a_is_chosen"] = "yes" if row["a_is_chosen"] else "no"
    fields = {"prompt": row["prompt"], "response_a": row["response_a"], "response_b": row["response_b"]}
    if row["system_prompt"]:
        fields["system_prompt"] = row["system_prompt"]
    return rg.Record(id=row["id"], fields=fields, metadata=metadata, suggestions=suggestions)
