"""Fleiss' kappa of the review's categorical questions (statsmodels), on published figures."""

from curation.review.agreement import fleiss_kappa

# Fleiss (1971), as Wikipedia works it through: 10 subjects, 14 raters, 5 categories; kappa 0.210 (0.2099).
FLEISS_TABLE = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]


def _ratings(table: list[list[int]]) -> list[list[str]]:
    return [[category for category, count in zip("abcde", row) for _ in range(count)] for row in table]


def test_the_published_example():
    assert fleiss_kappa(_ratings(FLEISS_TABLE)) == 0.2099


def test_records_with_fewer_answers_than_most_are_left_out():
    """Fleiss' kappa is defined for a fixed number of raters per record: a record one of three annotators
    has not answered yet does not count until they do."""
    full = [["a", "a", "a"], ["b", "b", "a"], ["a", "b", "b"], ["b", "b", "b"]]
    assert fleiss_kappa([*full, ["a", "b"]]) == fleiss_kappa(full) == 0.3143


def test_undefined_cases():
    assert fleiss_kappa([["a"], ["b"]]) is None  # nothing rated twice
    assert fleiss_kappa([["a", "a"], ["a", "a"]]) is None  # one category only: chance agreement is 1
    assert fleiss_kappa([["a", "a"], ["b", "b"], ["a", "a"]]) == 1.0
    assert fleiss_kappa([["a", "b"], ["b", "a"]]) == -1.0
