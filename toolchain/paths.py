"""Where things live: the checkout, the cache outside it, and per-recipe work trees.

Everything slow to recreate (downloads, the assembled SDK, ccache, compiled wasm modules) lives in
the cache, outside the checkout, so clean clones and CI reruns stay fast. Build trees live in
``build/`` inside the checkout (git-ignored); artifacts in ``dist/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "recipes"
PATCHES = ROOT / "patches"
BUILD = Path(os.environ.get("WASIPORTS_BUILD_DIR", ROOT / "build"))
DIST = Path(os.environ.get("WASIPORTS_DIST_DIR", ROOT / "dist"))
#: Contributors' dev trees (``dev/<id>/``, git repositories of a patched source; git-ignored).
DEV = ROOT / "dev"


def cache_root() -> Path:
    """``$WASIPORTS_CACHE``, else ``$XDG_CACHE_HOME/wasiports``, else ``~/.cache/wasiports``."""
    if explicit := os.environ.get("WASIPORTS_CACHE"):
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "wasiports"


def downloads_dir() -> Path:
    return cache_root() / "downloads"


def sdk_dir() -> Path:
    return cache_root() / "sdk"


def apt_state_dir() -> Path:
    return cache_root() / "apt"


def ccache_dir() -> Path:
    return cache_root() / "ccache"


def wasm_cache_dir() -> Path:
    return cache_root() / "wasmtime"


def venv_python() -> str:
    """This environment's interpreter, spelled from ``sys.prefix`` so that doit and pytest
    (``python`` vs ``python3`` in the same virtualenv) render the same commands and configure
    does not rerun."""
    python = Path(sys.prefix) / "bin" / "python3"
    return str(python if python.exists() else sys.executable)
