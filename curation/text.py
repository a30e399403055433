"""Whole-column text expressions the stages and rules share."""

from __future__ import annotations

import re
import unicodedata

import polars as pl

# Characters a reader never sees but a terminal or a text renderer acts on, by kind: ANSI escape
# sequences whole (CSI "\x1b[31m", OSC and the other string sequences up to their terminator, the
# two-character escapes, a stray ESC); the other C0 and C1 control characters (NUL...); and the
# bidirectional embedding, override and isolate controls, which reorder what is shown ("\u202egnp.exe"
# shows as "exe.png"). Tab and line feed are text; CR, VT, FF and NEL are line ends or spaces, which
# normalise folds. The marks U+200E/U+200F stay: they reorder nothing and right-to-left text needs them.
HIDDEN_CHARACTERS = {
    "ansi_escapes": r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[ -/]*[0-~]|[\x1b\x9b]",
    "control_characters": r"[\x00-\x08\x0E-\x1A\x1C-\x1F\x7F-\x84\x86-\x9A\x9C-\x9F]",
    "bidi_controls": r"[\x{202A}-\x{202E}\x{2066}-\x{2069}]",
}
# One pattern for all (an escape sequence before the bare ESC it starts with): one pass per text.
HIDDEN = "|".join(HIDDEN_CHARACTERS.values())

# Runs of anything but letters and digits become one space: the form two texts are compared in.
_NOT_WORD = r"[^\p{L}\p{N}]+"


# Characters NFC may change, move or join with the one before: combining marks, code points this Unicode
# does not assign (a later version's marks), and the letters and signs Unicode 14 decomposes, replaces or
# composes with a preceding letter (Hangul vowels and finals, Greek tonos letters, CJK compatibility
# ideographs...; tests/test_text.py derives them from unicodedata). A text without any is NFC already.
_NFC_SENSITIVE = (
    r"[\p{M}\p{Cn}"
    r"\x{0374}\x{037E}\x{0387}\x{0958}-\x{095F}\x{09DC}-\x{09DD}\x{09DF}\x{0A33}\x{0A36}\x{0A59}-\x{0A5B}"
    r"\x{0A5E}\x{0B5C}-\x{0B5D}\x{0F43}\x{0F4D}\x{0F52}\x{0F57}\x{0F5C}\x{0F69}\x{1161}-\x{1175}"
    r"\x{11A8}-\x{11C2}\x{1F71}\x{1F73}\x{1F75}\x{1F77}\x{1F79}\x{1F7B}\x{1F7D}\x{1FBB}\x{1FBE}\x{1FC9}"
    r"\x{1FCB}\x{1FD3}\x{1FDB}\x{1FE3}\x{1FEB}\x{1FEE}-\x{1FEF}\x{1FF9}\x{1FFB}\x{1FFD}\x{2000}-\x{2001}"
    r"\x{2126}\x{212A}-\x{212B}\x{2329}-\x{232A}\x{2ADC}\x{F900}-\x{FA0D}\x{FA10}\x{FA12}\x{FA15}-\x{FA1E}"
    r"\x{FA20}\x{FA22}\x{FA25}-\x{FA26}\x{FA2A}-\x{FA6D}\x{FA70}-\x{FAD9}\x{FB1D}\x{FB1F}\x{FB2A}-\x{FB36}"
    r"\x{FB38}-\x{FB3C}\x{FB3E}\x{FB40}-\x{FB41}\x{FB43}-\x{FB44}\x{FB46}-\x{FB4E}\x{1D15E}-\x{1D164}"
    r"\x{1D1BB}-\x{1D1C0}\x{2F800}-\x{2FA1D}"
    r"]"
)


def nfc(column: str | pl.Expr) -> pl.Expr:
    """The text in Unicode NFC. Only texts holding a character NFC may change are normalised: nearly every
    text (precomposed accents) is NFC already, and polars' normalize costs 6x the search for those characters."""
    expr = pl.col(column) if isinstance(column, str) else column
    return pl.coalesce(pl.when(expr.str.contains(_NFC_SENSITIVE)).then(expr).str.normalize("NFC"), expr)


def comparison_key(column: str | pl.Expr) -> pl.Expr:
    """Case-folded text without punctuation and with single spaces: 'Hola,  ¿qué tal?' -> 'hola qué tal'."""
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.str.to_lowercase().str.replace_all(_NOT_WORD, " ").str.strip_chars()


def char_length(column: str) -> pl.Expr:
    """Length in characters of the stripped text (0 for null)."""
    return pl.col(column).str.strip_chars().str.len_chars().fill_null(0)


def exact_key(column: str | pl.Expr) -> pl.Expr:
    """Case-folded text with single spaces: the key exact duplicates share."""
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()


def own_copy(expr: pl.Expr) -> pl.Expr:
    """The strings copied into a buffer of their own. A polars string column points into the buffers it
    was cut from, so keeping a few original texts would otherwise keep every original text in memory."""
    return pl.concat_str([expr, pl.lit("")])


def dfa_friendly(pattern: str) -> str:
    r"""The pattern with ASCII word boundaries: Rust's fast regex engines cannot do Unicode `\b`.

    With Unicode `\b` matching is ~100x slower. Accented letters then count as non-word characters,
    so a phrase should not put `\b` right beside an accented letter.
    """
    return pattern.replace(r"\b", r"(?-u:\b)")


def contains_any_branch(column: str | pl.Expr, pattern: str) -> pl.Expr:
    """`str.contains(pattern)`, one regex per branch of its outer alternation, or-ed: the same rows.

    A large alternation of branches that each need a few words of context grows past what Rust's lazy
    DFA caches, which then gives up for a slower engine: the stereotype pattern of the default pack ran
    10x slower as one regex than as its eleven branches one by one (0.65 s against 0.06 s on 50k prompts).
    """
    expr = pl.col(column) if isinstance(column, str) else column
    return pl.any_horizontal(expr.str.contains(branch) for branch in top_level_branches(pattern))


_LEADING_FLAGS = re.compile(r"^\(\?[a-zA-Z]+\)")
# Flags set inside the pattern (`a(?i)b|c`) hold to the end of their group, over later branches: no split then.
_INNER_FLAGS = re.compile(r"\(\?[a-zA-Z-]+\)")


def top_level_branches(pattern: str) -> list[str]:
    """The branches of a regex's outer alternation, each with the pattern's leading flags (`(?ix)`); a pattern
    that is one non-capturing group is split inside it. Reads escapes, classes (nested too), groups and, under
    `x`, comments, so a `|` inside any of them is no split."""
    flags = match.group(0) if (match := _LEADING_FLAGS.match(pattern)) else ""
    body = pattern[len(flags):]
    if _INNER_FLAGS.search(body):
        return [pattern]
    verbose = "x" in flags
    while True:
        branches, ends_of_group = _split_outer(body, verbose)
        stripped = body.strip() if verbose else body
        if len(branches) == 1 and stripped.startswith("(?:") and ends_of_group == len(body.rstrip() if verbose else body):
            body = stripped[3:-1]  # the whole pattern is one group: its branches are the pattern's
            continue
        return [flags + branch for branch in branches]


def _split_outer(body: str, verbose: bool) -> tuple[list[str], int]:
    """The body split at `|` outside any group, class, escape or comment, and where the group opened at its
    first non-blank character closes (-1 if it does not open one)."""
    branches, start, depth, index, first_group_end = [], 0, 0, 0, -1
    opening = len(body) - len(body.lstrip()) if verbose else 0
    class_depth = 0  # Rust classes nest: `[a[b]|]`, `[[:digit:]|]`
    while index < len(body):
        char = body[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            class_depth += 1
            for member in ("]", "^]"):  # a leading ] is a member, not the end
                if body.startswith(member, index + 1):
                    index += len(member)
                    break
        elif class_depth:
            class_depth -= char == "]"
        elif verbose and char == "#":
            index = body.find("\n", index)
            index = len(body) if index < 0 else index
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0 and first_group_end < 0 and body.find("(", opening) == opening:
                first_group_end = index + 1
        elif char == "|" and depth == 0:
            branches.append(body[start:index])
            start = index + 1
        index += 1
    branches.append(body[start:])
    return branches, first_group_end


def _accent_table() -> tuple[list[str], list[str]]:
    """Accented Latin letters (U+00C0 to U+017F) and their bare letters: á -> a, ñ -> n, ç -> c."""
    accented, bare = [], []
    for code in range(0xC0, 0x180):
        char = chr(code)
        base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
        if base != char and base.isascii():
            accented.append(char)
            bare.append(base)
    return accented, bare


_ACCENTED, _BARE = _accent_table()
# Typographic apostrophes read as the straight one ("l’origen" = "l'origen"), as the lexicons write them.
_FROM, _TO = [*_ACCENTED, "’", "‘"], [*_BARE, "'", "'"]

# One way to fold text, whole-column (`fold_accents`) or one string at a time (`fold`, `fold_words`, `fold_key`):
# accents off Latin letters and straight apostrophes; lower case where the comparison ignores case.


def fold_accents(column: str | pl.Expr) -> pl.Expr:
    """Text without accents on Latin letters, apostrophes straight, case kept: 'Qué pasó’' -> "Que paso'".

    A fixed replacement table (Aho-Corasick in polars): 3x faster than NFD and removing the marks,
    for the same result on the languages we serve (text is NFC after normalise). Case is kept: a regex
    ignores it for free (`(?i)`), where lower-casing a long text costs as much as folding it.
    """
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.str.replace_many(_FROM, _TO)


def fold(text: str) -> str:
    """Lowercase, accents removed, apostrophes straight: how lexicon entries and texts are compared."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("’", "'").replace("‘", "'"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold_words(text: str) -> str:
    """`fold`, with single spaces between runs of letters and digits: 'Eres  de Cádiz, ¿no?' -> 'eres de cadiz no'."""
    return " ".join(re.sub(r"[\W_]+", " ", fold(text)).split())


def fold_key(text: str) -> str:
    """`fold`, letters and digits only: a label's key ('Chosen-Better', 'EE. UU.' -> 'chosenbetter', 'eeuu')."""
    return "".join(ch for ch in fold(text) if ch.isalnum())


def raw_text(field: str) -> pl.Expr:
    """The text as it was read: `<field>_raw` where normalising changed it, else the text itself."""
    return pl.coalesce(pl.col(f"{field}_raw"), pl.col(field))
