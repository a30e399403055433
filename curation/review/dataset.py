"""The Argilla review dataset: fields, questions and metadata (following ../shared/guide.md), in Spanish (or
Portuguese for Portuguese data), and one Argilla record per accepted row, its two answers in a seeded random
order that is recorded.

Blind by default: neither the arena's vote nor the LLM judge's verdict (nor its rationale) is shown or
pre-selected, so nothing anchors the reviewer and the random A/B order keeps its point. `show_suggestions`
turns them on. The prompt's category is suggested (the LLM classifier's verdict when `curation classify`
ran, else the trivial_prompt rule's category 1, else the prompt classifier's confident category), with the
rules' warnings in the comment. The country and the persona are shown above the prompt (and an image run's
image, as a re-encoded thumbnail without its EXIF, between them); a row that dedupe
let through as a possible duplicate shows the other row beside it."""

from __future__ import annotations

import polars as pl

from curation.countries import local_name
from curation.decisions import CATEGORIES
from curation.images.thumbnail import thumbnail
from curation.rules.pack import VALUE_SETS
from curation.schema import PERSONA_AXES, seeded_coin

PERSONA = (*PERSONA_AXES, "rol")  # the extension's generated rows add the persona's role
METADATA = ("country", "language", "variety", "register", "flags", "source", "generator", "possible_duplicate_of")
UNDETERMINED = "undetermined"
IMAGE_SOURCE = ("image_bytes", "image_path")  # an image run's rows: where to read the image the record shows
REVIEW_THUMBNAIL = 512  # pixels of the longer side: enough to judge a caption, small enough to store per record
LLM_COLUMNS = {"llm_category": pl.String, "llm_confidence": pl.Float64, "llm_rationale": pl.String, "llm_model": pl.String}
# What the annotator reads, in the data's language: the guidelines, the titles and the labels.
TEXTS = {
    "es": {
        "guidelines": """Lee la pregunta (y el prompt de sistema: juzga desde el papel que fija, no desde ti). Mira el país y
la persona: la respuesta debe encajar en la cultura de ese país y de ese papel.

Vota por la respuesta correcta, adecuada a la cultura del país y del papel, y natural en la variedad local
(voseo, leísmo, palabras locales), la misma variedad que la pregunta. No hay un español neutro que premiar.
"Ambas buenas": hay varias respuestas culturalmente válidas. "Ambas malas": errores graves de tono,
contenido o ajuste cultural.

Después clasifica la pregunta: recházala si es trivial, estereotipada o sin anclaje cultural en el país;
si no, elige su dimensión predominante. Puedes escribir una respuesta corregida. Si se muestra un posible
duplicado, dilo en el comentario cuando sea la misma pregunta para el mismo país y la misma persona.

A y B salen en orden aleatorio; no se muestra el voto original, para no condicionarte.""",
        "image": ("Imagen", ("Mira la imagen: la mejor respuesta describe lo que se ve y su contexto cultural en ese "
                             "país, sin inventar lo que la imagen no muestra.")),
        "fields": {"context": "País y persona", "system_prompt": "Prompt de sistema (el papel)", "prompt": "Pregunta",
                   "response_a": "Respuesta A", "response_b": "Respuesta B",
                   "possible_duplicate": "Posible duplicado: otra fila con casi la misma pregunta"},
        "questions": {"vote": "¿Qué respuesta es mejor?", "category": "Categoría de la pregunta",
                      "corrected_response": "Respuesta corregida (opcional)", "comment": "Comentario (opcional)"},
        "votes": {"a": "A es mejor", "b": "B es mejor", "both_good": "Ambas buenas", "both_bad": "Ambas malas"},
        "categories": {"knowledge": "Conocimiento cultural", "preference": "Preferencia / norma",
                       "dynamics": "Dinámica cultural", "bias_trap": "Trampa de sesgo", "trivial": "Trivial / factual",
                       "stereotype": "Reproduce o induce un estereotipo", "no_anchor": "Sin anclaje cultural en el país"},
        "country": "País", "none": "(sin persona)",
    },
    "pt": {
        "guidelines": """Leia a pergunta (e o prompt de sistema: julgue a partir do papel que ele define, não de si). Veja o
país e a persona: a resposta deve se encaixar na cultura desse país e desse papel.

Vote na resposta correta, adequada à cultura do país e do papel, e natural na variedade local (a mesma da
pergunta: português do Brasil, de Portugal...). Não há um português neutro a premiar. "Ambas boas": há
várias respostas culturalmente válidas. "Ambas ruins": erros graves de tom, conteúdo ou adequação cultural.

Depois classifique a pergunta: rejeite-a se for trivial, estereotipada ou sem âncora cultural no país;
senão, escolha a sua dimensão predominante. Pode escrever uma resposta corrigida. Se aparecer um possível
duplicado, diga-o no comentário quando for a mesma pergunta para o mesmo país e a mesma persona.

A e B aparecem em ordem aleatória; o voto original não é mostrado, para não o influenciar.""",
        "image": ("Imagem", ("Veja a imagem: a melhor resposta descreve o que se vê e o seu contexto cultural nesse "
                             "país, sem inventar o que a imagem não mostra.")),
        "fields": {"context": "País e persona", "system_prompt": "Prompt de sistema (o papel)", "prompt": "Pergunta",
                   "response_a": "Resposta A", "response_b": "Resposta B",
                   "possible_duplicate": "Possível duplicado: outra linha com quase a mesma pergunta"},
        "questions": {"vote": "Qual resposta é melhor?", "category": "Categoria da pergunta",
                      "corrected_response": "Resposta corrigida (opcional)", "comment": "Comentário (opcional)"},
        "votes": {"a": "A é melhor", "b": "B é melhor", "both_good": "Ambas boas", "both_bad": "Ambas ruins"},
        "categories": {"knowledge": "Conhecimento cultural", "preference": "Preferência / norma",
                       "dynamics": "Dinâmica cultural", "bias_trap": "Armadilha de viés", "trivial": "Trivial / factual",
                       "stereotype": "Reproduz ou induz um estereótipo", "no_anchor": "Sem âncora cultural no país"},
        "country": "País", "none": "(sem persona)",
    },
}


def review_language(rows: pl.DataFrame) -> str:
    """Portuguese when most rows to review are, else Spanish."""
    language = rows.get_column("language") if "language" in rows.columns else pl.Series([], dtype=pl.String)
    return "pt" if rows.height and (language == "pt").sum() * 2 > rows.height else "es"


def settings(overlap: int = 1, language: str = "es", images: bool = False):
    """The dataset's settings; with `images` (an image run) an image field above the prompt, and a line of the
    guidelines about it."""
    import argilla as rg

    text = TEXTS[language]
    fields = text["fields"]
    image_title, image_guideline = text["image"]
    return rg.Settings(
        guidelines=text["guidelines"] + (f"\n\n{image_guideline}" if images else ""),
        fields=[rg.TextField(name="context", title=fields["context"]),
                *([rg.ImageField(name="image", title=image_title)] if images else []),
                rg.TextField(name="system_prompt", title=fields["system_prompt"], required=False),
                rg.TextField(name="prompt", title=fields["prompt"]),
                rg.TextField(name="response_a", title=fields["response_a"], use_markdown=True),
                rg.TextField(name="response_b", title=fields["response_b"], use_markdown=True),
                rg.TextField(name="possible_duplicate", required=False, title=fields["possible_duplicate"])],
        questions=[rg.LabelQuestion(name="vote", title=text["questions"]["vote"], labels=text["votes"]),
                   rg.LabelQuestion(name="category", title=text["questions"]["category"], labels=text["categories"]),
                   rg.TextQuestion(name="corrected_response", title=text["questions"]["corrected_response"],
                                   required=False, use_markdown=True),
                   rg.TextQuestion(name="comment", title=text["questions"]["comment"], required=False)],
        # Countries are ISO codes: the server refuses anything else, so a stray value cannot reach annotators.
        metadata=[rg.TermsMetadataProperty(name="country", options=VALUE_SETS["iso_countries"]),
                  *(rg.TermsMetadataProperty(name=name) for name in METADATA if name != "country"),
                  # The order A/B was drawn in: hidden, so it cannot bias anyone.
                  rg.TermsMetadataProperty(name="a_is_chosen", visible_for_annotators=False)],
        distribution=rg.TaskDistribution(min_submitted=overlap),
    )


def a_is_chosen(ids: pl.Series, seed: int) -> pl.Series:
    """Whether response A shows the chosen answer: a coin per row, fixed by the seed and the row's id."""
    return pl.Series("a_is_chosen", [seeded_coin(seed, row_id) for row_id in ids.to_list()], dtype=pl.Boolean)


def review_rows(accepted: pl.DataFrame, seed: int, others: pl.DataFrame | None = None,
                classified: pl.DataFrame | None = None) -> pl.DataFrame:
    """The rows to review, in the shape of Argilla records: pairs with both answers, A/B drawn per row.
    `others` are rows a possible duplicate may point to beyond the accepted ones (the run's dropped
    duplicates); `classified` is the LLM classifier's llm_classification.parquet."""
    pairs = accepted.filter(pl.col("chosen").is_not_null() & pl.col("rejected").is_not_null())
    pairs = pairs.with_columns(a_is_chosen(pairs.get_column("id"), seed))

    def present(column: str, dtype: pl.DataType = pl.String) -> pl.Expr:
        return pl.col(column) if column in pairs.columns else pl.lit(None, dtype=dtype)

    generator = next((pl.col(column) for column in ("modelo_gen", "chosen_model") if column in pairs.columns),
                     pl.lit(None, dtype=pl.String))
    flags = pl.col("warnings") if "warnings" in pairs.columns else pl.lit([], dtype=pl.List(pl.String))
    rows = pairs.select(
        "id", "system_prompt", "prompt", "preference", "country", "source", "a_is_chosen",
        *[column for column in IMAGE_SOURCE if column in pairs.columns],
        response_a=pl.when("a_is_chosen").then("chosen").otherwise("rejected"),
        response_b=pl.when("a_is_chosen").then("rejected").otherwise("chosen"),
        flags=flags, generator=generator.cast(pl.String), language=present("prompt_lang"), variety=present("prompt_variety"),
        register=present("prompt_register"), judge_model=present("judge_model"), judge_rationale=present("judge_rationale"),
        category=present("category"), category_confidence=present("category_confidence", pl.Float64),
        possible_duplicate_of=present("possible_duplicate_of"),
        persona=pl.concat_str([pl.lit(f"{axis}: ") + pl.col(axis).cast(pl.String) for axis in PERSONA if axis in pairs.columns],
                              separator=" · ", ignore_nulls=True) if set(PERSONA) & set(pairs.columns) else pl.lit(None, dtype=pl.String),
    )
    names = {code: local_name(code) for code in rows.get_column("country").drop_nulls().unique().to_list()
             if code in VALUE_SETS["iso_countries"]}  # a stray value is refused by the server, named here
    rows = rows.with_columns(country_name=pl.col("country").replace_strict(names, default=None, return_dtype=pl.String))
    texts = pl.concat([frame.select("id", "system_prompt", "prompt") for frame in (accepted, others) if frame is not None])
    rows = rows.join(texts.unique("id").select("id", other_system_prompt="system_prompt", other_prompt="prompt"),
                     left_on="possible_duplicate_of", right_on="id", how="left", maintain_order="left")
    classified = classified if classified is not None else pl.DataFrame(schema={"id": pl.String, **LLM_COLUMNS})
    return rows.join(classified.select("id", *LLM_COLUMNS), on="id", how="left", maintain_order="left")


def _category_suggestion(row: dict):
    """The LLM classifier's verdict, else category 1 from the trivial_prompt rule, else the prompt
    classifier's category: one suggestion per question is all Argilla keeps."""
    import argilla as rg

    if row["llm_category"] in CATEGORIES:
        return rg.Suggestion("category", row["llm_category"], score=row["llm_confidence"],
                             agent=f"LLM classifier {row['llm_model']}", type="model")
    if "trivial_prompt" in (row["flags"] or []):
        return rg.Suggestion("category", "trivial", agent="trivial_prompt rule", type="model")
    if row["category"] in CATEGORIES:
        return rg.Suggestion("category", row["category"], score=row["category_confidence"], agent="prompt classifier", type="model")
    return None


def _possible_duplicate_text(row: dict) -> str | None:
    if not row["possible_duplicate_of"]:
        return None
    if row["other_prompt"] is None:
        return f"(row {row['possible_duplicate_of']}, not in this run's rows)"
    persona = f"System prompt: {row['other_system_prompt']}\n\n" if row["other_system_prompt"] else ""
    return f"{persona}Prompt: {row['other_prompt']}\n\n(row {row['possible_duplicate_of']})"


def _arena_vote(preference: str | None, chosen_is_a: bool) -> str | None:
    if preference == "chosen-better":
        return "a" if chosen_is_a else "b"
    return {"both-good": "both_good", "both-bad": "both_bad"}.get(preference or "")


def _context(row: dict, language: str) -> str:
    country = f"{row['country_name']} ({row['country']})" if row["country_name"] else row["country"] or "?"
    return f"{TEXTS[language]['country']}: {country}\n{row['persona'] or TEXTS[language]['none']}"


def to_record(row: dict, show_suggestions: bool = False, language: str = "es"):
    """One Argilla record, its id the row's stable id (so a re-push updates it), with the suggestions of
    the module's docstring: the vote and the judge's rationale only with `show_suggestions`."""
    import argilla as rg

    suggestions = []
    vote = _arena_vote(row["preference"], row["a_is_chosen"]) if show_suggestions else None
    if vote and row["judge_model"]:
        suggestions.append(rg.Suggestion("vote", vote, agent=f"LLM judge {row['judge_model']}", type="model"))
    elif vote:
        suggestions.append(rg.Suggestion("vote", vote, score=1.0, agent="arena vote", type="human"))
    category = _category_suggestion(row)
    if category is not None:
        suggestions.append(category)
    comments = [*(["judge: " + row["judge_rationale"]] if row["judge_rationale"] and show_suggestions else []),
                *([f"LLM classifier ({row['llm_category']}): {row['llm_rationale']}"] if row["llm_rationale"] else []),
                *(["rules: " + ", ".join(row["flags"])] if row["flags"] else [])]
    if comments:
        suggestions.append(rg.Suggestion("comment", "\n".join(comments), agent="curation", type="model"))
    metadata = {name: row[name] for name in METADATA if name != "flags" and row[name]}
    if row["flags"]:
        metadata["flags"] = list(row["flags"])
    metadata["a_is_chosen"] = "yes" if row["a_is_chosen"] else "no"
    fields = {"context": _context(row, language), "prompt": row["prompt"], "response_a": row["response_a"], "response_b": row["response_b"]}
    if row["system_prompt"]:
        fields["system_prompt"] = row["system_prompt"]
    if (other := _possible_duplicate_text(row)) is not None:
        fields["possible_duplicate"] = other
    if "image_bytes" in row:  # a re-encoded thumbnail: no EXIF (GPS, owner) reaches the server
        fields["image"] = thumbnail(row["image_bytes"], row["image_path"], REVIEW_THUMBNAIL, quality=85)
    return rg.Record(id=row["id"], fields=fields, metadata=metadata, suggestions=suggestions)
