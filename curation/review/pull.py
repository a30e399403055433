"""`curation review pull`: bring people's decisions back into the dataset.

Only submitted responses count (drafts and discarded ones do not). Several annotators are resolved by
majority; a tie is a disagreement, flagged and left as it was. Decisions apply to the accepted rows:
B better swaps chosen and rejected (in the order shown, recorded at push); both good leaves the DPO
set and feeds KTO as desirable; both bad, or a reject category, quarantines the row with that reason;
a corrected answer replaces chosen and keeps the original, with who corrected it. Everything lands in
<run>/reviewed/, with a ledger row per reviewed record and the agreement per question.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from curation.config import saved_config
from curation.errors import CurationError
from curation.output_folder import atomic_directory
from curation.pipelines.columns import published_metadata
from curation.review.agreement import fleiss_kappa
from curation.review.dataset import REJECT_CATEGORIES
from curation.review.push import MANIFEST
from curation.review.server import WORKSPACE, ReviewServerError
from curation.schema import Preference, Status
from curation.writers import write_published, write_table

ANSWERS = {"id": pl.String, "user": pl.String, "question": pl.String, "value": pl.String}


@dataclass
class PullResult:
    reviewed: int
    decisions: pl.DataFrame
    agreement: dict
    output_dir: Path


def submitted_answers(client, name: str, workspace: str = WORKSPACE) -> pl.DataFrame:
    """(id, user, question, value) of every submitted response of the dataset."""
    dataset = client.datasets(name=name, workspace=workspace)
    if dataset is None:
        raise ReviewServerError(f"no Argilla dataset {name!r} in workspace {workspace!r}: push it first")
    rows = [{"id": str(record.id), "user": str(response.user_id), "question": response.question_name,
             "value": None if response.value is None else str(response.value)}
            for record in dataset.records(with_responses=True, with_suggestions=False)
            for response in record.responses if response.status == "submitted"]  # drafts and discards do not count
    return pl.DataFrame(rows, schema=ANSWERS)


def _majority(values: list[str]) -> tuple[str | None, bool]:
    """The most frequent value, and whether the annotators disagree (a tie at the top leaves no decision)."""
    if not values:
        return None, False
    ranked = Counter(values).most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None, True
    return ranked[0][0], len(ranked) > 1


def decide(answers: pl.DataFrame) -> pl.DataFrame:
    """One decision per reviewed record: vote, category, corrected answer, comments, annotators, disagreement."""
    decisions = []
    for (record_id,), group in answers.partition_by("id", as_dict=True, maintain_order=True).items():
        by_question = {q: g for (q,), g in group.partition_by("question", as_dict=True).items()}
        vote, vote_split = _majority(_values(by_question.get("vote")))
        category, category_split = _majority(_values(by_question.get("category")))
        corrections = [v for v in _values(by_question.get("corrected_response")) if v and v.strip()]
        corrector = by_question["corrected_response"].filter(pl.col("value") == corrections[0]).get_column("user")[0] if corrections else None
        decisions.append({"id": record_id, "vote": vote, "category": category,
                          "corrected_response": corrections[0] if corrections else None, "corrected_by": corrector,
                          "comments": [v for v in _values(by_question.get("comment")) if v],
                          "annotators": group.get_column("user").n_unique(), "disagreement": vote_split or category_split})
    return pl.DataFrame(decisions, schema={"id": pl.String, "vote": pl.String, "category": pl.String,
                                           "corrected_response": pl.String, "corrected_by": pl.String,
                                           "comments": pl.List(pl.String), "annotators": pl.Int64, "disagreement": pl.Boolean})


def _values(group: pl.DataFrame | None) -> list[str]:
    return [] if group is None else group.get_column("value").to_list()


def agreement(answers: pl.DataFrame) -> dict:
    """Fleiss' kappa per categorical question, over the records two or more people answered."""
    result = {}
    for question in ("vote", "category"):
        ratings = answers.filter(pl.col("question") == question).group_by("id").agg(pl.col("value"))
        rated = [values for values in ratings.get_column("value").to_list() if len(values) >= 2]
        result[question] = {"records": len(rated), "fleiss_kappa": fleiss_kappa(rated)}
    return result


def apply_decisions(accepted: pl.DataFrame, decisions: pl.DataFrame, shown: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(accepted after review, rows the review quarantined, one ledger row per reviewed record)."""
    # The reviewers' category beside the engine's own `category` tag, which it then overrides.
    rows = accepted.join(decisions.rename({"category": "review_category"}), on="id", how="left").join(
        shown.select("id", "a_is_chosen"), on="id", how="left")
    picked_rejected = ((pl.col("vote") == "a") & ~pl.col("a_is_chosen")) | ((pl.col("vote") == "b") & pl.col("a_is_chosen"))
    reject = pl.col("review_category").is_in(list(REJECT_CATEGORIES))
    reasons = pl.concat_list(
        pl.when(pl.col("vote") == "both_bad").then(pl.lit("review_both_bad")),
        pl.when(reject).then(pl.lit("review_") + pl.col("review_category")),
    ).list.drop_nulls()
    original = pl.when(picked_rejected).then("rejected").otherwise("chosen")
    rows = rows.with_columns(_reasons=reasons).with_columns(
        chosen_before_review=pl.when(pl.col("corrected_response").is_not_null()).then(original),
        review_provenance=pl.when(pl.col("corrected_response").is_not_null())
        .then(pl.lit("chosen corrected in Argilla by user ") + pl.col("corrected_by")),
        chosen=pl.coalesce("corrected_response", original),
        rejected=pl.when(picked_rejected).then("chosen").otherwise("rejected"),
        preference=pl.when(pl.col("vote") == "both_good").then(pl.lit(Preference.BOTH_GOOD.value))
        .when(pl.col("vote").is_in(["a", "b"])).then(pl.lit(Preference.CHOSEN_BETTER.value)).otherwise("preference"),
    )
    decision = (pl.when(pl.col("_reasons").list.len() > 0).then(pl.lit(Status.QUARANTINED.value))
                .when(pl.col("disagreement")).then(pl.lit("disagreement"))
                .when(picked_rejected).then(pl.lit("swapped"))
                .when(pl.col("vote") == "both_good").then(pl.lit("both_good_to_kto"))
                .otherwise(pl.lit("confirmed")))
    ledger = rows.filter(pl.col("annotators").is_not_null()).select(
        "id", "source", decision.alias("decision"), pl.col("_reasons").alias("reasons"), "vote",
        pl.col("review_category").alias("category"),
        "annotators", "disagreement", corrected=pl.col("corrected_response").is_not_null())
    blocked = pl.col("_reasons").list.len() > 0
    if "category" in rows.columns:
        rows = rows.with_columns(category=pl.coalesce("review_category", "category"))
    helpers = ["vote", "review_category", "corrected_response", "corrected_by", "comments", "annotators", "disagreement", "a_is_chosen"]
    quarantined = rows.filter(blocked).with_columns(status=pl.lit(Status.QUARANTINED.value), stage=pl.lit("review"),
                                                    reasons=pl.col("_reasons")).drop("_reasons", *helpers)
    return rows.filter(~blocked).drop("_reasons", *helpers), quarantined, ledger


def pull(run_dir: Path, client, name: str, workspace: str = WORKSPACE) -> PullResult:
    for needed in ("accepted.parquet", MANIFEST, "config.yaml"):
        if not (run_dir / needed).is_file():
            raise CurationError(f"{run_dir} lacks {needed}: pull into the run folder you pushed from")
    config = saved_config(run_dir)
    answers = submitted_answers(client, name, workspace)
    decisions = decide(answers)
    shown = pl.read_parquet(run_dir / MANIFEST).filter(pl.col("dataset") == name)
    accepted, quarantined, ledger = apply_decisions(pl.read_parquet(run_dir / "accepted.parquet"), decisions, shown)
    agreed = agreement(answers)
    summary = {"dataset": name, "reviewed": decisions.height, "answers": answers.height, "agreement": agreed,
               "decisions": dict(ledger.get_column("decision").value_counts().iter_rows()) if ledger.height else {}}
    output = run_dir / "reviewed"
    with atomic_directory(output) as folder:
        write_published(accepted, config.name, folder, config.output.dpo_format == "conversational",
                        config.output.formats, published_metadata(accepted))
        write_table(accepted, folder / "accepted.parquet")
        write_table(quarantined, folder / "quarantine.parquet")
        write_table(decisions, folder / "review_decisions.parquet")
        write_table(ledger, folder / "review_ledger.parquet")
        (folder / "review.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return PullResult(decisions.height, decisions, agreed, output)
