"""Test-suite adapters, one module per language suite, behind the harness's ``Adapter`` protocol.

A recipe's ``test.suite`` names one of these; adding a language adds a module and a line here.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import RecipeError
from ..harness import Adapter
from ..recipe import Recipe
from .cpython import RegrtestAdapter
from .php import RunTestsAdapter
from .ruby import RubyTestsAdapter

ADAPTERS: dict[str, Callable[[Recipe], Adapter]] = {
    "cpython-regrtest": RegrtestAdapter,
    "php-run-tests": RunTestsAdapter,
    "ruby-tests": RubyTestsAdapter,
}


def adapter_for(recipe: Recipe) -> Adapter:
    name = recipe.test.suite
    if name not in ADAPTERS:
        raise RecipeError(
            f"{recipe.path.name}: test.suite: unknown suite {name!r}",
            why="known suites: " + ", ".join(sorted(ADAPTERS)),
        )
    return ADAPTERS[name](recipe)
