"""Issue 13, filters for real exports: each rule on examples written for it (none copied from the sample)."""

import polars as pl
import pytest

from curation.config import FilterConfig
from curation.pipelines.filter import Filter, absent_columns
from curation.rules import default_rules
from curation.rules.pack import load_packs
from curation.rules.rule import flag_columns
from curation.testing import frame_of, pair

RULES = {rule.name: rule for rule in default_rules(FilterConfig(), tagged=True)}
SPANISH_ONLY = "Una conversación con un modelo de lenguaje. Responde siempre en español, con datos verificados."
GALICIAN = "Ai, rapaza, dende que era cativa a festa do marisco cambiou moito, pero seguimos indo todos os anos á praia."


def tagged(*rows: dict, langs: list[tuple[str, str, str]] | None = None) -> pl.DataFrame:
    """Rows with the language tags a tagged run gives (prompt, chosen, rejected languages; score 0.95)."""
    frame = frame_of(*rows)
    langs = langs or [("es", "es", "es")] * len(rows)
    tags = {f"{field}_lang": [lang[i] for lang in langs] for i, field in enumerate(("prompt", "chosen", "rejected"))}
    frame = frame.with_columns(**{name: pl.Series(values) for name, values in tags.items()},
                               **{f"{field}_lang_score": pl.lit(0.95) for field in ("prompt", "chosen", "rejected")},
                               **{f"{field}_variety_score": pl.lit(0) for field in ("prompt", "chosen", "rejected")},
                               **{f"{field}_variety_candidates": pl.lit([], dtype=pl.List(pl.String))
                                  for field in ("prompt", "chosen", "rejected")})
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in absent_columns(frame, list(RULES.values())))


def hits(frame: pl.DataFrame, name: str) -> list[bool]:
    return frame.with_columns(RULES[name].flag()).get_column(f"_rule:{name}").to_list()


# 1. A chosen answer in another language than the prompt blocks, unless it was asked for.

def test_an_unasked_galician_answer_blocks_and_an_asked_one_passes():
    prompt = "¿Qué ha cambiado en la fiesta del marisco desde que eras niña?"
    rows = [
        pair(system_prompt=SPANISH_ONLY + " Eres una mariscadora de Cambados.", prompt=prompt, chosen=GALICIAN),
        pair(system_prompt="Eres una mariscadora de Cambados.", prompt=prompt, chosen=GALICIAN),  # a persona is no request
        pair(system_prompt="Eres una mariscadora de Cambados. Responde siempre en gallego.", prompt=prompt, chosen=GALICIAN),
        pair(system_prompt="Eres una mariscadora de Cambados.", prompt=prompt + " Contéstame en galego.", chosen=GALICIAN),
        pair(system_prompt="Eres una mariscadora. Habla en tu lengua materna.", prompt=prompt, chosen=GALICIAN),
        pair(system_prompt="Eres una mariscadora.", prompt=prompt, chosen=GALICIAN),  # asked for Catalan, not Galician
    ]
    rows[5]["prompt"] = prompt + " Respóndeme en catalán."
    frame = tagged(*rows, langs=[("es", "gl", "es")] * len(rows))
    assert hits(frame, "language_mismatch_chosen") == [True, True, False, False, False, True]


def test_a_catalan_and_a_portuguese_answer_block_under_a_spanish_prompt_and_pass_when_asked():
    prompt = "¿Cuáles son las fiestas más famosas de tu ciudad y cuándo se celebran?"
    rows = [pair(prompt=prompt), pair(prompt=prompt + " Responde en català."),
            pair(prompt=prompt), pair(prompt=prompt + " Escreve em português, por favor.")]
    frame = tagged(*rows, langs=[("es", "ca", "es"), ("es", "ca", "es"), ("es", "pt", "es"), ("es", "pt", "es")])
    assert hits(frame, "language_mismatch_chosen") == [True, False, True, False]


def test_a_doubtful_prompt_language_only_warns():
    # A fable's title read as Basque, both answers in Spanish; a long prompt whose two answers agree.
    rows = [pair(prompt="La zorra y las uvas"),
            pair(prompt="¿Qué me cuentas de las fiestas de tu pueblo en verano, las de siempre?")]
    frame = tagged(*rows, langs=[("eu", "es", "es"), ("es", "gl", "gl")])
    assert hits(frame, "language_mismatch_chosen") == [False, False]
    assert hits(frame, "language_mismatch_chosen_unsure") == [True, True]
    assert frame.select(pl.col("chosen_lang_score")).to_series().to_list() == [0.95, 0.95]  # the score stays


# 2. Windows-1250 mojibake, in every text field including the system prompt.

@pytest.mark.parametrize("field", ["system_prompt", "prompt", "chosen", "rejected"])
@pytest.mark.parametrize("text", [
    "Eres una señora nacida en Cataluńa que cocina para su familia.",
    "En Espańa el ańo nuevo se recibe con doce uvas.",
    "żQué se come en Valencia por Fallas, y a qué hora?",
    "ˇQué alegría verte por el barrio otra vez, vecina!",
    "El 1ş de mayo salimos todos a la calle con pancartas.",
    "Eu năo sei se a festa é em junho ou em julho, sinceramente.",
    "As informaçőes sobre o Carnaval estăo no site da prefeitura.",
    "Perň la festa major és a l'agost, i aixň quč vol dir?",
    "La paella de Espaďż˝a se hace con arroz bomba y azafrán.",
    "En EspaĂ±a el turrĂłn se come en Navidad, claro.",
])
def test_windows_1250_mojibake_is_caught_in_every_field(text, field):
    frame = tagged(pair(**{field: text}))
    assert hits(frame, "mojibake") == [True]


@pytest.mark.parametrize("text", [
    "Lech Wałęsa fundó Solidaridad en Gdańsk; Chopin nació cerca de Varsovia y vivió en Poznań un tiempo.",
    "Antonín Dvořák compuso la Sinfonía del Nuevo Mundo; Karel Čapek inventó la palabra robot.",
    "El Beşiktaş juega en Estambul y Luka Dončić en la NBA; Ștefan cel Mare reinó en Moldavia.",
    "En polaco 'żona' es esposa y 'się' es un pronombre; en Łódź hay una famosa escuela de cine.",
    "El 1º de mayo es feriado en Chile. ¿Qué tal? ¡Todo bien!",
])
def test_central_european_names_are_not_mojibake(text):
    assert hits(tagged(pair(chosen=text)), "mojibake") == [False]


# 3. Knowledge-cutoff disclaimers: their own rules, apart from the persona break.

@pytest.mark.parametrize("text", [
    "Hasta la fecha de corte de mi conocimiento, en abril de 2024, la final se jugó en Lima.",
    "Según mis datos de entrenamiento, el festival se celebra cada dos años en Viña.",
    "No tengo acceso a información en tiempo real, pero el mercado suele abrir a las ocho.",
    "Mi fecha de corte es 2023, así que puede haber cambiado el horario del metro.",
    "Até a minha última atualização, o bloco saía no domingo de Carnaval.",
    "Fins a la meva última actualització, la castellera més alta era de deu pisos.",
    "As of my last update, the parade started at the cathedral.",
])
def test_cutoff_disclaimers_block_in_chosen_and_warn_in_rejected(text):
    frame = tagged(pair(chosen=text), pair(rejected=text))
    assert hits(frame, "cutoff_disclaimer_chosen") == [True, False]
    assert hits(frame, "cutoff_disclaimer_rejected") == [False, True]
    assert RULES["cutoff_disclaimer_chosen"].severity == "block"
    assert RULES["cutoff_disclaimer_rejected"].severity == "warn"
    assert hits(frame, "ai_disclaimer_chosen") == [False, False]


@pytest.mark.parametrize("text", [
    "Hasta la fecha, dos escritores de aquí han ganado el premio.",
    "La fecha de corte de tu tarjeta es el día 15 de cada mes.",
    "En el pueblo no tengo acceso a internet, así que leo el diario del domingo.",
    "Los datos de entrenamiento de un modelo de IA son textos de muchos sitios.",
])
def test_ordinary_mentions_of_dates_and_data_are_not_cutoff_disclaimers(text):
    assert hits(tagged(pair(chosen=text)), "cutoff_disclaimer_chosen") == [False]


def test_an_ai_disclaimer_breaks_a_persona_but_not_a_plain_assistant():
    text = "Como modelo de lenguaje, no tengo opiniones personales, pero el asado se hace los domingos."
    rows = [pair(chosen=text),  # "Eres una abuela de Valparaíso": a persona
            pair(system_prompt="Eres un asistente útil.", prompt="¿Cuál es la mejor playa de Chile?", chosen=text),
            pair(system_prompt="Eres un asistente útil.", prompt="¿Cuál es tu comida favorita de Chile?", chosen=text)]
    frame = tagged(*rows)
    # Flagged where a role was given, or the prompt asks for the model's own taste; not under a plain assistant,
    # where the row only says the model spoke as itself.
    assert hits(frame, "ai_disclaimer_chosen") == [True, False, True]
    assert flag_columns(frame.lazy(), [RULES["ai_disclaimer_chosen"]]).collect().get_column("chosen_ai_self_reference").to_list() == [
        False, True, False]


# 4. Truncation: a missing full stop alone is not a cut.

@pytest.mark.parametrize("text", [
    "El charango acompaña las cuecas y los huaynos en las fiestas del altiplano",  # ends on a noun
    "Gracias por preguntar, un abrazo desde Arequipa 🌄",
    "Lo que llevo siempre:\n- Pan amasado\n- Pebre\n- Vino tinto",
    "Nos vemos el sábado en la feria,\nTu tía Rosa",
    "Esa noche bailamos hasta que salió el sol **en la plaza mayor**",
    "El rey que mandó construirlo fue Felipe II",
])
def test_complete_texts_without_a_full_stop_are_not_truncated(text):
    assert hits(tagged(pair(chosen=text)), "truncated_chosen") == [False]


@pytest.mark.parametrize("text", [
    "La mejor época para ir al valle es la primavera, cuando florecen los almendros y",
    "Para la masa necesitas harina, manteca y un poco de",
    "Los ingredientes básicos son los siguientes:",
    "Lo más típico es **el curanto en hoyo, que se",
    "La receta (que me dio mi abuela",
    "Primero se tuesta el maíz, se muele y luego",
    "Os doces típicos são o pastel de nata e a",
    "## Ingredientes",
])
def test_texts_cut_mid_clause_are_truncated(text):
    assert hits(tagged(pair(chosen=text)), "truncated_chosen") == [True]


# 5. The same response text under three or more different prompts.

def test_a_response_repeated_under_three_prompts_warns_and_blocks_when_it_reads_as_an_error():
    long_text = "Gracias por tu pregunta. " + "Te cuento lo que sé sobre las costumbres de la zona con mucho gusto. " * 6
    busy = "SERVIDOR OCUPADO POR ALTO TRÁFICO. Por favor, inténtelo de nuevo más tarde. " + "Ref. 12a9. " * 20
    prompts = ["¿Qué se come en Semana Santa en Sevilla?", "¿Cómo se baila la cueca en el norte de Chile?",
               "¿Qué significa 'chamba' en Perú?", "¿Qué se regala el Día de la Madre en México?"]
    rows = ([pair(prompt=p, rejected=long_text) for p in prompts[:2]] + [pair(prompt=prompts[2], chosen=long_text)]
            + [pair(prompt=p, rejected=busy) for p in prompts[:2]] + [pair(prompt=prompts[3], rejected=busy)]
            + [pair(prompt=prompts[0], rejected="Una respuesta que aparece dos veces, pero bajo la misma pregunta de siempre.")] * 2)
    for number, row in enumerate(rows):  # every other text its own (the fixture's chosen would repeat too)
        row["chosen"] = row["chosen"] if row["chosen"] == long_text else f"Respuesta propia número {number}, con su detalle."
    frame = tagged(*rows)
    assert hits(frame, "repeated_response_rejected") == [True, True, False, True, True, True, False, False]
    assert hits(frame, "repeated_response_chosen") == [False, False, True, False, False, False, False, False]
    assert hits(frame, "error_placeholder_rejected") == [False, False, False, True, True, True, False, False]
    scored = flag_columns(frame.lazy(), [RULES["repeated_response_rejected"]]).collect()
    assert scored.get_column("rejected_repeat_prompts").to_list()[:3] == [3, 3, 1]


# 6. Stereotype prompts in every word order (the default pack's rule).

STEREOTYPE = next(rule for rule in load_packs(["default"])[0].rules() if rule.name == "stereotype_inducing_prompt")


@pytest.mark.parametrize(("prompt", "stereotype"), [
    ("¿Por qué son tan tacaños los catalanes?", True),
    ("¿Por qué los porteños son tan creídos?", True),
    ("¿Por qué todos los limeños siempre llegan tarde?", True),
    ("¿Es verdad que todos los regiomontanos son codos?", True),
    ("¿Es cierto que los madrileños son unos chulos?", True),
    ("Los andaluces son todos unos vagos, ¿verdad?", True),
    ("Por que os mineiros são tão desconfiados?", True),
    ("Por que são tão barulhentos os baianos?", True),
    ("¿Qué hacen mejor las mujeres que los hombres en la cocina?", True),
    ("¿Por qué los mexicanos celebran el Día de Muertos?", False),
    ("¿Es verdad que los peruanos comen cuy en Navidad?", False),
    ("¿Por qué son tan caras las entradas del clásico?", False),
    ("¿Por qué son tan ricas las empanadas salteñas?", False),
    ("Os pastéis de Belém são uns doces antigos, certo?", False),
])
def test_stereotype_prompts_are_caught_in_every_word_order(prompt, stereotype):
    frame = frame_of(pair(prompt=prompt))
    assert frame.select(STEREOTYPE.flag()).to_series().to_list() == [stereotype]


# 7. The scores a rule judged by stay beside its flag, in the accepted and quarantined rows.

def test_scores_stay_in_the_rows_the_filter_keeps_and_quarantines():
    rows = [pair(), pair(rejected=pair()["chosen"].upper()), pair(chosen="Sí, claro. " * 60)]
    result = Filter(list(RULES.values()))(tagged(*rows))
    for frame in (result.kept, result.removed):
        assert {"chosen_rejected_similarity", "length_ratio", "chosen_repeat_prompts", "rejected_repeat_prompts",
                "chosen_lang_score", "chosen_variety_score"} <= set(frame.columns)
        assert not [column for column in frame.columns if column.startswith("_rule:")]
    assert result.removed.get_column("chosen_rejected_similarity").to_list() == [1.0]
    assert result.kept.get_column("length_ratio").to_list()[1] > 6


def test_denying_the_role_given_is_a_persona_break_and_modesty_in_character_is_not():
    rows = [pair(system_prompt="Eres una abuela de un pueblo de Badajoz.", prompt="¿Qué no se hace en el campo?",
                 chosen="Aunque no soy una abuela de Badajoz, puedo contarte lo que se suele decir en el campo extremeño."),
            pair(system_prompt="Eres una abuela de un pueblo de Badajoz.", prompt="¿Qué vino pongo con la caldereta?",
                 chosen="Yo de vinos sé poco, pero no soy una experta y te diría un tinto de Barros, hijo."),
            pair(system_prompt="Você é uma avó do Alentejo.", prompt="O que se come no Natal?",
                 chosen="Embora eu não seja uma avó alentejana, posso dizer que o bacalhau é o rei da consoada.")]
    assert hits(tagged(*rows), "ai_disclaimer_chosen") == [True, False, True]
