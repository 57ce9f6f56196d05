"""Jinja2 rendering of recipe strings and templates, strict about undefined names.

Recipes are data, and rendering one must not run code: templates go through a sandbox
(Jinja's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`: no underscored attributes such as
``cycler.__init__.__globals__``, no calls that change a list or table) that also refuses methods of
anything but plain values (``recipe.path.read_text()``, ``recipe.patches()``), and the context holds
only the names docs/recipes.md lists (of the host environment, only ``env.PATH``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import RecipeError

_VALUES = (str, int, float, bool, list, tuple, dict, jinja2.utils.Cycler, jinja2.utils.Joiner)
"""The only objects whose methods a template may call (``runner.split()``, ``pass_env.get()``,
Jinja's own ``cycler``); the sandbox already refuses the ones that change a list or table."""
_WHY_CHARS = 300


class _RecipeSandbox(ImmutableSandboxedEnvironment):
    def is_safe_callable(self, obj: Any) -> bool:
        owner = getattr(obj, "__self__", None)
        if owner is not None and not isinstance(owner, _VALUES):
            return False  # a method of a Path, a model, a module …
        return bool(super().is_safe_callable(obj))


_ENV = _RecipeSandbox(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


def render(text: str, context: Mapping[str, Any], *, where: str) -> str:
    """Render one recipe string; ``where`` is ``file: key.path`` for the error message."""
    try:
        return _ENV.from_string(text).render(**context)
    except jinja2.exceptions.SecurityError as exc:
        raise RecipeError(
            f"{where}: {text!r} is refused by the template sandbox",
            why=_shorten(str(exc)),
            hint="templates may use the names docs/recipes.md lists and their public attributes "
            "(no '_' names), and call only methods of strings, lists and tables that change nothing",
        ) from None
    except jinja2.TemplateError as exc:
        raise RecipeError(
            f"{where}: cannot render {text!r}",
            why=str(exc),
            hint="known names: " + ", ".join(sorted(context)),
        ) from None


def _shorten(text: str) -> str:
    """The sandbox names the object it refused by its repr, which for a recipe is pages long."""
    return text if len(text) <= _WHY_CHARS else f"{text[:_WHY_CHARS // 2]} … {text[-_WHY_CHARS // 2:]}"


def render_file(path: Path, context: Mapping[str, Any], *, where: str) -> str:
    return render(path.read_text(encoding="utf-8"), context, where=where)
