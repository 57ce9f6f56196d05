"""Validating data files (recipes, expectations) into pydantic models, with errors that name the
file and the key path and suggest the key that was probably meant."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from . import paths
from .errors import RecipeError

M = TypeVar("M", bound=BaseModel)


def display(path: Path) -> str:
    """``recipes/php/8.2.32.toml`` for files in the checkout, else the path as given."""
    try:
        return str(path.resolve().relative_to(paths.ROOT))
    except ValueError:
        return str(path)


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the file may use at ``loc`` (list indexes skipped), by their TOML names."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part) or next(
            (f for f in current.model_fields.values() if f.alias == part), None)
        if field is None:
            return []
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items() if not f.exclude]
    return []


_TOML_KINDS = {bool: "the boolean", int: "the integer", float: "the float", str: "the string",
               list: "an array", dict: "a table"}


def _given(value: Any) -> str:
    """How the file spelled ``value``, for "should be an integer, not the string "1""."""
    kind = _TOML_KINDS.get(type(value), type(value).__name__)
    if isinstance(value, (list, dict)):
        return kind
    literal = json.dumps(value) if isinstance(value, (bool, str)) else repr(value)
    return f"{kind} {literal[:60]}"


def describe(error: Any, model: type[BaseModel]) -> str:
    """One pydantic error as ``key.path: problem``."""
    loc = tuple(error["loc"])
    problem = str(error["msg"]).removeprefix("Value error, ")
    if loc and loc[-1] == "[key]":  # a table's key failed, e.g. artifact.trees."../x"
        name = repr(str(loc[-2]))
        loc, problem = loc[:-2], problem if name in problem else f"key {name}: {problem}"
    key = ".".join(str(p) for p in loc) or "(top level)"
    if error["type"] == "missing":
        return f"{key}: missing"
    if error["type"] == "extra_forbidden":
        known = known_keys(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(known)})"
        return f"{key}: unknown key{hint}"
    if str(error["type"]).endswith("_type") and "input" in error:  # strict: no silent coercion
        return f"{key}: {problem}, not {_given(error['input'])}"
    return f"{key}: {problem}"


def validate(model: type[M], data: Any, *, source: str, hint: str) -> M:
    """``model.model_validate(data)``, or a :class:`RecipeError` listing every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [f"{source}: {describe(e, model)}" for e in exc.errors()]
        raise RecipeError(
            problems[0] if len(problems) == 1 else f"{source}: {len(problems)} problems\n"
            + "\n".join(f"  {p}" for p in problems),
            hint=hint,
        ) from None
