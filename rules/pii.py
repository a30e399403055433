"""Personal data: e-mail addresses, phone numbers and national ID numbers of the countries present."""

from __future__ import annotations

import polars as pl

from curation.config import FilterConfig
from curation.rules.rule import Rule
from curation.schema import TEXT_FIELDS
from curation.text import dfa_friendly

EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}"

# Digits grouped by spaces or hyphens, never by dots: "1.299.000 pesos" is a price, not a phone.
PHONE = "|".join([
    r"(?:\+|\b00)\d{1,3}[\s-]?\(?\d{1,4}\)?(?:[\s-]?\d{2,4}){2,4}\b",        # +34 612 345 678, +52 55 1234 5678
    r"\(\d{2,3}\)\s?9?\d{4}-?\d{4}\b",                                      # Brazil (11) 98765-4321
    r"(?i)\b(?:tel[eé]fono|tel[eè]fon|telefone|telem[oó]vel|celular|m[oó]vil|whatsapp|tel\.|n[úu]mero|ll[áa]mame|ll[áa]menos|liga)"
    r"\D{0,15}\b\d[\d\s-]{6,}\d\b",                                            # "llámame al 600123456", "mi número es 612 345 678"
])

NATIONAL_ID = "|".join([
    r"\b\d{8}-?[A-HJ-NP-TV-Z]\b",                                 # Spain DNI 12345678Z
    r"\b[XYZ]-?\d{7}-?[A-HJ-NP-TV-Z]\b",                          # Spain NIE X1234567L
    r"\b\d{1,2}\.\d{3}\.\d{3}-[\dkK]\b",                          # Chile RUT 12.345.678-5
    r"(?i)\brut\D{0,8}\d{7,8}-[\dk]\b",                              # RUT 12345678-5
    r"\b[A-Z][AEIOUX][A-Z]{2}\d{6}[HM][A-Z]{5}[A-Z\d]\d\b",       # Mexico CURP
    r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b",                             # Brazil CPF 123.456.789-09
    r"(?i)\bcpf\D{0,5}\d{11}\b",                                     # CPF: 12345678909
    # After a keyword, with up to three words between ("Mi número de cédula es 1.023.456.789"):
    # DNI 30.123.456 (AR, PE), C.C. (CO), CI 1.234.567-8 (UY, PY), NIF (PT).
    r"(?i)\b(?:dni|c\.?i\.?|c\.?c\.?|c[ée]dula(?: de (?:identidad|ciudadan[íi]a))?|nif|cart[ãa]o de cidad[ãa]o)"
    r"(?:[\s:#nº°.]+(?:es|n[úu]mero|number|n[º°o]\.?)?){0,3}[\s:#nº°.]*\d{1,3}(?:\.?\d{3}){2,3}(?:-\d)?\b",
])


def _anywhere(pattern: str) -> pl.Expr:
    return pl.any_horizontal(pl.col(column).str.contains(dfa_friendly(pattern)).fill_null(False) for column in TEXT_FIELDS)


def rules(config: FilterConfig) -> list[Rule]:
    return [
        Rule("pii_email", "an e-mail address in the prompt or a response", "block", _anywhere(EMAIL)),
        Rule("pii_phone", "a phone number in the prompt or a response", "block", _anywhere(PHONE)),
        Rule("pii_national_id", "a national ID number in the prompt or a response", "block", _anywhere(NATIONAL_ID)),
    ]
