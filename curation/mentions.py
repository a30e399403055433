"""Mentions: words a text quotes or asks about, which are not the text's own voice.

"¿Qué significa 'pucha'?", «vos», "la palabra cachai", "¿se usa el vos?": the quoted or named word says
nothing about how the writer speaks. `MENTION` is a regex over accent-folded text (its words case-insensitive, see
`curation.text.fold_accents`); the taggers blank its spans before looking for evidence. Quotes are bounded
(60 characters, one line) so an unpaired quote blanks little. Written for Rust's DFA: ASCII `\b` only.
"""

from __future__ import annotations

from curation.text import dfa_friendly

_QUOTED = [
    r'"[^"\n]{1,60}"',
    r"«[^»\n]{1,60}»",
    r"“[^”\n]{1,60}”",
    # A single-quoted span opens after a space or bracket: the apostrophes of Guarani words (mba'e, nde ra'a)
    # stay.
    r"(?:^|[\s(¿¡])'[^'\n]{1,40}'",
]

# A word named as a word: "la palabra X", "el término X", "qué significa X", "quiere decir X".
_NAMING = (r"\b(?:la palabra|las palabras|el termino|los terminos|la expresion|las expresiones|el vocablo|"
           r"el modismo|los modismos|el pronombre|el verbo|la voz|la jerga|el dicho|el refran|"
           r"significa|significan|significado de|quiere decir|el uso de|el uso del|se escribe|se pronuncia)"
           r"\s+[a-z'\-]+(?:\s+[a-z'\-]+)?")
# The forms of address named as such: "el vos", "el voseo", "tratar de usted", "hablar de tú".
_ADDRESS = (r"\b(?:el|del|al|usar|usa|usan|uso)\s+(?:vos|voseo|tuteo|ustedeo|tu|usted|vosotros|ustedes)\b|"
            r"\b(?:tratar|trata|tratas|tratan|trato|tratamiento|hablar|habla|hablan)\s+de\s+(?:usted|tu|vos)\b")

# Texts are matched with their case kept (curation.lexicon.tag): the words are case-insensitive, the quotes
# need not be (a case-insensitive negated class is far slower).
MENTION = dfa_friendly("|".join([*_QUOTED, f"(?i:{_NAMING})", f"(?i:{_ADDRESS})"]))
