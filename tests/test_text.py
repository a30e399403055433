"""curation.text.nfc: normalises only the texts NFC may change, and gives what NFC gives."""

from __future__ import annotations

import unicodedata

import polars as pl

from curation.text import _NFC_SENSITIVE, nfc


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
