"""What the report says about each packaged artifact: module and tarball sizes, the SDK it was
built with (read from ``dist/<id>-wasi/manifest.json`` and the tarball beside it).

An artifact that was not packaged here (a report rendered from downloaded shard results) has no
manifest: its entry says so instead of failing the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import build, fileio
from .recipe import Recipe


def sdk_label(sdk: dict[str, Any]) -> str:
    """``wasi-sdk 25.0 (clang 19.1.7)`` or ``clang 19.1.7 + wasi-libc … (debian)`` from a
    manifest's ``sdk`` (this release's fields, or the older ``details`` of build/sdk.json)."""
    details = sdk.get("details") or {}
    clang = sdk.get("clang_version", "?")
    release = sdk.get("release") or details.get("release")
    if release:
        return f"wasi-sdk {release} (clang {clang})"
    libc = sdk.get("wasi_libc") or details.get("wasi_libc")
    origin = sdk.get("origin", "?")
    return f"clang {clang}" + (f" + {libc}" if libc else "") + f" ({origin})"


def entry(recipe: Recipe, dist_dir: Path | None = None) -> dict[str, Any]:
    """``{"packaged": bool, "modules": {name: bytes}, "debug": {name: bytes of its debug module},
    "tarball_bytes", "sdk", "built_with_runner"}``: modules are the shipped (stripped) ones."""
    final = dist_dir or build.dist_dir(recipe)
    manifest = fileio.read_json_object(final / "manifest.json")
    if manifest is None:
        return {"packaged": False, "modules": {}, "debug": {}, "tarball_bytes": None, "sdk": "",
                "built_with_runner": ""}
    tarball = final.with_name(final.name + ".tar.gz")
    modules = {f["path"]: f["size"] for f in manifest.get("files", [])
               if isinstance(f, dict) and str(f.get("path", "")).endswith(".wasm")}
    debug = {f["path"]: f["debug"].get("debug_bytes") for f in manifest.get("files", [])
             if isinstance(f, dict) and isinstance(f.get("debug"), dict)}
    runner = manifest.get("runner") or {}
    return {
        "packaged": True,
        "modules": modules,
        "debug": debug,
        "tarball_bytes": tarball.stat().st_size if tarball.is_file() else None,
        "sdk": sdk_label(manifest.get("sdk") or {}),
        "built_with_runner": ", ".join(f"{k} {v}" for k, v in sorted(runner.items())),
    }
