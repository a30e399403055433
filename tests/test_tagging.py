"""Language, variety, register and cultural-dimension tags, with their evidence."""

import polars as pl
import pytest

from curation.language import combined_identify, fasttext_identify, langdetect_identify
from curation.pipelines.dimension_tag import DimensionTag
from curation.pipelines.language_tag import LanguageTag
from curation.pipelines.lexicon_tag import RegisterTag, VarietyTag
from curation.testing import frame_of, pair

SENTENCES = {
    "es": "Mañana vamos a la playa con mis primos y mi abuela, que siempre prepara tortilla.",
    "pt": "Amanhã vamos à praia com os meus primos e a minha avó, que sempre faz bolinhos.",
    "ca": "Demà anirem a la platja amb els meus cosins i la meva àvia, que sempre fa coca.",
    "gl": "Mañá imos á praia cos meus curmáns e coa miña avoa, que sempre fai filloas.",
    "eu": "Bihar hondartzara joango gara nire lehengusuekin eta amonarekin, beti opilak egiten ditu.",
}


@pytest.mark.parametrize("identify", [combined_identify, fasttext_identify])
def test_the_backends_tell_the_five_languages_apart(identify):
    languages, scores = identify(list(SENTENCES.values()))
    assert languages == list(SENTENCES)
    assert all(0 < score <= 1 for score in scores)


def test_cld2_only_decides_for_galician_basque_and_catalan():
    # CLD2 alone reads this Rioplatense sentence as Guarani; fastText's Spanish stands.
    languages, _ = combined_identify(["Che, vos tenés que venir al asado del domingo, ¿querés que te pase a buscar?",
                                      "Bos días, como estás? Hoxe vou á praia coa miña nai e cos meus curmáns."])
    assert languages == ["es", "gl"]


def test_langdetect_is_seeded_and_deterministic():
    first = langdetect_identify([SENTENCES["es"], SENTENCES["pt"]])
    assert first == langdetect_identify([SENTENCES["es"], SENTENCES["pt"]])
    assert first[0] == ["es", "pt"]


def tagged(*rows):
    frame = frame_of(*rows)
    for stage in (LanguageTag(), VarietyTag(), RegisterTag(), DimensionTag()):
        frame = stage(frame).kept
    return frame


def test_language_tags_per_field_and_the_mismatch_rule():
    from curation.config import FilterConfig
    from curation.pipelines.filter import Filter
    from curation.rules import default_rules

    frame = tagged(pair(chosen=SENTENCES["pt"]), pair())
    assert frame["prompt_lang"].to_list() == ["es", "es"]
    assert frame["chosen_lang"].to_list() == ["pt", "es"]
    result = Filter(default_rules(FilterConfig()))(frame)
    # An answer in another language that nothing asked for blocks.
    assert result.removed["reasons"].to_list() == [["language_mismatch_chosen"]]
    assert result.kept["warnings"].to_list() == [[]]


@pytest.mark.parametrize(
    ("text", "variety", "evidence"),
    [
        ("Che, ¿vos sabés dónde queda el laburo nuevo? Tomate el bondi de la esquina.", "es-AR", "slang:laburo"),
        ("Vosotros tenéis que probar el cocido; habéis venido en coche, ¿no?", "es-ES", "vosotros:teneis"),
        ("Órale güey, ahorita vamos por unos tacos bien chidos.", "es-MX", "slang:guey"),
        ("Você pegou o ônibus para o trabalho? Minha geladeira quebrou de novo.", "pt-BR", "vocabulary:geladeira"),
        ("Apanhei o autocarro para o trabalho e deixei o telemóvel em casa.", "pt-PT", "vocabulary:autocarro"),
    ],
)
def test_variety_with_its_evidence(text, variety, evidence):
    row = tagged(pair(chosen=text)).row(0, named=True)
    assert row["chosen_variety"] == variety, row["chosen_variety_evidence"]
    assert evidence in row["chosen_variety_evidence"]


def test_a_text_with_no_evidence_is_undetermined():
    row = tagged(pair(chosen="La fiesta empieza a las ocho y termina tarde.")).row(0, named=True)
    assert (row["chosen_variety"], row["chosen_variety_evidence"]) == ("undetermined", [])


def test_variety_clash_warns_when_a_mexican_prompt_gets_peninsular_forms():
    from curation.config import FilterConfig
    from curation.pipelines.filter import Filter
    from curation.rules import default_rules

    row = pair(country="MX", prompt="¿Qué le llevo a mi suegra en Puebla para la cena?",
               chosen="Vosotros podéis llevar un buen vino; habéis quedado genial si además lleváis postre.")
    result = Filter(default_rules(FilterConfig()))(tagged(row))
    assert "variety_clash_chosen" in result.kept["warnings"][0]


@pytest.mark.parametrize(
    ("text", "register"),
    [("¿Tú qué opinas? Si quieres, puedes venir conmigo.", "tú"),
     ("Usted tiene razón; si gusta, dígame cuándo viene.", "usted"),
     ("Che, vos tenés que venir al asado del domingo, ¿querés que te pase a buscar?", "vos"),
     ("Vosotros sois muy majos, ¿queréis venir?", "vosotros")],
)
def test_register_of_address(text, register):
    assert tagged(pair(chosen=text))["chosen_register"][0] == register


def test_dimension_heuristic_with_evidence():
    rows = tagged(
        pair(prompt="¿Qué harías si tu suegra llega sin avisar un domingo?"),
        pair(prompt="¿Qué significa la palabra 'cachai' y de dónde viene?"),
        pair(prompt="Usuario: Hola abuela\nAsistente: ¡Hola mijo!\nUsuario: ¿Qué cocinamos hoy?"),
        pair(prompt="¿Por qué los chilenos son tan desconfiados?"),
    )
    assert rows["dimension"].to_list() == ["preference", "knowledge", "dynamics", "bias_trap"]
    assert "structure:turns" in rows["dimension_evidence"][2]
    assert rows["has_role"].to_list() == [True] * 4


def test_cld2_does_not_turn_spanish_words_into_basque_or_galician():
    languages, _ = combined_identify(["La cigarra y la hormiga", '"Berraquera" es una palabra coloquial colombiana que significa "valentía".',
                                      "Gaur goizean mendira joan gara lagunekin", "Onte fomos á praia coa miña nai e cos meus irmáns"])
    assert languages == ["es", "es", "eu", "gl"]


def test_a_shouted_text_is_read_in_lowercase():
    frame = pl.DataFrame({"prompt": ["¿Qué comida es típica de Lima?"], "chosen": ["Te recomiendo el ceviche."],
                          "rejected": ["**ERROR DE RED DEBIDO AL ALTO TRÁFICO. POR FAVOR REGENERE O ACTUALICE ESTA PÁGINA.**"]})
    assert LanguageTag()(frame).kept.get_column("rejected_lang").to_list() == ["es"]


def test_langdetect_from_two_threads_at_once_in_a_fresh_process():
    """A run tags two batches at once: langdetect's profiles are loaded once, under a lock, before either reads."""
    import subprocess
    import sys

    script = """
from concurrent.futures import ThreadPoolExecutor
from curation.language import langdetect_identify
texts = ["¿Cuál es la comida típica de Arequipa y cómo se prepara?"] * 200 + ["Qual é a comida típica do Brasil?"] * 200
with ThreadPoolExecutor(2) as pool:
    results = [future.result() for future in [pool.submit(langdetect_identify, texts) for _ in range(2)]]
assert results[0] == results[1] == langdetect_identify(texts), [sum(code is None for code in r[0]) for r in results]
"""
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=120)


def test_a_lexicons_phrases_in_the_prompt_are_no_evidence_in_the_answer(tmp_path):
    """A lexicon with language sections and a `phrases` section: the prompt's phrases are left out of the answers'
    evidence, as its words are (an answer repeating what was asked)."""
    from curation.lexicon import Lexicon, tag_fields

    lexicon = tmp_path / "mixed.yaml"
    lexicon.write_text("es:\n  - {kind: vocab, varieties: [es-AR], words: [che]}\n"
                       "phrases:\n  - {kind: phrase, varieties: [es-ES], words: [vale tio]}\n")
    frame = pl.DataFrame({"prompt": ["¿Qué significa vale tío?"], "chosen": ["Vale tío es una expresión de España."],
                          "rejected": ["No lo sé."]}).with_columns(
        pl.lit("es").alias(f"{field}_lang") for field in ("prompt", "chosen", "rejected"))
    tagged = tag_fields(frame, Lexicon.load(str(lexicon)), "variety")
    assert tagged.get_column("prompt_variety").to_list() == ["es-ES"]
    assert tagged.select("chosen_variety", "chosen_variety_evidence").row(0) == ("undetermined", [])
