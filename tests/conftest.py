"""Test layout: tests/unit is fast and sealed (no network beyond loopback, no subprocess);
tests/integration does real builds and runs and is marked ``integration``."""

from __future__ import annotations

import pathlib

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in pathlib.Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.integration)
