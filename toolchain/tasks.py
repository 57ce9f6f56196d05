"""Glue between doit and the steps: lazily computed up-to-date keys and task helpers."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from doit.tools import config_changed

from . import build, paths, sdk
from .errors import WasiportsError


class config_changed_lazy(config_changed):  # noqa: N801 (doit's naming)
    """``config_changed`` whose value is computed when doit checks the task, not when dodo.py
    loads: rendered configure flags depend on the SDK and source tree that earlier tasks make."""

    def __init__(self, compute: Callable[[], Any]) -> None:
        super().__init__(None)
        self.compute = compute

    def _calc_digest(self) -> str:
        self.config = json.dumps(self.compute(), sort_keys=True, default=str)
        return super()._calc_digest()


def action(func: Callable[..., None], *args: Any) -> Callable[[], bool]:
    """A doit python-action that prints a wasiports error cleanly instead of a traceback."""
    def run() -> bool:
        try:
            func(*args)
        except WasiportsError as exc:
            print(f"\nerror: {exc.render()}")
            return False
        return True
    run.__name__ = getattr(func, "__name__", "action")
    run.__doc__ = func.__doc__
    return run


def provision_sdk() -> None:
    """doit sdk: provision, check that it compiles and runs a C program, record it."""
    from .runner import RunSpec, run

    log = paths.BUILD / "sdk.log"
    info = sdk.provision(log=log)
    info = dataclasses.replace(info, tools=sdk.provision_tools(log=log))
    module = sdk.check(info, paths.BUILD / "sdk-check", log=log)
    out = paths.BUILD / "sdk-check" / "out.txt"
    result = run(RunSpec(module=module, stdout=out))
    if result.exit_code != 0 or "wasi-sdk ok" not in out.read_text():
        raise sdk.SdkError(f"the SDK at {info.path} built a module that does not run",
                           why=f"exit {result.exit_code} {result.trap or ''}",
                           hint=f"see {log}")
    print(f"sdk: check ok: compiled and ran {module.name}")
    build.sdk_record().write_text(json.dumps(info.to_json(), indent=2) + "\n")


def sdk_still_there() -> bool:
    """The SDK lives in the cache, outside doit's view: rerun if it vanished or its env moved."""
    try:
        info = build.load_sdk()
    except (OSError, ValueError, KeyError):
        return False
    if os.environ.get("WASI_SDK_PATH") and os.path.realpath(os.environ["WASI_SDK_PATH"]) != str(info.path):
        return False
    if any(not Path(tool).exists() for tool in info.tools.values()) or not sdk.tool_shims_current():
        return False
    return not sdk.missing_parts(info.path)
