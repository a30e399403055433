"""The judge's ratings -> the pair: a candidate's score is the mean of its criteria, 1 if it reproduces
a stereotype (the bias-trap rule). Both under `bad_below`: both bad. Closer than `tie_margin`: both good
(several valid answers, not a DPO pair). Otherwise the higher score is chosen."""

from __future__ import annotations

import polars as pl

from curation.pipelines.extend.judge import CRITERIA
from curation.schema import Preference

_CANDIDATE = pl.Struct({**{name: pl.Int64 for name in CRITERIA}, "stereotype": pl.Boolean})
JUDGEMENT = pl.Struct({"a": _CANDIDATE, "b": _CANDIDATE, "rationale": pl.String})


def _score(candidate: str) -> pl.Expr:
    ratings = pl.col("judged").struct.field(candidate)
    mean = pl.mean_horizontal(*(ratings.struct.field(name) for name in CRITERIA))
    # A missing rating leaves the score null: the row is filed as an unreadable judgement.
    complete = pl.all_horizontal(*(ratings.struct.field(name).is_not_null() for name in CRITERIA))
    return pl.when(~complete).then(None).when(ratings.struct.field("stereotype")).then(1.0).otherwise(mean)


def with_verdicts(rows: pl.DataFrame, tie_margin: float, bad_below: float) -> pl.DataFrame:
    """Adds preference, chosen, rejected, their models and scores, and the judge's rationale."""
    role_first = pl.col("a_is_role_aware")
    role, plain = pl.col("role_aware_score"), pl.col("plain_score")
    role_wins = role >= plain
    return (rows.with_columns(judged=pl.col("judgement").str.json_decode(JUDGEMENT))
            .with_columns(role_aware_score=pl.when(role_first).then(_score("a")).otherwise(_score("b")),
                          plain_score=pl.when(role_first).then(_score("b")).otherwise(_score("a")),
                          judge_rationale=pl.col("judged").struct.field("rationale"))
            .with_columns(
                preference=pl.when(pl.max_horizontal(role, plain) < bad_below).then(pl.lit(Preference.BOTH_BAD.value))
                .when((role - plain).abs() < tie_margin).then(pl.lit(Preference.BOTH_GOOD.value))
                .otherwise(pl.lit(Preference.CHOSEN_BETTER.value)),
                chosen=pl.when(role_wins).then("response_role_aware").otherwise("response_plain"),
                rejected=pl.when(role_wins).then("response_plain").otherwise("response_role_aware"),
                chosen_model=pl.when(role_wins).then("model_role_aware").otherwise("model_plain"),
                rejected_model=pl.when(role_wins).then("model_plain").otherwise("model_role_aware"),
                chosen_score=pl.max_horizontal(role, plain), rejected_score=pl.min_horizontal(role, plain))
            .drop("judged"))
