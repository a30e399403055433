"""The prompt classifier: dimension and category with confidence, the trivial_prompt rule."""

import polars as pl

from curation.config import FilterConfig
from curation.pipelines.dimension_tag import DimensionTag
from curation.prompt_classifier import UNDETERMINED, PromptClassifier, matrix
from curation.rules import default_rules, trivial
from curation.testing import frame_of, pair

DIMENSIONS = {"knowledge", "preference", "dynamics", "bias_trap", UNDETERMINED}
CATEGORIES = {"trivial", "stereotype", "no_anchor", "knowledge", "preference", "dynamics", "bias_trap", UNDETERMINED}


def tagged(*rows):
    return DimensionTag()(frame_of(*rows)).kept


def test_the_shipped_model_is_small_and_stores_no_text():
    model = PromptClassifier.load()
    assert set(model.heads) == {"dimension", "category"}
    for head in model.heads.values():
        assert head.buckets.dtype.kind == "u" and head.coef.shape == (len(head.buckets), len(head.classes))
        assert 0 < head.threshold <= 1 and head.temperature > 0
    assert 0 < model.meta["trivial_threshold"] <= 1


def test_hashing_is_stable():
    frame = pl.DataFrame({"prompt": ["¿Qué significa cachai?", "otra cosa"], "system_prompt": [None, "Eres de Lima"]})
    x, again = matrix(frame), matrix(frame.reverse())
    assert (x[0] != again[1]).nnz == 0 and x.nnz > 10
    assert abs(x[0].multiply(x[0]).sum() - 1) < 1e-9  # L2-normalised
    import zlib
    assert zlib.crc32(b"w:que") % (1 << 18) in set(x[0].indices)  # a fixed hash, not Python's salted one


def test_labels_confidences_and_evidence():
    rows = tagged(
        pair(prompt="¿Qué significa la palabra 'cachai' y de dónde viene? ¿Cómo se prepara el pastel de choclo?"),
        pair(prompt="Usuario: Hola abuela\nAsistente: ¡Hola mijo!\nUsuario: ¿Qué cocinamos hoy?"),
        pair(prompt="hola que tal", system_prompt=None),
        pair(prompt=""),
    )
    assert set(rows["dimension"]) <= DIMENSIONS and set(rows["category"]) <= CATEGORIES
    assert rows["dimension"][0] == "knowledge" and rows["dimension_confidence"][0] >= 0.5
    assert "question about facts:que significa" in rows["dimension_evidence"][0]
    # Turns make it dynamics, certain.
    assert rows["dimension"][1] == "dynamics" and rows["dimension_confidence"][1] == 1.0
    assert "structure:turns" in rows["dimension_evidence"][1]
    assert rows.select(pl.col("dimension_confidence", "category_confidence").is_between(0, 1).all()).row(0) == (True, True)
    # A label below its head's threshold is undetermined.
    model = PromptClassifier.load()
    low = rows.filter(pl.col("category_confidence") < model.heads["category"].threshold)
    assert (low["category"] == UNDETERMINED).all()


def test_deterministic_and_row_independent():
    prompts = [pair(prompt=f"¿Cuál es la capital de {c}?") for c in ("Chile", "Perú", "España")]
    one = tagged(*prompts)
    two = tagged(*reversed(prompts))
    assert one["category_confidence"].to_list() == list(reversed(two["category_confidence"].to_list()))


def test_the_trivial_rule_warns_on_a_confident_trivial_category():
    (rule,) = trivial.rules(FilterConfig())
    assert rule.severity == "warn" and "trivial_prompt" in {r.name for r in default_rules(FilterConfig())}
    threshold = trivial.trivial_threshold()
    question = "¿Qué opinan en tu barrio de los nuevos vecinos?"  # its phrasing is not trivial: the classifier decides
    frame = pl.DataFrame({"prompt": [question] * 4, "category": ["trivial", "trivial", "knowledge", None],
                          "category_confidence": [threshold + 0.01, threshold - 0.01, 0.99, None]})
    assert frame.select(rule.flag()).to_series().to_list() == [True, False, False, False]


def test_the_audit_uses_confident_dimensions_and_says_so():
    from curation.reports.bias_audit import audit, audit_markdown

    accepted = pl.DataFrame({"country": ["CL"] * 4, "dimension": ["knowledge", "preference", "undetermined", "knowledge"],
                             "dimension_confidence": [0.9, 0.55, 0.4, 0.7], "preference": ["chosen-better"] * 4,
                             "chosen": ["a"] * 4, "rejected": ["b"] * 4})
    result = audit(accepted)
    assert result["headline"]["dimension_rows"] == 2 and result["headline"]["dimension_coverage"] == 0.5
    assert "computed on 2 of 4 rows whose dimension is confident (>= 0.6)" in audit_markdown(result)


def test_the_cross_validated_figures_meet_the_issues_floors(arena_sample):
    """Grouped 5-fold CV on the gold set, recomputed here (benchmarks/fit_prompt_classifier.py): dimension
    undetermined <= 20% at precision >= 80%; the trivial_prompt rule (phrasing or classifier) recall >= 60%
    at precision >= 80%."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "fit_prompt_classifier.py"
    spec = importlib.util.spec_from_file_location("fit_prompt_classifier", script)
    fit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit)
    result, _ = fit.evaluate(fit.load(), "words+system+lexicon", fit.CHOSEN_C, None, quiet=True)
    assert result["dimension"]["coverage"] >= 0.80 and result["dimension"]["precision"] >= 0.80, result["dimension"]
    assert result["trivial"]["precision"] >= 0.80 and result["trivial"]["recall"] >= 0.60, result["trivial"]
