"""Recipe templates run in Jinja's sandbox and see only the documented names (hardening: Jinja)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolchain import build, paths, recipe, sdk
from toolchain.errors import RecipeError, WasiportsError
from toolchain.render import render

PYTHON = recipe.load(paths.RECIPES / "python" / "3.13.5.toml")
WHERE = "recipes/python/3.13.5.toml: build.configure[0]"
INFO = sdk.SdkInfo(Path("/opt/wasi-sdk"), "debian", "19.1.7", {}, {"wasm-opt": "/opt/bin/wasm-opt"})


@pytest.mark.parametrize("exploit", [
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ cycler.__init__.__globals__.os.environ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ recipe.__class__.__init__.__globals__ }}",
    "{{ env.update(PATH='/evil') }}",
])
def test_template_code_cannot_reach_python(exploit: str) -> None:
    ctx = build.context(PYTHON, INFO)
    with pytest.raises(RecipeError) as info:
        render(exploit, ctx, where=WHERE)
    error = info.value
    assert error.what == f"{WHERE}: {exploit!r} is refused by the template sandbox"
    assert "unsafe" in error.why or "not safely callable" in error.why
    assert "no '_' names" in error.hint
    assert ctx["env"].get("PATH") == os.environ.get("PATH")  # update() was refused too


def test_only_the_documented_host_variables_are_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASIPORTS_TEST_SECRET", "s3cret-token")
    ctx = build.context(PYTHON, INFO)
    assert sorted(ctx["env"]) == ["PATH"]
    with pytest.raises(RecipeError) as info:
        render("{{ env.WASIPORTS_TEST_SECRET }}", ctx, where=WHERE)
    assert "s3cret-token" not in str(info.value)
    assert "has no attribute 'WASIPORTS_TEST_SECRET'" in info.value.why


def test_env_path_still_renders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin:/bin")
    ctx = build.context(PYTHON, INFO)
    assert render("{{ sdk }}/bin:{{ env.PATH }}", ctx, where=WHERE) == "/opt/wasi-sdk/bin:/usr/local/bin:/usr/bin:/bin"
    assert build.build_env(PYTHON, ctx)["PATH"] == "/opt/wasi-sdk/bin:/usr/local/bin:/usr/bin:/bin"


def test_the_real_recipes_and_templates_render_in_the_sandbox() -> None:
    """Every template string of every recipe, its files and launchers (what dist writes)."""
    from toolchain import dist

    for r in recipe.discover():
        ctx = build.context(r, INFO)
        for key in ("pre_configure", "post_install"):
            steps = getattr(r.build, key)
            rendered = build.rendered_steps(r, steps, ctx, f"build.{key}")
            assert len(rendered) == sum(len(s.each) or 1 for s in steps)
            assert all(all(argv) and "{{" not in " ".join(argv) for argv, _cwd in rendered)
        assert build.configure_argv(r, ctx) == [render(a, ctx, where=WHERE) for a in r.build.configure]
        for template in r.build.files.values():
            assert render(r.template_path(template).read_text(), ctx, where=WHERE)
        if r.artifact:
            for name, module in dist.launches(r).items():
                assert f"--argv0 {name}" in dist.render_launcher(r, ctx, name, module)


def test_undefined_names_are_still_errors() -> None:
    with pytest.raises(RecipeError) as info:
        render("{{ srcdir }}", {"src_dir": "/x"}, where=WHERE)
    assert info.value.what == f"{WHERE}: cannot render '{{{{ srcdir }}}}'"
    assert info.value.hint == "known names: src_dir"


def test_trailing_newline_kept_and_nothing_escaped() -> None:
    assert render("a <b> & {{ x }}\n", {"x": "'c'"}, where=WHERE) == "a <b> & 'c'\n"


@pytest.mark.parametrize("call", [
    "{{ recipe.path.read_text() }}",
    "{{ recipe.template_path('../../../../../../etc/passwd') }}",
    "{{ recipe.patches() }}",
    "{{ recipe.path.parent.joinpath('x').write_text('') }}",
])
def test_methods_of_paths_and_models_are_refused(call: str) -> None:
    ctx = build.context(PYTHON, INFO)
    with pytest.raises(RecipeError) as info:
        render(call, ctx, where=WHERE)
    assert "refused by the template sandbox" in info.value.what
    assert "is not safely callable" in info.value.why and len(info.value.why) < 400


def test_methods_of_plain_values_still_work() -> None:
    ctx = build.context(PYTHON, INFO)
    text = "{{ runner.split()[0] }} {{ tools.get('wasm-opt') }} {{ recipe.id.upper() }} {{ range(2)|list }}"
    assert render(text, ctx, where=WHERE) == f"{ctx['runner'].split()[0]} /opt/bin/wasm-opt PYTHON-3.13.5 [0, 1]"


def test_every_recipe_compiles_with_the_prefix_map(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each recipe's wasm compile flags carry {{ prefix_map }}: compiled-in paths then name
    /wasiports/…, and two build directories give the same bytes (wasiports repro)."""
    monkeypatch.setattr(paths, "BUILD", tmp_path / "b")
    for r in recipe.discover():
        ctx = build.context(r, INFO)
        flags = ctx["prefix_map"]
        rendered = " ".join([*build.build_env(r, ctx).values(), *build.configure_argv(r, ctx),
                             *build.make_args(r, ctx, "make"),
                             *(render(a, ctx, where=WHERE) for s in r.build.pre_configure for a in s.run)])
        assert flags in rendered, f"{r.path}: no {{{{ prefix_map }}}} in its CFLAGS"
    assert flags.split()[-1] == f"-ffile-prefix-map={tmp_path / 'b'}=/wasiports/build"  # the last map wins
    assert f"-ffile-prefix-map={INFO.path}=/wasiports/sdk" in flags


def test_a_build_directory_with_spaces_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(paths, "BUILD", tmp_path / "my builds")
    with pytest.raises(WasiportsError, match="white space"):
        build.prefix_map(INFO)
