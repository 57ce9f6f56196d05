"""toolchain.results: the versioned result model, its JSON form and its committed JSON Schema."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from toolchain import results
from toolchain.errors import HarnessError
from toolchain.results import CaseResult, Host, Outcome, SuiteRun, UnitResult

HOST = Host(
    hostname="builder", system="Linux", release="6.1", machine="x86_64", python="3.11.2",
    cpus=2, wasiports="0.1.0", wasmtime="50.0.1",
)  # fmt: skip
T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
T1 = datetime(2025, 6, 1, 12, 5, 30, 250000, tzinfo=timezone.utc)


def unit(name: str, outcome: Outcome = Outcome.PASS, **kw: object) -> UnitResult:
    fields: dict[str, object] = {"duration": 1.5, "exit_code": 0 if outcome == Outcome.PASS else 1}
    fields.update(kw)
    return UnitResult(
        suite="python-3.13.5", unit=name, outcome=outcome, **fields  # type: ignore[arg-type]
    )


def sample_run() -> SuiteRun:
    return SuiteRun(
        suite="python-3.13.5",
        started=T0,
        finished=T1,
        host=HOST,
        shard="2/4",
        units=(
            unit("test_os", Outcome.FAIL, reason="exit status 2", cases=(
                CaseResult(id="test_os.FileTests.test_access", outcome=Outcome.PASS, duration=0.01),
                CaseResult(id="test_os.FileTests.test_umask", outcome=Outcome.FAIL, message="boom"),
                CaseResult(id="test_os.ForkTests.test_fork", outcome=Outcome.SKIP, message="nope"),
            )),
            unit("test_socket", Outcome.SKIP, exit_code=0, reason="requires socket support"),
            unit("test_re", Outcome.PASS, attempts=2, flaky=True, log_tail="== Tests result: OK\n"),
            unit("test_trap", Outcome.CRASH, exit_code=134, trap="wasm trap: unreachable"),
            unit("test_slow", Outcome.TIMEOUT, exit_code=None, reason="killed after 32 s"),
        ),
    )  # fmt: skip


def test_round_trip_through_json(tmp_path: Path) -> None:
    run = sample_run()
    path = tmp_path / "results.json"
    path.write_text(results.to_json(run), encoding="utf-8")
    loaded = results.load(path)
    assert loaded == run
    assert results.to_json(loaded) == results.to_json(run)


def test_summary_counts_units_and_cases() -> None:
    summary = sample_run().summary
    assert summary.total_units == 5 and summary.total_cases == 3
    assert summary.units[Outcome.PASS] == 1 and summary.units[Outcome.FAIL] == 1
    assert summary.units[Outcome.CRASH] == 1 and summary.units[Outcome.TIMEOUT] == 1
    assert summary.cases == {
        Outcome.PASS: 1, Outcome.FAIL: 1, Outcome.ERROR: 0, Outcome.SKIP: 1,
        Outcome.XFAIL: 0, Outcome.XPASS: 0, Outcome.TIMEOUT: 0, Outcome.CRASH: 0,
    }  # fmt: skip
    document = json.loads(results.to_json(sample_run()))
    assert document["summary"]["units"]["fail"] == 1
    assert list(document["summary"]["units"]) == [o.value for o in Outcome]


def test_wrong_schema_version_is_a_clear_error(tmp_path: Path) -> None:
    document = json.loads(results.to_json(sample_run()))
    document["schema_version"] = 2
    path = tmp_path / "old.json"
    path.write_text(json.dumps(document))
    expected = r"old\.json: results schema version 2, this wasiports reads 1"
    with pytest.raises(HarnessError, match=expected):
        results.load(path)
    with pytest.raises(HarnessError, match="schema version None"):
        results.loads("{}", source="empty.json")


def test_invalid_documents_name_the_problem(tmp_path: Path) -> None:
    document = json.loads(results.to_json(sample_run()))
    document["units"][0]["outcome"] = "maybe"
    document["units"][1]["colour"] = "red"
    with pytest.raises(HarnessError) as info:
        results.loads(json.dumps(document), source="r.json")
    assert "r.json: invalid results document" in str(info.value)
    assert "units.0.outcome" in str(info.value) and "units.1.colour" in str(info.value)
    with pytest.raises(HarnessError, match="not valid JSON"):
        results.loads("{", source="r.json")
    with pytest.raises(HarnessError, match="cannot read results file"):
        results.load(tmp_path / "missing.json")


def test_a_summary_edited_by_hand_is_refused() -> None:
    document = json.loads(results.to_json(sample_run()))
    document["summary"]["units"]["pass"] = 99
    with pytest.raises(HarnessError, match="summary does not match the units"):
        results.loads(json.dumps(document))
    del document["summary"]
    assert results.loads(json.dumps(document)) == sample_run()


def test_models_are_frozen_and_strict() -> None:
    run = sample_run()
    with pytest.raises(ValidationError):
        run.suite = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        CaseResult(id="x", outcome=Outcome.PASS, colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="appears twice"):
        SuiteRun(suite="python-3.13.5", started=T0, finished=T1, host=HOST,
                 units=(unit("a"), unit("a")))  # fmt: skip
    with pytest.raises(ValidationError, match="belongs to suite"):
        SuiteRun(suite="other", started=T0, finished=T1, host=HOST, units=(unit("a"),))
    with pytest.raises(ValidationError, match="shard"):
        SuiteRun(suite="s", started=T0, finished=T1, host=HOST, shard="0/4")
    with pytest.raises(ValidationError, match="timezone"):
        SuiteRun(suite="s", started=datetime(2025, 1, 1), finished=T1, host=HOST)
    assert run.unit("test_re").flaky
    with pytest.raises(KeyError):
        run.unit("test_nope")


def test_log_tail_keeps_the_end_within_the_limit() -> None:
    text = "".join(f"line {i}\n" for i in range(5000))
    kept = unit("a", log_tail=text).log_tail
    assert len(kept) <= results.LOG_TAIL_CHARS
    assert kept.endswith("line 4999\n")
    assert kept.startswith("[… ") and "\nline " in kept[:60]  # the cut is at a line start
    assert results.tail_text("short") == "short"
    one_long_line = "x" * 10000
    assert len(results.tail_text(one_long_line)) <= results.LOG_TAIL_CHARS


def test_committed_schema_file_matches_the_model() -> None:
    assert results.SCHEMA_FILE == results.paths.ROOT / "schemas" / "results-1.schema.json"
    committed = results.SCHEMA_FILE.read_text(encoding="utf-8")
    assert committed == results.schema_text(), (
        "schemas/results-1.schema.json is stale: run `python -m toolchain.results --write-schema`"
    )


def test_produced_json_validates_against_the_schema() -> None:
    schema = json.loads(results.SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    document = json.loads(results.to_json(sample_run()))
    validator.validate(document)
    empty = SuiteRun(suite="s", started=T0, finished=T1, host=HOST)
    validator.validate(json.loads(results.to_json(empty)))


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["units"][0].__setitem__("outcome", "maybe"),
        lambda d: d["units"][0].__setitem__("colour", "red"),
        lambda d: d["units"][0].pop("attempts"),
        lambda d: d.__setitem__("schema_version", 2),
        lambda d: d.__setitem__("shard", "two of four"),
        lambda d: d.pop("summary"),
        lambda d: d["summary"]["units"].__setitem__("sometimes", 1),
    ],
)
def test_schema_rejects_malformed_documents(change: object) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(results.SCHEMA_FILE.read_text()))
    document = json.loads(results.to_json(sample_run()))
    change(document)  # type: ignore[operator]
    assert not validator.is_valid(document)


def test_write_schema_entry_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "schema.json"
    assert results.main(["--write-schema", str(target)]) == 0
    assert target.read_text() == results.schema_text()
    good = tmp_path / "run.json"
    good.write_text(results.to_json(sample_run()))
    assert results.main(["--check", str(good)]) == 0
    assert "python-3.13.5, 5 units" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 7}')
    assert results.main(["--check", str(bad)]) == HarnessError.exit_code
    assert results.main([]) == 2


def test_host_info_describes_this_machine() -> None:
    host = results.host_info()
    assert host.cpus >= 1 and host.python and host.machine
    assert host.wasmtime.startswith("50.")


@pytest.mark.parametrize("suite", ["../../x", "a/b", "..", ".hidden", "Python-3.13.5", "x\\y", "", "a b"])
def test_suite_must_be_a_recipe_id_slug(suite: str) -> None:
    document = json.loads(results.to_json(sample_run()))
    document["suite"] = suite
    for u in document["units"]:
        u["suite"] = suite
    with pytest.raises(HarnessError) as info:
        results.loads(json.dumps(document), source="r.json")
    assert "r.json: invalid results document" in info.value.what
    assert "suite: String should match pattern '^[a-z0-9][a-z0-9.+_-]*$'" in info.value.why
    validator = jsonschema.Draft202012Validator(json.loads(results.SCHEMA_FILE.read_text()))
    assert not validator.is_valid(document)


@pytest.mark.parametrize("suite", ["python-3.13.5", "php-8.2.32-slim", "util-linux-2.41.5", "s"])
def test_recipe_ids_are_valid_suites(suite: str) -> None:
    assert SuiteRun(suite=suite, started=T0, finished=T1, host=HOST).suite == suite
