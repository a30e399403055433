"""A response in another language than its prompt (both identified with confidence).

A chosen answer in another language blocks, unless the system prompt or the prompt asks for that
language ("responde en gallego", "em português", "in English", "habla en tu lengua"): DPO would teach
the model to switch language on its own. Arena personas do answer a Spanish question in Galician or
Catalan unasked ("eres una gallega de A Coruña" is not a request to answer in Galician), and that is
what blocks. It only warns where the prompt's language is in doubt: a prompt under
LANGUAGE_RELIABLE_PROMPT_CHARS characters ("La cigarra y la hormiga" reads as Basque), or a rejected
answer confidently in the chosen's language (two models answering alike against the prompt point to
a misread prompt). A mismatched rejected answer only warns, and on the same terms: a reliable prompt,
and a chosen answer that is not in the rejected's language. The scores stay in `<field>_lang_score`.
"""

from __future__ import annotations

import polars as pl

from curation.config import FilterConfig
from curation.rules.rule import Rule
from curation.text import dfa_friendly

# A short prompt (a fable's title, a refrán) is easily misidentified.
LANGUAGE_RELIABLE_PROMPT_CHARS = 30

# Each language's names, in Spanish, Portuguese, Catalan, Galician and English (noun and adjective).
LANGUAGE_NAMES = {
    "es": r"espa[ñn]ol|castellano|castell[àa]|castelhano|espanhol|spanish|espanyol|espa[ñn]ola|castellana",
    "pt": r"portugu[ée]s|português|portuguesa|portuguese|portugu[eè]s",
    "gl": r"gallego|galego|galician|gallega|galega",
    "ca": r"catal[áà]n|catal[àa]|catalan|catalana|valenci[àa]n?|valenciana",
    "eu": r"euskera|euskara|vasco|basque|vasca|basc",
    "en": r"ingl[ée]s|inglês|english|angl[èe]s|inglesa|anglesa",
    "fr": r"franc[ée]s|francês|french|franc[èe]s|francesa",
    "it": r"italiano|italian|itali[àa]|italiana",
    "de": r"alem[áã]n|alemão|german|alemany|alemana",
    "gn": r"guaran[íi]|guarany",
    "qu": r"quechua|kichwa|quichua",
    "ast": r"asturiano|bable|asturianu",
}
# How a text asks for a language: "en gallego", "em português", "in English", "en lengua gallega",
# "habla galego", "responde sempre en catalán". A bare adjective ("eres una gallega", "un catalán de 24
# años", "la literatura gallega") is not a request.
_ASK = r"(?i)(?:\b(?:en|em|in|no|na)\s+(?:(?:lengua|llengua|l[íi]ngua|idioma|language)\s+)?|" \
       r"\b(?:lengua|llengua|l[íi]ngua|idioma)\s+|" \
       r"\b(?:habl|fal|parl|escrib|escrev|respond|contest|speak|write|answer|reply|talk)[a-zñ]*\s+(?:(?:siempre|sempre|always|s[óo]lo|only|solamente)\s+)?)"
# "En tu lengua", "in your own language", "en tu idioma materno": the persona's own language, any.
ANY_LANGUAGE_ASKED = dfa_friendly(
    r"(?i)\b(?:en|em|in|na)\s+(?:tu|su|vuestra|sua|tua|la teva|your)\s+(?:propia\s+|own\s+|native\s+|pr[óo]pria\s+)?"
    r"(?:lengua|l[íi]ngua|llengua|idioma|language)|\b(?:lengua|l[íi]ngua|idioma) (?:materna|nativa)"
)


def asked_for(language: str) -> str:
    # No `\b` after the name: "català" ends on a letter ASCII `\b` does not know.
    return dfa_friendly(f"{_ASK}(?:{LANGUAGE_NAMES[language]})" + r"(?:[^\p{L}]|$)")


def language_asked(response_language: pl.Expr, where: pl.Expr) -> pl.Expr:
    """True where the system prompt or the prompt asks for the response's language (or for the persona's
    own); read only on the rows `where` is true (the few mismatches), null elsewhere."""
    asking = pl.when(where).then(
        pl.concat_str(pl.col("system_prompt").fill_null(""), pl.lit("\n"), pl.col("prompt").fill_null("")))
    asked = asking.str.contains(ANY_LANGUAGE_ASKED)
    for language in LANGUAGE_NAMES:
        asked = asked | ((response_language == language) & asking.str.contains(asked_for(language)))
    return asked


def rules(config: FilterConfig) -> list[Rule]:
    sure = config.min_language_score

    def mismatch(column: str) -> pl.Expr:
        confident = (pl.col("prompt_lang_score") >= sure) & (pl.col(f"{column}_lang_score") >= sure)
        return confident & (pl.col(f"{column}_lang") != pl.col("prompt_lang"))

    prompt_reliable = pl.col("prompt").str.len_chars() >= LANGUAGE_RELIABLE_PROMPT_CHARS
    rejected_agrees = ((pl.col("rejected_lang") == pl.col("chosen_lang"))
                       & (pl.col("rejected_lang_score") >= sure)).fill_null(False)
    chosen_agrees = ((pl.col("chosen_lang") == pl.col("rejected_lang"))
                     & (pl.col("chosen_lang_score") >= sure)).fill_null(False)
    unasked = mismatch("chosen") & ~language_asked(pl.col("chosen_lang"), mismatch("chosen")).fill_null(False)
    blocks = unasked & prompt_reliable & ~rejected_agrees
    tags = tuple(f"{field}_lang{suffix}" for field in ("prompt", "chosen", "rejected") for suffix in ("", "_score"))
    return [
        Rule("language_mismatch_chosen", "chosen response in another language than the prompt, "
             "not asked for by the system prompt or the prompt", "block", blocks, requires=tags),
        Rule("language_mismatch_chosen_unsure", "chosen response in another language than the prompt, "
             "but the prompt is short or the rejected answer is in the same language (prompt language in doubt)",
             "warn", unasked & ~blocks, requires=tags),
        Rule("language_mismatch_rejected", "response language differs from the prompt's (rejected response)", "warn",
             mismatch("rejected") & prompt_reliable & ~chosen_agrees, requires=tags),
    ]
