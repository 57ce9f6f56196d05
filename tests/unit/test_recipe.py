"""Recipe validation: the real recipes load; broken ones fail with exact, located messages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomli_w

from toolchain import build, dist, paths, publish, recipe
from toolchain.recipe_model import Step
from toolchain.errors import RecipeError, WasiportsError

PYTHON = paths.RECIPES / "python" / "3.13.5.toml"


def write(tmp_path: Path, data: dict, name: str = "python", version: str = "3.13.5") -> Path:
    target = tmp_path / name / f"{version}.toml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(tomli_w.dumps(data).encode())
    return target


@pytest.fixture
def good() -> dict:
    """3.13.5's data with cpython.inc.toml merged in: a whole recipe in one file."""
    return recipe.merged_data(PYTHON)[0]


def test_every_recipe_in_the_repo_loads() -> None:
    found = recipe.discover()
    assert "python-3.13.5" in [r.id for r in found]


def test_python_recipe_values(good: dict) -> None:
    r = recipe.load(PYTHON)
    assert r.source.sha256 == "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640"
    assert r.source.debian is not None and r.source.debian.identical
    assert r.patch_dir == paths.PATCHES / "python" / "3.13.5"


def test_missing_sha256_names_file_and_key(tmp_path: Path, good: dict) -> None:
    del good["source"]["sha256"]
    with pytest.raises(RecipeError) as info:
        recipe.load(write(tmp_path, good))
    assert str(info.value).splitlines()[0].endswith("python/3.13.5.toml: source.sha256: missing")


def test_unknown_key_suggests_the_right_one(tmp_path: Path, good: dict) -> None:
    good["source"]["sha265"] = good["source"]["sha256"]
    with pytest.raises(RecipeError) as info:
        recipe.load(write(tmp_path, good))
    assert "source.sha265: unknown key (did you mean 'sha256'?)" in str(info.value)


def test_unknown_nested_key_in_list_entry(tmp_path: Path, good: dict) -> None:
    good["build"]["config_site"][0]["raeson"] = "x"
    with pytest.raises(RecipeError) as info:
        recipe.load(write(tmp_path, good))
    assert "build.config_site.0.raeson: unknown key (did you mean 'reason'?)" in str(info.value)


def test_bad_hash_and_url(tmp_path: Path, good: dict) -> None:
    good["source"]["sha256"] = "ABC"
    good["source"]["urls"] = ["ftp://example.invalid/x.tar.xz"]
    with pytest.raises(RecipeError) as info:
        recipe.load(write(tmp_path, good))
    text = str(info.value)
    assert "2 problems" in text
    assert "source.sha256: must be 64 lowercase hex digits" in text
    assert "source.urls: 'ftp://example.invalid/x.tar.xz' is not an http(s):// or file:// URL" in text


def test_config_site_entry_needs_a_reason(tmp_path: Path, good: dict) -> None:
    del good["build"]["config_site"][1]["reason"]
    with pytest.raises(RecipeError) as info:
        recipe.load(write(tmp_path, good))
    assert str(info.value).splitlines()[0].endswith("build.config_site.1.reason: missing")


def test_debian_repack_needs_its_own_hash(tmp_path: Path, good: dict) -> None:
    good["source"]["debian"]["identical"] = False
    with pytest.raises(RecipeError) as info:
        recipe.load(write(tmp_path, good))
    assert "source.debian: a repacked Debian tarball (identical = false) needs its own 'sha256'" in str(info.value)


def test_file_must_match_name_and_version(tmp_path: Path, good: dict) -> None:
    with pytest.raises(RecipeError) as info:
        recipe.load(write(tmp_path, good, version="3.13.6"))
    assert "the file must be recipes/python/3.13.5.toml" in str(info.value)


def test_interpreter_needs_artifact(tmp_path: Path, good: dict) -> None:
    del good["artifact"]
    with pytest.raises(RecipeError) as info:
        recipe.load(write(tmp_path, good))
    assert "an interpreter recipe needs [artifact] and [smoke] sections" in str(info.value)


def test_schema_version_checked(tmp_path: Path, good: dict) -> None:
    good["schema"] = 2
    with pytest.raises(RecipeError) as info:
        recipe.load(write(tmp_path, good))
    assert "schema: this wasiports reads schema 1, not 2" in str(info.value)


def test_invalid_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    target = tmp_path / "python" / "3.13.5.toml"
    target.parent.mkdir()
    target.write_text("schema = \n")
    with pytest.raises(RecipeError) as info:
        recipe.load(target)
    assert "python/3.13.5.toml: not valid TOML" in str(info.value)


def test_patch_series_is_sorted_and_filtered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "PATCHES", tmp_path)
    d = tmp_path / "python" / "3.13.5"
    d.mkdir(parents=True)
    for name in ("0002-b.patch", "0001-a.patch", "README.md", "notes.patch"):
        (d / name).write_text("x")
    r = recipe.load(PYTHON)
    assert [p.name for p in r.patches()] == ["0001-a.patch", "0002-b.patch"]


def test_no_upstream_url_needs_debian_file(tmp_path: Path, good: dict) -> None:
    good["source"]["urls"] = []
    good["source"]["debian"]["identical"] = False
    good["source"]["debian"]["sha256"] = "b" * 64
    with pytest.raises(RecipeError) as info:
        recipe.load(write(tmp_path, good))
    assert "source: 'urls' may be empty only when the archive is Debian's own file" in str(info.value)


def test_build_inputs_are_globbed_next_to_the_recipe(tmp_path: Path, good: dict) -> None:
    good["build"]["inputs"] = ["shim/*.c", "shim/Makefile"]
    path = write(tmp_path, good)
    (path.parent / "shim").mkdir()
    for name in ("b.c", "a.c", "Makefile"):
        (path.parent / "shim" / name).write_text("")
    r = recipe.load(path)
    assert [p.name for p in r.build_inputs()] == ["a.c", "b.c", "Makefile"]
    good["build"]["inputs"] = ["shim/*.h"]
    with pytest.raises(RecipeError, match=r"build.inputs\[0\]: 'shim/\*.h' matches no file"):
        recipe.load(write(tmp_path, good)).build_inputs()


def test_php_recipe_declares_exceptions_and_the_cgi_module() -> None:
    r = recipe.load(paths.RECIPES / "php" / "8.2.32.toml")
    assert r.artifact is not None
    assert r.artifact.wasm_options == {"exceptions": "y"}
    assert r.artifact.extra_modules == {"php-cgi.wasm": "usr/local/bin/php-cgi"}
    assert r.build_inputs(), "the compat shim feeds configure"


def test_variants_expand_into_their_own_recipes() -> None:
    found = {r.id: r for r in recipe.discover()}
    full, slim = found["php-8.2.32"], found["php-8.2.32-slim"]
    assert slim.variant == "slim" and full.variant == ""
    assert "--enable-mbstring" in full.build.configure and "--enable-mbstring" not in slim.build.configure
    assert "--without-libxml" in slim.build.configure
    assert slim.depends == [] and full.depends
    assert slim.patch_dir == full.patch_dir, "one patch series for both"
    assert slim.smoke != full.smoke and not slim.test.suite


def test_a_test_only_variant_is_never_released() -> None:
    found = {r.id: r for r in recipe.discover()}
    ruby, fixtures = found["ruby-3.3.8"], found["ruby-3.3.8-fixtures"]
    assert ruby.release and not fixtures.release and found["php-8.2.32-slim"].release
    assert dist.release_files(ruby) == [dist.tarball_path(ruby), dist.sbom_path(ruby)]
    assert dist.release_files(fixtures) == [] and not dist.has_debug_companion(fixtures)
    assert any(a.startswith("--with-test-ext=-test-/") for a in fixtures.build.configure)
    assert not any(a.startswith("--with-test-ext") for a in ruby.build.configure)
    with pytest.raises(WasiportsError, match="built for testing only"):
        publish.plan(fixtures, "localhost:5000/wasiports")


def test_a_variant_replaces_post_install_and_edits_limits() -> None:
    found = {r.id: r for r in recipe.discover()}
    full, fibers, slim = found["php-8.2.32"], found["php-8.2.32-fibers"], found["php-8.2.32-slim"]
    assert "--enable-fiber-asyncify" in fibers.build.configure
    assert [(s.run[1], s.each) for s in fibers.build.post_install] == [("--asyncify", ["php", "php-cgi"])]
    assert all("--translate-to-exnref" in s.run for s in full.build.post_install)
    assert slim.build.post_install == full.build.post_install, "not listed: the recipe's steps"
    assert fibers.artifact and full.artifact and slim.artifact
    assert any("Asyncify" in line for line in fibers.artifact.limits)
    assert any("Fibers are compiled out" in line for line in full.artifact.limits)
    assert not any("Fibers are compiled out" in line or "Wasm exceptions" in line for line in fibers.artifact.limits)
    edit = full.variants["fibers"]
    assert edit.limits_remove and edit.limits_add
    assert fibers.artifact.limits == [line for line in full.artifact.limits if line not in edit.limits_remove] + edit.limits_add
    kept = ("max_execution_time cannot fire", "No opcache and no PCRE JIT")  # the removals touch neither
    assert all(any(k in line for line in fibers.artifact.limits) for k in kept)
    assert slim.artifact.limits == full.artifact.limits
    assert fibers.test.expectations == "expectations/8.2.32-fibers.toml"


def test_variant_removing_an_unknown_argument_is_named(tmp_path: Path, good: dict) -> None:
    good["variants"] = {"tiny": {"summary": "less", "configure_remove": ["--with-nothing"]}}
    with pytest.raises(RecipeError, match=r"variants.tiny.configure_remove: '--with-nothing' is not in build.configure"):
        recipe.load(write(tmp_path, good)).with_variant("tiny")


def test_variant_removing_an_unknown_limit_is_named(tmp_path: Path, good: dict) -> None:
    good["variants"] = {"tiny": {"summary": "less", "limits_remove": ["No such limit."]}}
    with pytest.raises(RecipeError, match=r"variants.tiny.limits_remove: 'No such limit.' is not in artifact.limits"):
        recipe.load(write(tmp_path, good)).with_variant("tiny")


# --- strict types, numbers and names (hardening: defect 10) -------------------------------------

def first_line(tmp_path: Path, data: dict) -> str:
    with pytest.raises(RecipeError) as info:
        recipe.load(write(tmp_path, data))
    return str(info.value).splitlines()[0].split("3.13.5.toml: ", 1)[1]


def test_negative_strip_components_is_refused_at_load(tmp_path: Path, good: dict) -> None:
    good["source"]["strip_components"] = -1
    assert first_line(tmp_path, good) == \
        "source.strip_components: Input should be greater than or equal to 0"


@pytest.mark.parametrize(("section", "key", "value", "message"), [
    ("source", "strip_components", "1", 'Input should be a valid integer, not the string "1"'),
    ("source", "strip_components", True, "Input should be a valid integer, not the boolean true"),
    ("source", "strip_components", 1.0, "Input should be a valid integer, not the float 1.0"),
    ("build", "in_tree", 1, "Input should be a valid boolean, not the integer 1"),
    ("build", "jobs", "4", 'Input should be a valid integer, not the string "4"'),
    ("test", "unit_timeout", "900", 'Input should be a valid number, not the string "900"'),
])
def test_toml_values_are_not_coerced(tmp_path: Path, good: dict, section: str, key: str,
                                     value: object, message: str) -> None:
    good[section][key] = value
    assert first_line(tmp_path, good) == f"{section}.{key}: {message}"


PLAIN = "is not a plain file name (no '/', '\\', NUL, '.' or '..')"
INSIDE = "is not a relative path inside its directory (no leading '/', no '..', no '\\' or NUL)"


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["source"].__setitem__("archive", "../../etc/passwd"),
     f"source.archive: '../../etc/passwd' {PLAIN}"),
    (lambda d: d["source"].__setitem__("archive", "..\\x.tar.xz"), f"source.archive: '..\\\\x.tar.xz' {PLAIN}"),
    (lambda d: d["source"].__setitem__("archive", "a\0b"), f"source.archive: 'a\\x00b' {PLAIN}"),
    (lambda d: d["source"]["debian"].__setitem__("file", ".."), f"source.debian.file: '..' {PLAIN}"),
    (lambda d: d["source"]["debian"].__setitem__("file", "."), f"source.debian.file: '.' {PLAIN}"),
    (lambda d: d["artifact"].__setitem__("module_name", "bin/python.wasm"),
     f"artifact.module_name: 'bin/python.wasm' {PLAIN}"),
    (lambda d: d["artifact"].__setitem__("extra_modules", {"../x.wasm": "usr/bin/x"}),
     f"artifact.extra_modules: '../x.wasm' {PLAIN}"),
    (lambda d: d["artifact"]["trees"].__setitem__("/abs", "usr/local/lib"), f"artifact.trees: '/abs' {INSIDE}"),
    (lambda d: d["build"].__setitem__("files", {"lib/../../../x.pc": "x.j2"}),
     f"build.files: 'lib/../../../x.pc' {INSIDE}"),
    (lambda d: d["test"].__setitem__("expectations", "../../elsewhere.toml"),
     f"test.expectations: '../../elsewhere.toml' {INSIDE}"),
    (lambda d: d.__setitem__("variants", {"Big/One": {"summary": "a variant"}}),
     "variants: key 'Big/One': String should match pattern '^[a-z0-9][a-z0-9.+_-]*$'"),
])
def test_file_names_and_paths_are_checked_at_load(tmp_path: Path, good: dict, change: object,
                                                   message: str) -> None:
    change(good)  # type: ignore[operator]
    assert first_line(tmp_path, good) == message


def test_every_recipe_id_is_a_slug_the_results_accept() -> None:
    from toolchain import results

    assert recipe.SLUG == results.SUITE_PATTERN
    for r in recipe.discover():
        assert re.match(recipe.SLUG, r.id), r.id


# --- test.max_memory ----------------------------------------------------------------------------

def test_max_memory_defaults_to_two_gib() -> None:
    assert recipe.load(PYTHON).test.max_memory == 2147483648 == 2 * 1024**3
    assert recipe.Test().max_memory == 2147483648


def test_max_memory_is_read_from_the_recipe(tmp_path: Path, good: dict) -> None:
    good["test"]["max_memory"] = 512 * 1024 * 1024
    assert recipe.load(write(tmp_path, good)).test.max_memory == 536870912


@pytest.mark.parametrize(("value", "message"), [
    (0, "Input should be greater than or equal to 1"),
    (-1, "Input should be greater than or equal to 1"),
    ("2G", 'Input should be a valid integer, not the string "2G"'),
    (1.5e9, "Input should be a valid integer, not the float 1500000000.0"),
])
def test_max_memory_must_be_a_positive_integer(tmp_path: Path, good: dict, value: object,
                                               message: str) -> None:
    good["test"]["max_memory"] = value
    assert first_line(tmp_path, good) == f"test.max_memory: {message}"


@pytest.mark.parametrize(("key", "value"), [("variant", "../../x"), ("path", "/etc")])
def test_fields_the_loader_sets_cannot_come_from_the_file(tmp_path: Path, good: dict, key: str,
                                                          value: str) -> None:
    good[key] = value
    assert first_line(tmp_path, good) == f"{key}: unknown key"


def test_a_version_file_holds_what_differs_and_includes_the_rest() -> None:
    r = recipe.load(paths.RECIPES / "python" / "3.11.2.toml")
    shared = paths.RECIPES / "python" / "cpython.inc.toml"
    assert r.files() == [(paths.RECIPES / "python" / "3.11.2.toml").resolve(), shared.resolve()]
    assert r.build.host == "wasm32-unknown-wasi" and r.test.suite == "cpython-regrtest"
    sites = [e.var for e in r.build.config_site]
    assert "ac_cv_prog_ac_ct_READELF" in sites and "ac_cv_file__dev_ptmx" in sites
    assert len(sites) == len(set(sites))
    assert "cpython.inc" not in " ".join(x.id for x in recipe.discover())


def test_merge_appends_table_lists_and_replaces_the_rest() -> None:
    base = {"build": {"configure": ["a"], "env": {"CC": "x", "CFLAGS": "-O2"}, "config_site": [{"var": "v1"}]}}
    over = {"build": {"configure": ["b"], "env": {"CFLAGS": "-O3"}, "config_site": [{"var": "v2"}]}}
    assert recipe.merge(base, over) == {"build": {"configure": ["b"], "env": {"CC": "x", "CFLAGS": "-O3"},
                                                  "config_site": [{"var": "v1"}, {"var": "v2"}]}}


def test_an_include_must_be_a_shared_file_next_to_it(tmp_path: Path, good: dict) -> None:
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "common.toml").write_text("")
    with pytest.raises(RecipeError, match=r"3\.13\.5\.toml: include\[0\]: 'common\.toml' must be a file next to it named \*\.inc\.toml"):
        recipe.load(write(tmp_path, {**good, "include": ["common.toml"]}))


def test_an_include_cycle_is_named(tmp_path: Path, good: dict) -> None:
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "a.inc.toml").write_text('include = ["b.inc.toml"]\n')
    (tmp_path / "python" / "b.inc.toml").write_text('include = ["a.inc.toml"]\n')
    with pytest.raises(RecipeError, match=r"includes itself \(3\.13\.5\.toml -> a\.inc\.toml -> b\.inc\.toml -> a\.inc\.toml\)"):
        recipe.load(write(tmp_path, {**good, "include": ["a.inc.toml"]}))


def test_a_problem_in_merged_data_names_both_files(tmp_path: Path, good: dict) -> None:
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "shared.inc.toml").write_text('[build]\nprodcut = "python.wasm"\n')
    with pytest.raises(RecipeError) as info:
        recipe.load(write(tmp_path, {**good, "include": ["shared.inc.toml"]}))
    assert "3.13.5.toml (with shared.inc.toml): build.prodcut: unknown key" in str(info.value)


def test_the_suite_names_are_the_registered_adapters(tmp_path: Path, good: dict) -> None:
    from toolchain import suites

    assert set(recipe.SUITE_NAMES) == set(suites.ADAPTERS)
    good["test"]["suite"] = "cpython-regtest"
    with pytest.raises(RecipeError, match=r"test\.suite: .*unknown suite 'cpython-regtest' \(did you mean 'cpython-regrtest'\?\)"):
        recipe.load(write(tmp_path, good))


def test_a_file_two_includes_share_is_merged_once(tmp_path: Path, good: dict) -> None:
    folder = tmp_path / "python"
    folder.mkdir()
    (folder / "d.inc.toml").write_text('[[build.relabel]]\nafter = "make"\nfiles = ["x"]\nwhy = "a shared relabel entry"\n')
    (folder / "b.inc.toml").write_text('include = ["d.inc.toml"]\n')
    (folder / "c.inc.toml").write_text('include = ["d.inc.toml"]\n')
    del good["build"]["relabel"]
    r = recipe.load(write(tmp_path, {**good, "include": ["b.inc.toml", "c.inc.toml"]}))
    assert [p.name for p in r.includes] == ["b.inc.toml", "d.inc.toml", "c.inc.toml"]
    assert len(r.build.relabel) == 1


def test_a_config_site_variable_set_twice_is_refused(tmp_path: Path, good: dict) -> None:
    good["build"]["config_site"].append({**good["build"]["config_site"][0], "value": "other"})
    with pytest.raises(RecipeError, match=r"build\.config_site: .*ac_cv_buggy_getaddrinfo is set twice"):
        recipe.load(write(tmp_path, good))


def test_build_errors_name_the_included_files_too() -> None:
    r = recipe.load(paths.RECIPES / "python" / "3.11.2.toml")
    assert build._where(r, "build.relabel[0]").endswith("python/3.11.2.toml (with cpython.inc.toml): build.relabel[0]")


def test_bench_native_is_build_configure_less_its_wasm_only_entries(tmp_path: Path, good: dict) -> None:
    wasm_only = good["build"]["configure"][1]
    good["bench"] = {"native": {"why": "the native column of the bench", "produces": "prog",
                                "configure_remove": [wasm_only], "configure_add": ["--native-only"]}}
    native = recipe.load(write(tmp_path, good)).bench_native_build()
    assert native is not None and wasm_only not in native.configure and native.configure[-1] == "--native-only"
    assert native.configure[:-1] == [a for a in good["build"]["configure"] if a != wasm_only]
    good["bench"]["native"]["configure_remove"] = ["--with-nothing"]
    with pytest.raises(RecipeError, match=r"bench.native.configure_remove: '--with-nothing' is not in build.configure"):
        recipe.load(write(tmp_path, good))


def test_a_step_with_each_runs_once_per_value_and_must_name_the_item(tmp_path: Path) -> None:
    php = next(r for r in recipe.discover() if r.id == "php-8.2.32")
    ctx = build.context(php)
    rendered = build.rendered_steps(php, php.build.post_install, ctx, "build.post_install")
    assert [argv[-1].rsplit("/", 1)[-1] for argv, _cwd in rendered] == ["php", "php-cgi"]
    assert all(argv[-3] == argv[-1] for argv, _cwd in rendered)  # wasm-opt IN -o IN
    with pytest.raises(ValueError, match="never name"):
        Step(run=["true"], each=["a"])
    with pytest.raises(ValueError, match="each is empty"):
        Step(run=["touch", "{{ item }}"])
    assert "each" not in Step(run=["true"]).model_dump()  # recorded configurations unchanged


def test_a_variants_test_table_replaces_only_the_keys_it_gives() -> None:
    found = {r.id: r for r in recipe.discover()}
    full, fibers = found["php-8.2.32"], found["php-8.2.32-fibers"]
    assert (fibers.test.suite, fibers.test.unit_timeout, fibers.test.args, fibers.test.host) == (
        full.test.suite, full.test.unit_timeout, full.test.args, full.test.host)
    assert fibers.test.expectations == "expectations/8.2.32-fibers.toml" != full.test.expectations
    assert fibers.test.ci_subset is not None and fibers.test.ci_subset != full.test.ci_subset
    assert found["php-8.2.32-slim"].test.suite == ""  # no [test] table: no suite


def test_only_the_template_variable_item_asks_for_each() -> None:
    assert Step(run=["cp", "items.txt", "{{ stage }}/item"]).each == []  # the word, not the variable
    assert Step(run=["touch", "{{item}}"], each=["a"]).each == ["a"]
