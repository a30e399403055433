"""Country names in Spanish, Portuguese, Catalan or English -> ISO 3166-1 alpha-2 codes."""

from __future__ import annotations

from functools import cache
from importlib import resources

from curation.safe_yaml import load_yaml
from curation.text import fold_key


@cache
def _local_names() -> dict[str, list[str]]:
    return load_yaml(resources.files("curation.data").joinpath("countries.yaml").read_text(encoding="utf-8"), "countries.yaml")


def local_name(code: str) -> str:
    """The name the country's people write (the first of countries.yaml), else pycountry's English name."""
    import pycountry

    names = _local_names().get(code)
    return names[0] if names else pycountry.countries.get(alpha_2=code).name


@cache
def country_table() -> dict[str, str]:
    """Folded name or code -> ISO code: every ISO 3166 country by code and English name (pycountry),
    then the Spanish, Portuguese and Catalan names of the editable `countries.yaml`."""
    import pycountry

    table: dict[str, str] = {}
    for country in pycountry.countries:
        for name in (country.alpha_2, country.alpha_3, country.name, getattr(country, "common_name", None)):
            if name:
                table[fold_key(name)] = country.alpha_2
    for code, names in _local_names().items():
        for name in [code, *names]:
            table[fold_key(name)] = code
    return table


def to_iso(name: str | None) -> str | None:
    """The ISO code for a country name; None for an empty value; KeyError for an unknown name."""
    if name is None or not name.strip():
        return None
    return country_table()[fold_key(name)]
