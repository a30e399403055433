"""curation: a data-quality and curation engine for culturally aligned preference data."""

__version__ = "0.1.0"
