"""YAML read safely: every YAML file the engine reads (configs, rule packs, lexicons, tables) goes through here.

PyYAML's safe loader shares one object between an anchor and its aliases, so an "alias bomb" of a few
hundred bytes loads at once; it is whoever walks it later (pydantic, json, the rules) that expands it to
billions of values. So the document's node graph is walked as the tree it stands for, before anything
is built from it, and refused once it passes a size no real config needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from curation.errors import ConfigError

MAX_YAML_BYTES = 10_000_000
MAX_YAML_NODES = 500_000  # values once aliases are expanded: the largest shipped lexicon has about 3,000


def load_yaml(text: str, where: str) -> Any:
    """The YAML document in `text`; a ConfigError starting with `where` when it is invalid or too large."""
    if len(text) > MAX_YAML_BYTES:
        raise ConfigError(f"{where}: larger than {MAX_YAML_BYTES:,} bytes")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node, where)
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        raise ConfigError(f"{where}: not valid YAML: {error}") from None
    finally:
        loader.dispose()


def read_yaml(path: str | Path, where: str | None = None) -> Any:
    path = Path(path)
    where = where or f"file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{where}: cannot read it: {error}") from None
    return load_yaml(text, where)


def _check_expanded_size(root: yaml.Node, where: str) -> None:
    pending, seen = [root], 0
    while pending:
        node = pending.pop()
        seen += 1
        if seen > MAX_YAML_NODES:
            raise ConfigError(f"{where}: more than {MAX_YAML_NODES:,} values once its aliases (*name) are expanded: "
                              "refused (an alias bomb, or far larger than any config)")
        if isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            pending.extend(part for pair in node.value for part in pair)
