"""The CI workflow for users (.github/workflows/wasiports.yml): valid against the GitHub workflow
schema that check-jsonschema vendors (read from the installed package, no network), every job
with a timeout, and every `run:` step a command the README or docs/releasing.md shows verbatim."""

from __future__ import annotations

import fnmatch
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from toolchain import paths

WORKFLOW = paths.ROOT / ".github" / "workflows" / "wasiports.yml"
DOCS = (paths.ROOT / "README.md", paths.ROOT / "docs" / "releasing.md")


def vendored(name: str) -> dict[str, Any]:
    base = resources.files("check_jsonschema") / "builtin_schemas"
    return json.loads((base / name).read_text(encoding="utf-8"))


def workflow() -> dict[str, Any]:
    # YAML 1.2 (ruamel, as check-jsonschema reads it): the key `on` stays a string
    return YAML(typ="safe").load(WORKFLOW.read_text(encoding="utf-8"))


def run_steps() -> list[tuple[str, str]]:
    return [(job, step["run"]) for job, spec in workflow()["jobs"].items()
            for step in spec["steps"] if "run" in step]


def test_the_workflow_is_valid_against_the_vendored_github_schema() -> None:
    schema = vendored("vendor/github-workflows.json")
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(workflow())]
    assert errors == []


def test_every_job_has_a_timeout() -> None:
    schema = vendored("custom/github-workflows-require-timeout.json")
    jsonschema.validate(workflow(), schema)


def test_a_broken_workflow_is_caught() -> None:
    # the schema test can fail: a step with neither `run` nor `uses` is refused
    broken = workflow()
    broken["jobs"]["build"]["steps"].append({"name": "nothing"})
    schema = vendored("vendor/github-workflows.json")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


@pytest.mark.parametrize("job, command", run_steps())
def test_every_run_step_is_a_documented_command(job: str, command: str) -> None:
    documented = "\n".join(p.read_text(encoding="utf-8") for p in DOCS)
    assert command.strip() in documented, f"{job}: document this command in docs/releasing.md"


def test_the_jobs_and_their_order() -> None:
    jobs = workflow()["jobs"]
    assert list(jobs) == ["build", "test", "gate", "release"]
    assert jobs["test"]["needs"] == "build" and jobs["gate"]["needs"] == "test"
    assert jobs["release"]["if"].startswith("startsWith(github.ref, 'refs/tags/")
    shards = [(m["recipe"], m["shard"], m["of"]) for m in jobs["test"]["strategy"]["matrix"]["include"]]
    for recipe in jobs["build"]["strategy"]["matrix"]["recipe"]:
        counts = {of for r, _, of in shards if r == recipe}
        assert len(counts) == 1, f"{recipe}: one shard count"
        (n,) = counts
        assert sorted(s for r, s, _ in shards if r == recipe) == list(range(1, n + 1))
    assert workflow()["env"]["RECIPES"].split() == jobs["build"]["strategy"]["matrix"]["recipe"]


def test_each_recipe_merges_only_its_own_shards() -> None:
    # ruby-3.3.8-fixtures starts with ruby-3.3.8: the shard names must keep them apart.
    jobs = workflow()["jobs"]
    test_run = next(s["run"] for s in jobs["test"]["steps"] if "run" in s and "--shard" in s["run"])
    merge = next(s["run"] for s in jobs["gate"]["steps"] if "run" in s and " merge " in s["run"])
    out_name = re.search(r"--out (shard-.*?\.json)", test_run).group(1)
    glob = re.search(r"shards/(\S+\.json)", merge).group(1)
    recipes = workflow()["env"]["RECIPES"].split()
    assert "ruby-3.3.8-fixtures" in recipes
    for mine in recipes:
        for other in recipes:
            written = out_name.replace("${{ matrix.recipe }}", other).replace("${{ matrix.shard }}", "1")
            assert fnmatch.fnmatchcase(written, glob.replace("$id", mine)) == (mine == other), (mine, other)


def test_documented_files_exist() -> None:
    assert all(Path(p).is_file() for p in DOCS)
