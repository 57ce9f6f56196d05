"""The launcher template: mounts, wasm options and the wall-clock limit reach the runner; the
build machine's paths are quoted for the shell; the runner's arguments are never re-split.

(Executing launchers needs processes: tests/integration/test_launcher_processes.py.)"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from toolchain import build, dist, paths, recipe, sdk

ODD = "/build dir/$(touch pwned)/it's"
"""A build-machine directory with a space, a command substitution and a quote."""


def render(r: recipe.Recipe, name: str, module: str, *, root: str = "") -> str:
    """The launcher as dist.package renders it: the whole build context (so a template that
    starts using one of its paths is caught here), with the runner of a checkout under ``root``."""
    python = f"{root}/venv/bin/python3"
    ctx = build.context(r, sdk.SdkInfo(Path("/opt/wasi-sdk"), "debian", "19.1.7"))
    ctx.update(runner=shlex.join([python, "-m", "toolchain.runner", "run"]),
               runner_client=f"{root}/src/toolchain/runner_client.py")
    return dist.render_launcher(r, ctx, name, module)


def php() -> recipe.Recipe:
    return recipe.load(paths.RECIPES / "php" / "8.2.32.toml")


def test_php_launchers_enable_exceptions_and_map_the_ini() -> None:
    r = php()
    assert dist.launches(r) == {"php": "php.wasm", "php-cgi": "php-cgi.wasm"}
    text = render(r, "php-cgi", "php-cgi.wasm")
    assert "  --wasm exceptions=y \\\n" in text
    assert '  "$ro" "$here/etc::/usr/local/etc" \\\n' in text
    assert "  --argv0 php-cgi \\\n" in text and '  "$here/php-cgi.wasm" "$@"\n' in text
    assert '*) set -- --timeout "$WASIPORTS_TIMEOUT" "$@" ;;' in text  # wasiports' runner
    assert 'given|wasmtime) set -- -W "timeout=${WASIPORTS_TIMEOUT}s" "$@" ;;' in text  # the CLI's
    assert ('server) exec "$WASIPORTS_PYTHON" -I -S "$WASIPORTS_RUNNER_CLIENT" "$WASIPORTS_RUNNER_SOCKET" "$@"'
            in text)
    assert "for name in GATEWAY_INTERFACE SERVER_SOFTWARE" in text  # php-cgi's request variables


def test_python_launcher_has_no_wasm_options() -> None:
    r = recipe.load(paths.RECIPES / "python" / "3.13.5.toml")
    assert dist.launches(r) == {"python": "python.wasm"}
    text = render(r, "python", "python.wasm")
    assert "exceptions" not in text
    assert '"$ro" "$here/lib::/usr/local/lib"' in text


def test_no_build_machine_path_is_written_into_the_launcher() -> None:
    # the launcher is published: the runner's Python and client come from the environment of
    # wasiports' own runs (WASIPORTS_PYTHON, WASIPORTS_RUNNER_CLIENT), never from the build context
    text = render(php(), "php", "php.wasm", root=ODD)
    assert "build dir" not in text and "$(touch" not in text and "/venv/" not in text
    assert "/opt/wasi-sdk" not in text and str(paths.ROOT) not in text and str(paths.BUILD) not in text
    assert '  ours) exec "$WASIPORTS_PYTHON" -m toolchain.runner run "$@" ;;\n' in text
    assert 'elif [ -n "${WASIPORTS_PYTHON:-}" ] && [ -x "$WASIPORTS_PYTHON" ]; then' in text
    assert '&& [ -f "${WASIPORTS_RUNNER_CLIENT:-}" ]; then kind=server' in text
    assert text.count("$WASIPORTS_PYTHON") == text.count('"$WASIPORTS_PYTHON"')
    assert text.count("$WASIPORTS_RUNNER_CLIENT") == text.count('"$WASIPORTS_RUNNER_CLIENT"')


def test_the_runner_command_is_a_quoted_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # what the launcher template relies on: build.runner_command() is shell-quoted
    monkeypatch.setattr(sys, "prefix", f"{ODD}/no venv")
    monkeypatch.setattr(sys, "executable", f"{ODD}/bin/python3")
    assert shlex.split(build.runner_command()) == [
        f"{ODD}/bin/python3", "-m", "toolchain.runner", "run",
    ]  # fmt: skip


def test_names_and_guest_values_are_quoted_only_as_needed() -> None:
    r = php().model_copy(deep=True)
    assert r.artifact is not None
    r.artifact.guest_env["NOTE"] = 'say "hi" `x` \\ $HOME'
    r.artifact.wasm_options["odd key"] = "a'b"
    text = render(r, "php-cgi", "php-cgi.wasm")
    assert "  --argv0 php-cgi \\\n" in text  # a plain word stays bare
    assert '  --env "NOTE=say \\"hi\\" \\`x\\` \\\\ $HOME" \\\n' in text
    odd = shlex.quote("odd key=a'b")
    assert f"  --wasm {odd} \\\n" in text


def test_run_time_values_are_not_split_into_words() -> None:
    text = render(php(), "php", "php.wasm")
    assert "$runner" not in text and "limit=" not in text
    # the only unquoted expansion: a runner command line the user gave, split on purpose
    assert "    set -f\n" in text and "    exec $WASIPORTS_RUNNER \"$@\" ;;\n" in text
    assert text.count("$WASIPORTS_RUNNER_SOCKET") == text.count('"$WASIPORTS_RUNNER_SOCKET"')
    assert '--dir "$PWD::/" --dir "$PWD::$PWD"' in text


def test_guest_env_values_keep_their_intended_expansion() -> None:
    # recipes/php: guest_env PWD = "$PWD", expanded by the launcher's shell
    assert '  --env "PWD=$PWD" \\\n' in render(php(), "php", "php.wasm")


def test_read_only_mounts_only_for_our_runner() -> None:
    text = render(php(), "php", "php.wasm")
    assert "case $kind in given|wasmtime) ro=--dir ;; *) ro=--dir-ro ;; esac" in text


def test_a_symlinked_launcher_finds_its_files() -> None:
    text = render(php(), "php", "php.wasm")
    assert 'self=$(readlink -f -- "$0" 2>/dev/null) || self=$0' in text
    assert 'here=$(CDPATH= cd -- "$(dirname -- "$self")" && pwd) || exit 127' in text
    assert 'if [ ! -f "$here/php.wasm" ]; then' in text


# --- the SDK's generated wrappers ---------------------------------------------------------------


def test_sdk_wrappers_quote_their_paths() -> None:
    text = sdk._wrapper("wasm32-wasi", Path(ODD) / "clang", Path(ODD) / "share" / "wasi-sysroot")
    command = shlex.join([f"{ODD}/clang", "--target=wasm32-wasi",
                          f"--sysroot={ODD}/share/wasi-sysroot"])
    assert text.splitlines()[-1] == f'exec {command} "$@"'
    assert shlex.split(text.splitlines()[-1])[1:4] == [
        f"{ODD}/clang", "--target=wasm32-wasi", f"--sysroot={ODD}/share/wasi-sysroot",
    ]  # fmt: skip
