"""Form of address (register) and national variety of Spanish texts: the evidence that counts and the
mentions that do not. Texts are written for these tests."""

import polars as pl
import pytest

from curation.pipelines.lexicon_tag import RegisterTag, VarietyTag
from curation.testing import frame_of, pair

NEUTRAL = "La receta lleva harina, agua y sal; se hornea media hora."


def tagged(*rows: dict) -> pl.DataFrame:
    """Rows tagged for variety and register, all three texts taken as Spanish (no language ID)."""
    frame = frame_of(*rows).with_columns(pl.lit("es").alias(f"{field}_lang") for field in ("prompt", "chosen", "rejected"))
    return RegisterTag()(VarietyTag()(frame).kept).kept


def register_of(prompt: str) -> str:
    return tagged(pair(prompt=prompt, chosen=NEUTRAL, rejected=NEUTRAL))["prompt_register"].item()


def variety_of(chosen: str, *, prompt: str = "¿Qué haces el domingo?", country: str = "CL") -> str:
    return tagged(pair(prompt=prompt, chosen=chosen, rejected=NEUTRAL, country=country))["chosen_variety"].item()


# ---------------------------------------------------------------- register

@pytest.mark.parametrize(("prompt", "register"), [
    # tú: verb morphology, imperatives at the start of a clause, pronouns and possessives
    ("¿Qué opinas de las fiestas de tu pueblo?", "tú"),
    ("Describe cómo se celebra la Navidad en tu ciudad.", "tú"),
    ("¿Qué harías si te invitan a una boda en el campo?", "tú"),
    ("Explica en pocas palabras qué es el mate.", "tú"),
    # vos
    ("Vos que sos de Rosario, ¿qué me recomendás para el fin de semana?", "vos"),
    ("¿Tenés una receta de chipá que te guste?", "vos"),
    # vosotros
    ("¿Qué soléis comer vosotros en Nochebuena?", "vosotros"),
    ("¿Cómo celebráis el santo de vuestro pueblo?", "vosotros"),
    # usted
    ("Disculpe, ¿usted sabe a qué hora abre el mercado?", "usted"),
    ("Dígame qué plato típico recomienda para una visita corta.", "usted"),
    # ustedes
    ("¿Ustedes qué hacen en Año Nuevo?", "ustedes"),
])
def test_register_from_verbs_and_pronouns(prompt, register):
    assert register_of(prompt) == register


@pytest.mark.parametrize("prompt", [
    # A form of address asked about or quoted is a mention, not the writer's voice.
    "¿En qué países se usa el vos?",
    "¿Qué significa «vosotros» en un texto antiguo?",
    "¿Cuándo es correcto tratar de usted a un profesor?",
    # A first-person request addresses no one in particular.
    "Necesito una lista de frutas de temporada para el mercado.",
    "Quiero saber la historia del tango.",
])
def test_mentions_and_first_person_requests_have_no_register(prompt):
    assert register_of(prompt) == "undetermined"


def test_case_and_accents_do_not_change_the_register():
    assert register_of("¿QUÉ OPINÁS VOS DEL ASADO? ¿TENÉS PARRILLA?") == "vos"
    assert register_of("¿Qué Soléis Hacer Vosotros Los Domingos?") == "vosotros"


# ---------------------------------------------------------------- variety

@pytest.mark.parametrize(("chosen", "country", "variety"), [
    ("Pues os cuento: el finde fuimos al pueblo y comimos un bocata en la plaza.", "ES", "es-ES"),
    ("¿Qué soléis hacer vosotros en verano? Nosotros, ir a la playa.", "ES", "es-ES"),
    ("Ya po, el sábado vamos a la casa de mi abuela, es harto rico su pan amasado.", "CL", "es-CL"),
    ("Oye, los cabros se juntan altiro después de clases.", "CL", "es-CL"),
    ("Asu mare, ese jato queda lejísimos, mejor vamos en taxi.", "PE", "es-PE"),
    ("Ya pe, mañana nos vemos en la plaza de armas.", "PE", "es-PE"),
    ("Mba'éichapa, che ra'a; la abuela ya preparó la sopa.", "PY", "es-PY"),
    ("Los chavalos se fueron al río con la abuela.", "NI", "es-NI"),
    ("Órale, güey, está bien chido el lugar.", "MX", "es-MX"),
    ("Parce, ese concierto estuvo bacano.", "CO", "es-CO"),
    ("Vos tenés que probar el asado de mi tío, boludo.", "AR", "es-AR"),
])
def test_a_strong_marker_names_the_variety(chosen, country, variety):
    assert variety_of(chosen, country=country) == variety


@pytest.mark.parametrize(("chosen", "country"), [
    # Everyday words the whole language shares, and interjections only where they are one.
    ("Vale la pena visitar el museo; lo que va a pasar es que habrá mucha gente.", "ES"),
    ("Mi tío vive en el campo y mi tía en la ciudad.", "ES"),
    ("El río Po cruza el norte de Italia.", "CL"),
    ("La ganancia neta del año fue mayor que la del anterior.", "MX"),
])
def test_shared_words_name_no_variety(chosen, country):
    assert variety_of(chosen, country=country) == "undetermined"


def test_a_word_asked_about_is_not_evidence_in_the_answer():
    prompt = "¿Qué significa 'pucha' y de dónde viene?"
    chosen = "Pucha es una interjección suave de sorpresa o fastidio; pucha se oye en varios países del sur."
    assert variety_of(chosen, prompt=prompt, country="CL") == "undetermined"
    quoted = "¿Se dice «cachai» en tu país?"
    assert tagged(pair(prompt=quoted, chosen=NEUTRAL, rejected=NEUTRAL))["prompt_variety"].item() == "undetermined"
