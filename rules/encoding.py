"""Encoding damage: mojibake (UTF-8 read as Latin-1/CP-1252: 'informaciÃ³n', 'Â¿', 'â€œ') or replacement
characters; and hidden characters that normalise removed (control characters, ANSI escapes, bidi overrides)."""

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


def rules(config: FilterConfig) -> list[Rule]:
    # The raw text: normalising turns the no-break space and soft hyphen of "Ã\xa0", "Ã\xad" into
    # ordinary characters and would hide the damage.
    broken = pl.any_horizontal(raw_text(column).str.contains(MOJIBAKE).fill_null(False) for column in TEXT_FIELDS)
    # Only `<field>_raw`, where normalise kept the original of a text it changed: the removal is then
    # not silent, and the row says so wherever it ends.
    hidden = pl.any_horizontal(pl.col(f"{column}_raw").str.contains(HIDDEN).fill_null(False) for column in TEXT_FIELDS)
    return [Rule("mojibake", "broken encoding (mojibake) in the prompt or a response", "block", broken),
            Rule("control_characters_removed", "control characters, ANSI escapes or bidi overrides were removed", "warn", hidden)]
