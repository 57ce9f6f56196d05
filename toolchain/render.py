"""Jinja2 rendering of recipe strings and templates, strict about undefined names."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from .errors import RecipeError

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                          autoescape=False)


def render(text: str, context: Mapping[str, Any], *, where: str) -> str:
    """Render one recipe string; ``where`` is ``file: key.path`` for the error message."""
    try:
        return _ENV.from_string(text).render(**context)
    except jinja2.TemplateError as exc:
        raise RecipeError(
            f"{where}: cannot render {text!r}",
            why=str(exc),
            hint="known names: " + ", ".join(sorted(context)),
        ) from None


def render_file(path: Path, context: Mapping[str, Any], *, where: str) -> str:
    return render(path.read_text(encoding="utf-8"), context, where=where)
