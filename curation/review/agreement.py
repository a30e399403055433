"""Agreement between annotators on a categorical question."""

from __future__ import annotations

from collections import Counter


def fleiss_kappa(ratings: list[list[str]]) -> float | None:
    """Fleiss' kappa (statsmodels) over the records rated by the number of people most records have (two or
    more; the larger number on a tie): Fleiss' kappa is defined for a fixed number of raters per record, so a
    record someone has not answered yet counts once they have. None when nothing is rated twice or every
    rating is the same category (kappa is undefined there)."""
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa as statsmodels_kappa

    sizes = Counter(len(values) for values in ratings if len(values) >= 2)
    if not sizes:
        return None
    raters = max(sizes, key=lambda size: (sizes[size], size))
    # A missing value is a category of its own; numpy sorts the categories, so every one is text.
    table, categories = aggregate_raters([[str(value) for value in values] for values in ratings if len(values) == raters])
    if len(categories) < 2:
        return None
    return round(float(statsmodels_kappa(table, method="fleiss")), 4)
