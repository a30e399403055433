"""Each filter rule catches its defect and leaves clean text alone."""

import polars as pl
import pytest

from curation.config import FilterConfig
from curation.errors import ConfigError
from curation.pipelines.filter import absent_columns
from curation.rules import default_rules
from curation.rules.rule import flag_columns
from curation.testing import frame_of, pair

RULES = {rule.name: rule for rule in default_rules(FilterConfig(), tagged=False)}
LONG = "Claro que sí. " + "En Lima el ceviche se come al mediodía, nunca de noche, y con cancha serrana al lado. " * 12


def flags(row: dict) -> set[str]:
    frame = frame_of(row)
    frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in absent_columns(frame, list(RULES.values())))
    hits = flag_columns(frame.lazy(), list(RULES.values())).collect().row(0, named=True)
    # Only the flag columns: a rule with scores also gives its score columns (length_ratio...).
    return {name.removeprefix("_rule:") for name, hit in hits.items() if name.startswith("_rule:") and hit}


def test_flag_columns_give_each_rules_flag_and_scores_and_leave_input_structs_alone():
    rows = [pair(), pair(chosen="Error: 429 Too Many Requests"), pair(chosen=LONG), pair(rejected=None)]
    frame = frame_of(*rows).with_columns(meta=pl.struct(origin=pl.lit("arena")))
    frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in absent_columns(frame, list(RULES.values())))
    together = flag_columns(frame.lazy(), list(RULES.values())).collect()
    one_by_one = frame.select(rule.flag() for rule in RULES.values())
    assert together.select(one_by_one.columns).equals(one_by_one)
    assert together.get_column("_rule:error_placeholder_chosen").to_list() == [False, True, False, False]
    ratio = RULES["length_ratio_extreme"]
    assert together.get_column("_rule:length_ratio_extreme").to_list() == [False, False, True, False]
    assert together.get_column(ratio.scores[0]).to_list()[2] > FilterConfig().max_length_ratio
    assert together.schema["meta"] == pl.Struct({"origin": pl.String})
    scoreless = [rule for rule in RULES.values() if not rule.scores]
    assert flag_columns(frame.lazy(), scoreless).collect().schema["meta"] == pl.Struct({"origin": pl.String})


def test_clean_pair_breaks_no_rule():
    assert flags(pair()) == set()


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"prompt": "Hola"}, "too_short_prompt"),
        ({"prompt": "   "}, "too_short_prompt"),
        ({"chosen": "Sí."}, "too_short_chosen"),
        ({"rejected": ""}, "too_short_rejected"),
        ({"rejected": pair()["chosen"].upper()}, "chosen_same_as_rejected"),
        ({"rejected": pair()["chosen"].replace(";", ",").replace("Ay", "Ay ay")}, "chosen_same_as_rejected"),
        ({"chosen": "Como modelo de lenguaje, no tengo opiniones personales, pero te cuento."}, "ai_disclaimer_chosen"),
        ({"chosen": "Bueno, no tengo una nacionalidad, pero en Chile se comen con chancaca."}, "ai_disclaimer_chosen"),
        ({"chosen": "Como um modelo de linguagem, não tenho preferências pessoais sobre isso."}, "ai_disclaimer_chosen"),
        ({"chosen": "Com a model de llenguatge, no tinc opinions personals sobre això."}, "ai_disclaimer_chosen"),
        ({"rejected": "As an AI language model, I cannot have a favourite dish, sorry."}, "ai_disclaimer_rejected"),
        ({"chosen": "Lo siento, pero no puedo ayudarte con eso."}, "refusal_chosen"),
        ({"rejected": "Desculpe, mas não posso ajudar com isso agora."}, "refusal_rejected"),
        ({"rejected": "Ho sento, però no puc ajudar-te amb això."}, "refusal_rejected"),
        ({"chosen": "Error: 429 Too Many Requests"}, "error_placeholder_chosen"),
        ({"prompt": "$MODERATION$ YOUR INPUT VIOLATES OUR CONTENT MODERATION GUIDELINES."}, "error_placeholder_prompt"),
        ({"rejected": "Lo siento, ha ocurrido un error. Por favor, inténtalo de nuevo."}, "error_placeholder_rejected"),
        ({"chosen": "Las sopaipillas pasadas se hacen con chancaca y se sirven cuando llueve, y luego"}, "truncated_chosen"),
        ({"chosen": "Los pasos son:\n1. Hervir la chancaca.\n2."}, "truncated_chosen"),
        # "...en aceite bien" is a complete sentence without its full stop (issue 13): cut on "muy" instead.
        ({"rejected": "Se preparan con masa de zapallo y se fríen en aceite muy"}, "truncated_rejected"),
        ({"chosen": "La informaciÃ³n sobre las sopaipillas es muy interesante, mijo."}, "mojibake"),
        ({"prompt": "Â¿QuÃ© tal las sopaipillas pasadas en invierno?"}, "mojibake"),
        ({"chosen": "Escríbeme a maria.lopez@correo-ejemplo.cl y te paso la receta."}, "pii_email"),
        ({"chosen": "Llama a mi sobrina al +56 9 8765 4321 y ella te explica."}, "pii_phone"),
        ({"rejected": "Mi número es (11) 98765-4321, me liga quando quiser."}, "pii_phone"),
        ({"chosen": "Mi RUT es 12.345.678-5, por si lo necesitas para el envío."}, "pii_national_id"),
        ({"chosen": "Con mi DNI 12345678Z me registré en el ayuntamiento de Vigo."}, "pii_national_id"),
        ({"chosen": "Mi CURP es GODE561231HDFRRN09 y la pedí en el registro civil."}, "pii_national_id"),
        ({"chosen": "O CPF 123.456.789-09 ficou no cadastro da farmácia, tá?"}, "pii_national_id"),
        ({"chosen": LONG}, "length_ratio_extreme"),
    ],
)
def test_rule_catches_its_defect(fields, rule):
    assert rule in flags(pair(**fields))


def test_a_generic_apology_is_a_placeholder_only_when_it_repeats():
    apology = "Lo siento, no puedo procesar tu solicitud en este momento, gracias."
    once = frame_of(pair(rejected=apology), pair(prompt="¿Qué se come en Fiestas Patrias en el campo chileno?"))
    twice = frame_of(pair(rejected=apology), pair(prompt="¿Qué se come en Fiestas Patrias en el campo?", chosen=apology))
    rule = RULES["error_placeholder_rejected"]
    assert once.select(rule.flag()).to_series().to_list() == [False, False]
    assert twice.select(rule.flag()).to_series().to_list() == [True, False]
    assert twice.select(RULES["error_placeholder_chosen"].flag()).to_series().to_list() == [False, True]


@pytest.mark.parametrize(
    "text",
    [
        "- Almuerzo: almorzar\n- Cena: cenar",  # a complete list needs no full stop
        "¡Qué rico!\n\nCon cariño,\nTu abuela",  # a sign-off
        "Nos vemos en la plaza a las ocho 😀",
        "Mira **esto**.",
    ],
)
def test_complete_endings_are_not_truncated(text):
    assert "truncated_chosen" not in flags(pair(chosen=text))


def test_a_minimal_edit_that_flips_the_meaning_is_a_useful_pair():
    row = pair(chosen="Sí, en Lima el ceviche se come al mediodía, casi nunca de noche, con cancha y choclo.",
               rejected="No, en Lima el ceviche no se come al mediodía, casi siempre de noche, con cancha y choclo.")
    assert "chosen_same_as_rejected" not in flags(row)


def test_a_one_word_answer_is_fine_when_the_prompt_asks_for_one_word():
    row = pair(prompt="Define en una palabra: ¿cómo se le dice a un policía en Colombia?", chosen="Tombo.")
    assert "too_short_chosen" not in flags(row)


def test_numbers_that_are_not_personal_data_pass():
    text = "En 2023 llegaron 1.234.567 turistas y el año 1810 marca la independencia; el 911 atiende emergencias."
    assert not {"pii_phone", "pii_national_id", "pii_email"} & flags(pair(chosen=text))


def test_rules_take_severity_overrides_and_can_be_disabled():
    rules = default_rules(FilterConfig(severity={"truncated_rejected": "block"}, disabled=["mojibake"]), tagged=False)
    by_name = {rule.name: rule for rule in rules}
    assert by_name["truncated_rejected"].severity == "block"
    assert "mojibake" not in by_name
    with pytest.raises(ConfigError, match="unknown rule names"):
        default_rules(FilterConfig(disabled=["no_such_rule"]), tagged=False)


def test_a_chosen_answer_without_a_rejected_one_has_no_length_ratio():
    frame = frame_of(pair(rejected=None))
    scored = flag_columns(frame.lazy(), [RULES["length_ratio_extreme"]]).collect()
    assert scored.get_column("length_ratio").to_list() == [None]
    assert "length_ratio_extreme" not in flags(pair(rejected=None))


def test_null_responses_of_prompt_only_rows_break_nothing():
    row = pair(chosen=None, rejected=None, preference=None)
    assert flags(row) == set()


@pytest.mark.parametrize(
    "text",
    [
        "Na verdade, em Lisboa come-se bacalhau na consoada com a família toda.",
        "Na' que ver, compadre, aquí en Santiago el completo se come con palta.",
        "Error común: pensar que en Madrid se cena a las siete de la tarde.",
        "En Medellín hay sectores como inteligencia artificial y fintech que crecen rápido.",
        "Usa el celular como asistente virtual para pedir el bus en Bogotá.",
        "El teléfono costaba 1.299.000 pesos en la tienda del centro.",
        "WhatsApp tiene 2.000.000.000 de usuarios en el mundo, dicen.",
        "Mide 1.234.567 metros cúbicos, según la municipalidad.",
        "Usuario es quien usa el sistema; en el foro lo dicen así.",
    ],
)
def test_ordinary_text_is_not_flagged(text):
    assert flags(pair(chosen=text)) == set()


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("No tengo una opinión personal, pero en Chile se toma once.", "ai_disclaimer_chosen"),
        ("Soy ChatGPT y no vivo en ningún país, pero te cuento algo.", "ai_disclaimer_chosen"),
        ("Al ser una inteligencia artificial, no celebro el Día de Muertos.", "ai_disclaimer_chosen"),
        ("Mi DNI es 30.123.456 y lo renové en Rosario el mes pasado.", "pii_national_id"),
        ("Mi número de cédula es 1.023.456.789, por si te sirve.", "pii_national_id"),
        ("Mi RUT es 12345678-5, te lo paso para la boleta.", "pii_national_id"),
        ("O CPF: 12345678909 ficou no cadastro, tá bom?", "pii_national_id"),
        ("Si quieres, llámame al 600123456 esta tarde.", "pii_phone"),
        ("Mi número es 612 345 678, escríbeme cuando llegues.", "pii_phone"),
        ("Las playas que más me gustan:\n1. La Concha.\n2. La gente amable y", "truncated_chosen"),
        ("Es una fiesta preciosa.\n\nAdemás, los domingos la", "truncated_chosen"),
        ("Claro.\n\nUsuario: ¿y en Quito?\nModelo de lenguaje: En Quito se come fanesca.", "simulated_dialogue_chosen"),
    ],
)
def test_review_findings_are_caught(text, rule):
    assert rule in flags(pair(chosen=text))


def test_mojibake_is_judged_on_the_raw_text_and_correct_portuguese_passes():
    from curation.pipelines.filter import Filter
    from curation.pipelines.normalise import Normalise

    rows = frame_of(pair(chosen="Me encantó el dÃ\xada de la fiesta en Lima, de verdad."),
                    pair(prompt="¿Qué dizia o cartaz?", chosen="O cartaz dizia «IRMÃ» em letras grandes, lindo."))
    result = Filter(default_rules(FilterConfig(), tagged=False))(Normalise()(rows).kept)
    assert result.removed["reasons"].to_list() == [["mojibake"]]
    assert result.kept.height == 1


STACK = "".join(f'\\n  File \\"/srv/app/handlers.py\\", line {n}, in call' for n in range(1, 40))


@pytest.mark.parametrize(
    "body",
    [
        '{"message": "internal server error", "code": 500}',
        '{"error": {"type": "overloaded_error", "message": "Overloaded"}}',
        "{'type': 'error', 'error': {'details': None, 'type': 'overloaded_error', 'message': 'Overloaded'}}",
        '{"detail": "Not Found"}',
        '{"object": "error", "message": "The model is overloaded", "type": "BadRequestError", "param": null, "code": 400}',
        '{"errors": [{"message": "upstream connect error"}]}',
        "Error code: 429 - {'error': {'message': 'Rate limit reached for requests', 'code': 'rate_limit_exceeded'}}",
        '{"status": "error", "error_code": "RESOURCE_EXHAUSTED", "trace": "' + STACK + '"}',  # long: a stack trace
        "**ERROR DE RED DEBIDO AL ALTO TRÁFICO. POR FAVOR REGENERE O ACTUALICE ESTA PÁGINA.**\n\n(error_code: 50004, 404 "
        "Publisher Model `projects/demo/locations/us-central1/publishers/google/models/llama-3.2-90b` not found.)",
    ],
)
@pytest.mark.parametrize("field", ["prompt", "chosen", "rejected"])
def test_an_error_body_is_a_placeholder_at_any_length(body, field):
    assert f"error_placeholder_{field}" in flags(pair(**{field: body}))


@pytest.mark.parametrize(
    "text",
    [
        "Un error 500 (internal server error) quiere decir que el servidor falló, no tu conexión: espera un rato y "
        "vuelve a intentarlo. Si la web del SAT sigue caída, en Ciudad de México conviene ir temprano a la oficina.",
        "Para avisar del error en tu app, puedes hacerlo así:\n\n```python\ntry:\n    pagar()\nexcept Exception as error:\n"
        "    print(f'error: {error}')\n```\n\nAsí el mensaje de error le sale claro a tu clienta de Medellín.",
        "Una API responde con un cuerpo como este cuando algo falla:\n\n```json\n{\"error\": {\"message\": \"Not found\", "
        "\"code\": 404}}\n```\n\nEl campo code te dice qué pasó; en ese caso, que el recurso no existe.",
        '{"plato": "ajiaco", "ciudad": "Bogotá", "error": null, "status": "ok"}',  # a JSON answer without an error
    ],
)
def test_answers_about_errors_or_json_are_not_error_bodies(text):
    assert not {"error_placeholder_chosen", "error_placeholder_prompt"} & flags(pair(chosen=text, prompt=text))
