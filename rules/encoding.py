"""Encoding damage: mojibake (UTF-8 read as Latin-1/CP-1252: 'informaciÃ³n', 'Â¿', 'â€œ'; Windows-1252
text read as Windows-1250: 'Cataluńa', 'żQué'; UTF-8 read as Windows-1250: 'EspaĂ±a', 'ďż˝') or
replacement characters, in the system prompt, the prompt or a response; and hidden characters that
normalise removed (control characters, ANSI escapes, bidi overrides)."""

from __future__ import annotations

import polars as pl

from curation.config import FilterConfig
from curation.rules.rule import Rule
from curation.schema import TEXT_FIELDS
from curation.text import HIDDEN, raw_text

# 'Ã' or 'Â' followed by what a UTF-8 continuation byte becomes in Latin-1/CP-1252; 'â€' starts the
# CP-1252 reading of curly quotes and dashes; U+FFFD marks bytes a decoder gave up on. "»" is left
# out after "Ã": "«IRMÃ»" is correct Portuguese.
MOJIBAKE = r"[ÃÂ][\x{80}-\x{BA}\x{BC}-\x{BF}€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ]|Â»|â€|\x{FFFD}"

# Windows-1250 readings. Of the letters the Central European code page puts where Windows-1252 has the
# Iberian ones (ñ -> ń, ¿ -> ż, ¡ -> ˇ, º -> ş, ã -> ă, õ -> ő, ê -> ę, à -> ŕ, è -> č, ò -> ň), only
# the positions no Polish, Czech, Romanian or Turkish word takes count: ń before a vowel (Polish writes
# "ni" there: "Gdańsk", "Poznań" pass, "Espańa" does not), ż opening a Spanish question ("żQué",
# "żcómo"; Polish "żona" passes), ˇ before a letter, ş after a digit ("1ş de mayo"; Turkish "Beşiktaş"
# passes), Portuguese endings ("năo", "informaçőes", "vocę"; Romanian "până" passes). UTF-8 read as
# Windows-1250 is 'Ă' or 'Â' before a continuation byte's reading ("EspaĂ±a", "Âż"), and U+FFFD's
# three bytes read so are "ďż˝". The letters ř, ť, ľ, ł are no Windows-1252 letter's reading: a
# Czech or Polish name ("Dvořák", "Łódź") is not mojibake.
CP1250_MOJIBAKE = (
    r"\p{L}[ńŃ][aeiouáéíóúAEIOUÁÉÍÓÚ]|ďż˝"
    r"|(?:^|[^\p{L}])ż(?:\p{Lu}|qu|c[oó]m|cu[aá]|d[oó]nd|por |pued|sab|ten|hay |has )"
    r"|ˇ\p{L}|\dş|\dŞ"
    r"|ă(?:o|os|e|es)(?:[^\p{L}]|$)|ő(?:e|es)(?:[^\p{L}]|$)"
    r"|(?:^|[^\p{L}])(?:voc|tr|m|portugu|ingl|franc|japon|holand)ęs?(?:[^\p{L}]|$)"
    r"|Ă[±‘ˇ©\x{AD}łş‰Ť“šĽś\x{A0}¨¬˛ą€’˘´ŁµŞ•§‡ŻŹ”Š‚]|Â[żˇşŞ]"
)
# Catalan and Portuguese endings read through Windows-1250 ("perň", "quč", "estŕ", "ŕ"): a Czech word
# can end so ("meč", "daň"), so it takes two in one text.
CP1250_WEAK = r"[a-z]{2}[ŕčň](?:[^\p{L}]|$)|(?:^|[^\p{L}])ŕs?(?:[^\p{L}]|$)"
CP1250_WEAK_MIN = 2
# The letters every Windows-1250 reading above has: the patterns read only the texts that hold one.
CP1250_LETTERS = "[ńŃżˇşŞăőęĂÂďŕčň]"


def rules(config: FilterConfig) -> list[Rule]:
    # The raw text: normalising turns the no-break space and soft hyphen of "Ã\xa0", "Ã\xad" into
    # ordinary characters and would hide the damage.
    def damaged(column: str) -> pl.Expr:
        text = raw_text(column)
        suspect = pl.when(text.str.contains(CP1250_LETTERS)).then(text)  # null elsewhere: the patterns skip it
        return (text.str.contains(MOJIBAKE) | suspect.str.contains(CP1250_MOJIBAKE).fill_null(False)
                | (suspect.str.count_matches(CP1250_WEAK) >= CP1250_WEAK_MIN).fill_null(False)).fill_null(False)

    broken = pl.any_horizontal(damaged(column) for column in TEXT_FIELDS)
    # Only `<field>_raw`, where normalise kept the original of a text it changed: the removal is then
    # not silent, and the row says so wherever it ends.
    hidden = pl.any_horizontal(pl.col(f"{column}_raw").str.contains(HIDDEN).fill_null(False) for column in TEXT_FIELDS)
    return [Rule("mojibake", "broken encoding (mojibake) in the system prompt, the prompt or a response", "block", broken),
            Rule("control_characters_removed", "control characters, ANSI escapes or bidi overrides were removed", "warn", hidden)]
