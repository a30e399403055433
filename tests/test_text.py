"""curation.text.nfc: normalises only the texts NFC may change, and gives what NFC gives."""

from __future__ import annotations

import unicodedata

import polars as pl
import pytest

from curation.text import _NFC_SENSITIVE, contains_any_branch, nfc, top_level_branches


def _nfc_may_change() -> list[str]:
    """Every character Python's Unicode database says NFC may change, move or compose with the letter before
    it: combining marks, characters that are not NFC alone, and the second half of a canonical pair."""
    found = set()
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        if unicodedata.combining(char) or not unicodedata.is_normalized("NFC", char):
            found.add(code)
        decomposition = unicodedata.decomposition(char)
        if decomposition and not decomposition.startswith("<"):
            found.update(int(part, 16) for part in decomposition.split()[1:])
    found.update(range(0x1161, 0x1176), range(0x11A8, 0x11C3))  # Hangul vowels and finals join a syllable
    return [chr(code) for code in sorted(found)]


def test_every_character_nfc_may_change_is_searched_for():
    characters = pl.Series(_nfc_may_change())
    missed = characters.filter(~characters.str.contains(_NFC_SENSITIVE)).to_list()
    assert missed == []


def test_nfc_gives_what_normalize_gives():
    texts = ["Qué pasó", "e\u0301", "a\u0300\u0301", "\u212b", "\u2126hm", "\u1100\u1161", "\u0958", "Cañón “ok” 😀",
             "", None, "x\u0327\u0301", "\uf900", "I\u0307stanbul"]
    frame = pl.DataFrame({"text": texts}, schema={"text": pl.String})
    assert frame.select(nfc("text")).to_series().to_list() == frame.select(pl.col("text").str.normalize("NFC")).to_series().to_list()


def test_top_level_branches_split_only_the_outer_alternation():
    assert top_level_branches(r"(?i)a|b(c|d)|[|]|\|x") == [r"(?i)a", r"(?i)b(c|d)", r"(?i)[|]", r"(?i)\|x"]
    assert top_level_branches("(?:a|b)") == ["a", "b"]  # one group around everything: its branches
    assert top_level_branches("(?:a|b)+") == ["(?:a|b)+"]  # a group with a quantifier is one branch
    assert top_level_branches("(?:a|b)c|d") == ["(?:a|b)c", "d"]
    assert top_level_branches("[]|]x|y") == ["[]|]x", "y"]  # a leading ] is a class member
    assert top_level_branches("[[:digit:]|]x|[a[b]|c]") == ["[[:digit:]|]x", "[a[b]|c]"]  # classes nest
    assert top_level_branches("a(?i)b|c") == ["a(?i)b|c"]  # a flag set inside holds over later branches: no split
    assert top_level_branches("(?x) (?: a  # one | not a split\n | b )") == ["(?x) a  # one | not a split\n ", "(?x) b "]


@pytest.mark.parametrize("pattern", [
    r"(?i)hola|adi[oó]s|\bque\b", r"(?x) (?: por \s+ qu[eé] | \d{3} ) ", r"^a|b$", r"[|]|(?:x|y)z", r"(?i)(?:fecha|dato)s?",
    r"x(?i)adiós|fechas", r"[[:digit:]|]|[a[b]|c]|[^]]z"])
def test_contains_any_branch_finds_the_rows_contains_finds(pattern):
    texts = pl.Series(["hola", "ADIÓS", "lo que sea", "por   qué", "123", "ab", "xb", "|", "yz", "Fechas", None, ""])
    frame = pl.DataFrame({"text": texts})
    assert frame.select(contains_any_branch("text", pattern)).to_series().equals(frame.select(pl.col("text").str.contains(pattern)).to_series())


def test_the_stereotype_rule_flags_the_rows_as_one_regex_does():
    import yaml

    from curation.rules.pack import DEFAULT_PACK

    rule = next(rule for rule in yaml.safe_load(DEFAULT_PACK.read_text())["row_rules"] if rule["name"] == "stereotype_inducing_prompt")
    assert len(top_level_branches(rule["pattern"])) > 5
    prompts = pl.DataFrame({"prompt": ["¿Por qué son tan tacaños los catalanes?", "¿Es verdad que todos los gallegos son indecisos?",
                                       "Por que os cariocas são tão preguiçosos?", "¿Por qué son tan importantes las fiestas?",
                                       "Los argentinos son unos exagerados", "¿Qué comen los vascos?", None]})
    assert prompts.select(contains_any_branch("prompt", rule["pattern"])).to_series().to_list() == \
        prompts.select(pl.col("prompt").str.contains(rule["pattern"])).to_series().to_list() == [True, True, True, False, True, False, None]
