"""Test-suite adapters, one module per language suite, behind the harness's ``Adapter`` protocol.

A recipe's ``test.suite`` names one of these; adding a language adds a module, a line here and
its name in :data:`toolchain.recipe.SUITE_NAMES` (checked when a recipe loads; a unit test keeps
the two in step).
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
    "cpython-regrtest": RegrtestAdapter.from_recipe,
    "php-run-tests": RunTestsAdapter.from_recipe,
    "ruby-tests": RubyTestsAdapter.from_recipe,
}


def adapter_for(recipe: Recipe) -> Adapter:
    name = recipe.test.suite
    if name not in ADAPTERS:
        raise RecipeError(
            f"{recipe.path.name}: test.suite: unknown suite {name!r}",
            why="known suites: " + ", ".join(sorted(ADAPTERS)),
        )
    return ADAPTERS[name](recipe)
