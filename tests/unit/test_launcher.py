"""The launcher template: mounts, wasm options and the wall-clock limit reach the runner."""

from __future__ import annotations

from toolchain import dist, paths, recipe
from toolchain.render import render_file


def render(r: recipe.Recipe, name: str, module: str) -> str:
    assert r.artifact is not None
    ctx = {"recipe": r, "artifact": r.artifact, "runner": "/venv/bin/python3 -m toolchain.runner run",
           "runner_client": "/src/toolchain/runner_client.py",
           "launch": {"name": name, "module": module}}
    return render_file(r.template_path(r.artifact.launcher_template), ctx, where="test")


def test_php_launchers_enable_exceptions_and_map_the_ini() -> None:
    r = recipe.load(paths.RECIPES / "php" / "8.2.32.toml")
    assert dist.launches(r) == {"php": "php.wasm", "php-cgi": "php-cgi.wasm"}
    text = render(r, "php-cgi", "php-cgi.wasm")
    assert "--wasm exceptions=y" in text
    assert '--dir "$here/etc::/usr/local/etc"' in text
    assert '--argv0 php-cgi' in text and '"$here/php-cgi.wasm" "$@"' in text
    assert "${WASIPORTS_TIMEOUT:+--timeout $WASIPORTS_TIMEOUT}" in text
    assert 'runner="/venv/bin/python3 -I -S /src/toolchain/runner_client.py $WASIPORTS_RUNNER_SOCKET"' in text


def test_python_launcher_has_no_wasm_options() -> None:
    r = recipe.load(paths.RECIPES / "python" / "3.13.5.toml")
    assert dist.launches(r) == {"python": "python.wasm"}
    text = render(r, "python", "python.wasm")
    assert "exceptions" not in text
    assert '--dir "$here/lib::/usr/local/lib"' in text
