"""The bundled scenario files, shipped with the package.

Each ``*.yaml`` here starts with a header comment: the question it asks, the
claim it tests and the outcome expected. ``scenarios/README.md`` is the index.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _folder():
    return resources.files(__name__)


def names() -> list[str]:
    """Names of the bundled scenarios (file stems), sorted."""
    return sorted(p.name[:-5] for p in _folder().iterdir() if p.name.endswith(".yaml"))


def path(name: str) -> Path | None:
    """Path of a bundled scenario, or None when there is none of that name."""
    candidate = _folder() / f"{name}.yaml"
    return Path(str(candidate)) if candidate.is_file() else None


def question(name: str) -> str:
    """The scenario's one-line question: its ``# Question:`` header line."""
    for line in path(name).read_text(encoding="utf-8").splitlines():
        if line.startswith("# Question:"):
            return line[len("# Question:"):].strip()
    return ""
