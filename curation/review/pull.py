"""`curation review pull`: bring people's decisions back, as decisions in the project's decisions file.

Only submitted responses count (drafts and discarded ones do not). Several annotators are resolved by
majority; a tie is a disagreement, flagged, and decides nothing. Each record's answers become decisions
(curation/decisions.py, source argilla, who = the usernames that gave the winning answer, why = the
comments): the vote (B better as shown becomes `swap` of the export's pair, A better `confirm`, both good,
both bad), the category, and a corrected answer. They are appended to the decisions file (a re-pull adds
only what changed), and the run is curated again with them into <run>/reviewed/: a full run folder, with
a ledger row per reviewed record (review_ledger.parquet) and the agreement per question (review.json).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from curation.config import RunConfig, saved_config
from curation.decisions import COLUMNS, REJECT_CATEGORIES, append_decisions, decisions_file, now
from curation.errors import CurationError
from curation.review.agreement import fleiss_kappa
from curation.review.push import MANIFEST
from curation.review.server import WORKSPACE, ReviewServerError
from curation.run_folder import present
from curation.writers import write_table

ANSWERS = {"id": pl.String, "user": pl.String, "question": pl.String, "value": pl.String}
DECIDED = {"id": pl.String, "vote": pl.String, "vote_by": pl.List(pl.String), "category": pl.String,
           "category_by": pl.List(pl.String), "corrected_response": pl.String, "corrected_by": pl.String,
           "comments": pl.List(pl.String), "annotators": pl.Int64, "disagreement": pl.Boolean}
REVIEWED = "reviewed"


@dataclass
class PullResult:
    reviewed: int
    decisions: pl.DataFrame
    agreement: dict
    output_dir: Path
    added: int  # decisions appended to the decisions file (a re-pull adds only what changed)
    decisions_file: Path


def usernames(client) -> dict[str, str]:
    """User id -> username (the owner may list users; anyone else keeps the ids)."""
    try:
        return {str(user.id): user.username for user in client.users}
    except Exception:  # noqa: BLE001 (the SDK raises its own errors for a role that may not list users)
        return {}


def submitted_answers(client, name: str, workspace: str = WORKSPACE) -> pl.DataFrame:
    """(id, user, question, value) of every submitted response of the dataset; users by their username."""
    dataset = client.datasets(name=name, workspace=workspace)
    if dataset is None:
        raise ReviewServerError(f"no Argilla dataset {name!r} in workspace {workspace!r}: push it first")
    names = usernames(client)
    rows = [{"id": str(record.id), "user": names.get(str(response.user_id), str(response.user_id)),
             "question": response.question_name, "value": None if response.value is None else str(response.value)}
            for record in dataset.records(with_responses=True, with_suggestions=False)
            for response in record.responses if response.status == "submitted"]  # drafts and discards do not count
    return pl.DataFrame(rows, schema=ANSWERS)


def _majority(group: pl.DataFrame | None) -> tuple[str | None, list[str], bool]:
    """The most frequent value, who gave it, and whether the annotators disagree (a tie at the top decides nothing)."""
    if group is None or group.is_empty():
        return None, [], False
    ranked = Counter(group.get_column("value").to_list()).most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None, [], True
    winner = ranked[0][0]
    return winner, sorted(group.filter(pl.col("value") == winner).get_column("user").to_list()), len(ranked) > 1


def decide(answers: pl.DataFrame) -> pl.DataFrame:
    """One row per reviewed record: vote, category, corrected answer, who gave each, comments, disagreement."""
    decisions = []
    for (record_id,), group in answers.partition_by("id", as_dict=True, maintain_order=True).items():
        by_question = {q: g for (q,), g in group.partition_by("question", as_dict=True).items()}
        vote, vote_by, vote_split = _majority(by_question.get("vote"))
        category, category_by, category_split = _majority(by_question.get("category"))
        corrections = _given(by_question.get("corrected_response"))
        decisions.append({"id": record_id, "vote": vote, "vote_by": vote_by, "category": category, "category_by": category_by,
                          "corrected_response": corrections.get_column("value").first(),
                          "corrected_by": corrections.get_column("user").first(),
                          "comments": _given(by_question.get("comment")).get_column("value").to_list(),
                          "annotators": group.get_column("user").n_unique(), "disagreement": vote_split or category_split})
    return pl.DataFrame(decisions, schema=DECIDED)


def _given(group: pl.DataFrame | None) -> pl.DataFrame:
    """The answers of a free-text question that say something."""
    if group is None:
        return pl.DataFrame(schema=ANSWERS)
    return group.filter(pl.col("value").str.strip_chars().fill_null("") != "")


def agreement(answers: pl.DataFrame) -> dict:
    """Fleiss' kappa per categorical question, over the records two or more people answered."""
    result = {}
    for question in ("vote", "category"):
        ratings = answers.filter(pl.col("question") == question).group_by("id").agg(pl.col("value"))
        rated = [values for values in ratings.get_column("value").to_list() if len(values) >= 2]
        result[question] = {"records": len(rated), "fleiss_kappa": fleiss_kappa(rated)}
    return result


def _rejected_shown(shown: pl.DataFrame) -> pl.Expr:
    """The vote picked the answer the export had as rejected, in the A/B order it was shown in."""
    return ((pl.col("vote") == "a") & ~pl.col("a_is_chosen")) | ((pl.col("vote") == "b") & pl.col("a_is_chosen"))


def as_decisions(decided: pl.DataFrame, shown: pl.DataFrame, when: str) -> pl.DataFrame:
    """The records' majority answers as rows of the decisions table (source argilla)."""
    rows = decided.join(shown.select("id", "a_is_chosen"), on="id", how="left").with_columns(
        why=pl.col("comments").list.join("; ").replace("", None), when=pl.lit(when), source=pl.lit("argilla"))
    vote = pl.when(pl.col("vote").is_in(["a", "b"])).then(
        pl.when(_rejected_shown(shown)).then(pl.lit("swap")).otherwise(pl.lit("confirm"))).otherwise("vote")
    parts = [
        rows.filter(pl.col("vote").is_not_null()).select("id", action=vote, value=pl.lit(None, dtype=pl.String),
                                                          who=pl.col("vote_by").list.join(", ")),
        rows.filter(pl.col("category").is_not_null()).select("id", action=pl.lit("category"), value="category",
                                                              who=pl.col("category_by").list.join(", ")),
        rows.filter(pl.col("corrected_response").is_not_null()).select("id", action=pl.lit("correct"),
                                                                       value="corrected_response", who="corrected_by"),
    ]
    extra = rows.select("id", "when", "why", "source")
    return pl.concat(parts).join(extra, on="id", how="left", maintain_order="left").select(list(COLUMNS))


def review_ledger(decided: pl.DataFrame, shown: pl.DataFrame, accepted: pl.DataFrame) -> pl.DataFrame:
    """One row per reviewed record: what the review decided, and why a record leaves."""
    reasons = pl.concat_list(pl.when(pl.col("vote") == "both_bad").then(pl.lit("review_both_bad")),
                             pl.when(pl.col("category").is_in(REJECT_CATEGORIES)).then(pl.lit("review_") + pl.col("category"))
                             ).list.drop_nulls()
    decision = (pl.when(reasons.list.len() > 0).then(pl.lit("quarantined"))
                .when(pl.col("disagreement")).then(pl.lit("disagreement"))
                .when(_rejected_shown(shown)).then(pl.lit("swapped"))
                .when(pl.col("vote") == "both_good").then(pl.lit("both_good_to_kto"))
                .otherwise(pl.lit("confirmed")))
    return decided.join(shown.select("id", "a_is_chosen"), on="id", how="left").join(
        accepted.select("id", "source").unique("id"), on="id", how="left").select(
        "id", "source", decision.alias("decision"), reasons.alias("reasons"), "vote", "category", "annotators",
        "disagreement", corrected=pl.col("corrected_response").is_not_null())


def pull(run_dir: Path, client, name: str, workspace: str = WORKSPACE, decisions: Path | None = None,
         *, curate: Callable[[RunConfig, Path], object]) -> PullResult:
    """Append the reviewed records' decisions to the decisions file, then `curate` (the run: config, output
    folder) the run's own config with them into <run_dir>/reviewed/."""
    for needed in ("accepted.parquet", MANIFEST, "config.yaml"):
        if not present(run_dir / needed):
            raise CurationError(f"{run_dir} lacks {needed}: pull into the run folder you pushed from")
    path = decisions_file(run_dir, decisions)
    answers = submitted_answers(client, name, workspace)
    decided = decide(answers)
    shown = pl.read_parquet(run_dir / MANIFEST).filter(pl.col("dataset") == name)
    added = append_decisions(path, as_decisions(decided, shown, now()))
    ledger = review_ledger(decided, shown, pl.read_parquet(run_dir / "accepted.parquet", columns=["id", "source"]))
    agreed = agreement(answers)
    summary = {"dataset": name, "reviewed": decided.height, "answers": answers.height, "agreement": agreed,
               "decisions_file": str(path), "decisions_added": added,
               "decisions": dict(ledger.get_column("decision").value_counts().iter_rows()) if ledger.height else {}}
    config = saved_config(run_dir)
    output = run_dir / REVIEWED
    curate(config.model_copy(update={"decisions": str(path)}), output)
    write_table(decided, output / "review_decisions.parquet")
    write_table(ledger, output / "review_ledger.parquet")
    (output / "review.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return PullResult(decided.height, decided, agreed, output, added, path)
