"""Builders of canonical records for tests: the project's own and a steward's tests of a rule pack.

    from curation.testing import frame_of, pair
    frame = frame_of(pair(), pair(prompt="¿Qué es el mate?", country="UY"))
"""

from __future__ import annotations

import polars as pl

from curation.schema import conform


def pair(**fields) -> dict:
    """One clean canonical-looking row; override any field."""
    row = {
        "system_prompt": "Eres una abuela de Valparaíso que cuenta recetas.",
        "prompt": "¿Cómo preparas las sopaipillas pasadas cuando llueve en invierno?",
        "chosen": "Ay, mijo, con chancaca, cáscara de naranja y canela; las dejo remojar en el almíbar calentito.",
        "rejected": "Las sopaipillas son un alimento típico de Chile que se prepara con masa frita y azúcar.",
        "preference": "chosen-better",
        "country": "CL",
    }
    return row | fields


def frame_of(*rows: dict) -> pl.DataFrame:
    """The rows as a canonical frame, each with its own `source` (test:1, test:2...)."""
    records = [row | {"source": f"test:{number}"} for number, row in enumerate(rows, start=1)]
    return conform(pl.DataFrame(records, schema={key: pl.String for key in records[0]}))


# The LLMs a test loaded: tests/conftest.py unloads them after each test (their HTTP connections closed).
LOADED_LLMS: list = []
