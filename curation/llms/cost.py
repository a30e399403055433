"""What calls cost: list prices per model (a table you edit) and estimates before anything is spent."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import Field, RootModel

from curation.config import Settings, validated
from curation.errors import ConfigError
from curation.safe_yaml import load_yaml

# Tokens are estimated as characters / 3 (plus a few per message) before a call: Spanish and Portuguese
# run at about 4 characters a token with Cohere's tokenizer, so this errs high, as a budget should; the
# journal records the billed truth.
CHARS_PER_TOKEN = 3
TOKENS_PER_MESSAGE = 4


@dataclass(frozen=True)
class Price:
    input_per_million: float
    output_per_million: float

    def usd(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_million + output_tokens * self.output_per_million) / 1e6


class _PriceEntry(Settings):
    """One model's row of the table: a budget computed from a negative or infinite price means nothing."""
    input: float = Field(ge=0)
    output: float = Field(ge=0)


class _PriceTable(RootModel[dict[str, _PriceEntry]]):
    pass


def load_prices(path: str | Path | None = None) -> dict[str, Price]:
    """USD per million tokens per model: curation/data/prices.yaml, or your own table."""
    source = Path(path) if path else resources.files("curation.data").joinpath("prices.yaml")
    where = f"price table {source}"
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{where}: cannot read it: {error.strerror}") from None
    table = validated(_PriceTable, load_yaml(text, where), where)
    return {model: Price(price.input, price.output) for model, price in table.root.items()}


def price_of(prices: dict[str, Price], model: str) -> Price:
    if model not in prices:
        raise ConfigError(f"no price for model {model!r}; add it to the price table (models priced: {sorted(prices)})")
    return prices[model]


def estimate_input_tokens(messages: list[dict]) -> int:
    return sum(len(str(message.get("content", ""))) // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE for message in messages)
