"""The Argilla review dataset: fields, questions and metadata (following ../shared/guide.md), and one
Argilla record per accepted row, its two answers in a seeded random order that is recorded.

Suggestions a reviewer starts from: the vote (the arena's, or the LLM judge's on generated rows), the
prompt's category (the LLM classifier's verdict when `curation classify` ran, else the trivial_prompt
rule's category 1, else the prompt classifier's confident category), and a comment with the judge's
or classifier's rationale and the rules' warnings. A row that dedupe let through as a possible
duplicate shows the other row beside it, so the reviewer decides whether they are the same question."""

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
CATEGORIES = {**ACCEPT_CATEGORIES, **REJECT_CATEGORIES}
METADATA = ("country", "language", "variety", "register", "flags", "source", "generator", "possible_duplicate_of")
UNDETERMINED = "undetermined"
LLM_COLUMNS = {"llm_category": pl.String, "llm_confidence": pl.Float64, "llm_rationale": pl.String, "llm_model": pl.String}
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
                rg.TextField(name="response_b", title="Response B", use_markdown=True),
                rg.TextField(name="possible_duplicate", required=False,
                             title="Possible duplicate: another row with nearly the same question (same question, country "
                                   "and persona? then reject one as a duplicate in the comment)")],
        questions=[rg.LabelQuestion(name="vote", title="Which answer is better?", labels=VOTES),
                   rg.LabelQuestion(name="category", title="The prompt's category",
                                    labels=CATEGORIES),
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


def review_rows(accepted: pl.DataFrame, seed: int, others: pl.DataFrame | None = None,
                classified: pl.DataFrame | None = None) -> pl.DataFrame:
    """The rows to review, in the shape of Argilla records: pairs with both answers, A/B drawn per row.
    `others` are rows a possible duplicate may point to beyond the accepted ones (the run's dropped
    duplicates); `classified` is the LLM classifier's llm_classification.parquet."""
    pairs = accepted.filter(pl.col("chosen").is_not_null() & pl.col("rejected").is_not_null())
    pairs = pairs.with_columns(a_is_chosen(pairs.get_column("id"), seed))

    def present(column: str, dtype: pl.DataType = pl.String) -> pl.Expr:
        return pl.col(column) if column in pairs.columns else pl.lit(None, dtype=dtype)

    generator = next((pl.col(column) for column in ("modelo_gen", "chosen_model") if column in pairs.columns),
                     pl.lit(None, dtype=pl.String))
    flags = pl.col("warnings") if "warnings" in pairs.columns else pl.lit([], dtype=pl.List(pl.String))
    rows = pairs.select(
        "id", "system_prompt", "prompt", "preference", "country", "source", "a_is_chosen",
        response_a=pl.when("a_is_chosen").then("chosen").otherwise("rejected"),
        response_b=pl.when("a_is_chosen").then("rejected").otherwise("chosen"),
        flags=flags, generator=generator.cast(pl.String), language=present("prompt_lang"), variety=present("prompt_variety"),
        register=present("prompt_register"), judge_model=present("judge_model"), judge_rationale=present("judge_rationale"),
        category=present("category"), category_confidence=present("category_confidence", pl.Float64),
        possible_duplicate_of=present("possible_duplicate_of"),
    )
    texts = pl.concat([frame.select("id", "system_prompt", "prompt") for frame in (accepted, others) if frame is not None])
    rows = rows.join(texts.unique("id").select("id", other_system_prompt="system_prompt", other_prompt="prompt"),
                     left_on="possible_duplicate_of", right_on="id", how="left", maintain_order="left")
    classified = classified if classified is not None else pl.DataFrame(schema={"id": pl.String, **LLM_COLUMNS})
    return rows.join(classified.select("id", *LLM_COLUMNS), on="id", how="left", maintain_order="left")


def _category_suggestion(row: dict):
    """The LLM classifier's verdict, else category 1 from the trivial_prompt rule, else the prompt
    classifier's category: one suggestion per question is all Argilla keeps."""
    import argilla as rg

    if row["llm_category"] in CATEGORIES:
        return rg.Suggestion("category", row["llm_category"], score=row["llm_confidence"],
                             agent=f"LLM classifier {row['llm_model']}", type="model")
    if "trivial_prompt" in (row["flags"] or []):
        return rg.Suggestion("category", "trivial", agent="trivial_prompt rule", type="model")
    if row["category"] in CATEGORIES:
        return rg.Suggestion("category", row["category"], score=row["category_confidence"], agent="prompt classifier", type="model")
    return None


def _possible_duplicate_text(row: dict) -> str | None:
    if not row["possible_duplicate_of"]:
        return None
    if row["other_prompt"] is None:
        return f"(row {row['possible_duplicate_of']}, not in this run's rows)"
    persona = f"System prompt: {row['other_system_prompt']}\n\n" if row["other_system_prompt"] else ""
    return f"{persona}Prompt: {row['other_prompt']}\n\n(row {row['possible_duplicate_of']})"


def _arena_vote(preference: str | None, chosen_is_a: bool) -> str | None:
    if preference == "chosen-better":
        return "a" if chosen_is_a else "b"
    return {"both-good": "both_good", "both-bad": "both_bad"}.get(preference or "")


def to_record(row: dict):
    """One Argilla record, its id the row's stable id (so a re-push updates it), with the suggestions of
    the module's docstring."""
    import argilla as rg

    suggestions = []
    vote = _arena_vote(row["preference"], row["a_is_chosen"])
    if vote and row["judge_model"]:
        suggestions.append(rg.Suggestion("vote", vote, agent=f"LLM judge {row['judge_model']}", type="model"))
    elif vote:
        suggestions.append(rg.Suggestion("vote", vote, score=1.0, agent="arena vote", type="human"))
    category = _category_suggestion(row)
    if category is not None:
        suggestions.append(category)
    comments = [*(["judge: " + row["judge_rationale"]] if row["judge_rationale"] else []),
                *([f"LLM classifier ({row['llm_category']}): {row['llm_rationale']}"] if row["llm_rationale"] else []),
                *(["rules: " + ", ".join(row["flags"])] if row["flags"] else [])]
    if comments:
        suggestions.append(rg.Suggestion("comment", "\n".join(comments), agent="curation", type="model"))
    metadata = {name: row[name] for name in METADATA if name != "flags" and row[name]}
    if row["flags"]:
        metadata["flags"] = list(row["flags"])
    metadata["a_is_chosen"] = "yes" if row["a_is_chosen"] else "no"
    fields = {"prompt": row["prompt"], "response_a": row["response_a"], "response_b": row["response_b"]}
    if row["system_prompt"]:
        fields["system_prompt"] = row["system_prompt"]
    if (other := _possible_duplicate_text(row)) is not None:
        fields["possible_duplicate"] = other
    return rg.Record(id=row["id"], fields=fields, metadata=metadata, suggestions=suggestions)
