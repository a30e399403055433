"""Agreement between annotators on a categorical question."""

from __future__ import annotations

from collections import Counter


def fleiss_kappa(ratings: list[list[str]]) -> float | None:
    """Fleiss' kappa over items each rated by two or more people (the number of raters may vary per item).
    None when nothing is rated twice or every rating is the same category (kappa is undefined there)."""
    items = [values for values in ratings if len(values) >= 2]
    if not items:
        return None
    totals: Counter[str] = Counter()
    agreement = 0.0
    for values in items:
        counts = Counter(values)
        raters = len(values)
        totals.update(counts)
        agreement += (sum(n * n for n in counts.values()) - raters) / (raters * (raters - 1))
    observed = agreement / len(items)
    all_ratings = sum(totals.values())
    expected = sum((n / all_ratings) ** 2 for n in totals.values())
    if expected == 1:
        return None
    return round((observed - expected) / (1 - expected), 4)
