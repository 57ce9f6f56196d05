"""``recipes/sdk.toml`` as typed data: the pinned wasi-sdk release, the Debian packages and
wasi-libc to assemble the same SDK from, the apt suites to find them in, and the pinned helper
tools. Validated like recipes: an unknown or missing key is an error naming the file and key."""

from __future__ import annotations

import functools
import tomllib

from pydantic import Field

from . import paths
from .errors import RecipeError
from .recipe_model import _Strict
from .validation import display, validate

SDK_DATA = paths.RECIPES / "sdk.toml"


class Archive(_Strict):
    file: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    url: str = Field(pattern=r"^https?://")


class Release(_Strict):
    version: str
    clang: int
    provenance: str
    archives: dict[str, Archive]
    """Host machine (``platform.machine()``) -> its release archive."""


class WasiLibc(_Strict):
    package: str
    version: str
    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    provenance: str


class DebianSdk(_Strict):
    clang: int
    packages: list[str]
    llvm_bin: str
    wrapped: list[str]
    """Tools given a wrapper that adds the wasm target and the sysroot."""
    linked: list[str]
    aliases: dict[str, str]
    target: str
    wasi_libc: WasiLibc


class Apt(_Strict):
    suites: list[str]
    components: list[str]


class Tool(_Strict):
    package: str
    version: str
    bin: str
    version_output: str
    why: str
    cache: str = ""
    """Why the tool's runs may be cached (empty: they are not): recipes then reach it through a
    shim that keeps each run's output by its inputs (toolchain/toolcache.py)."""


class SdkData(_Strict):
    release: Release
    debian: DebianSdk
    apt: Apt
    tools: dict[str, Tool] = {}


@functools.cache
def load(path: str = str(SDK_DATA)) -> SdkData:
    """Read and validate sdk.toml (once per process)."""
    shown = display(SDK_DATA) if path == str(SDK_DATA) else path
    try:
        data = tomllib.loads(open(path, encoding="utf-8").read())
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{shown}: not valid TOML: {exc}") from None
    return validate(SdkData, data, source=shown, hint="see the comments in recipes/sdk.toml")
