"""Host packages: nothing happens when all are installed; without root, the error names what is
missing and the command that installs it (dpkg-query itself is not run here: no subprocess)."""

from __future__ import annotations

import pytest

from toolchain import hostpkgs
from toolchain.errors import SdkError


def test_nothing_is_installed_when_nothing_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostpkgs, "missing", lambda packages, log=None: [])
    assert hostpkgs.ensure(["zlib1g-dev"], "a native build", euid=1000) == []


def test_without_root_the_error_names_the_missing_packages_and_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostpkgs, "missing", lambda packages, log=None: [p for p in packages if p != "gcc"])
    with pytest.raises(SdkError) as caught:
        hostpkgs.ensure(["gcc", "clang-19", "libonig-dev"], "the native build of php-8.2.32", error=SdkError, euid=1000)
    text = str(caught.value)
    assert "the native build of php-8.2.32" in text and "missing: clang-19, libonig-dev" in text
    assert "apt-get install -y clang-19 libonig-dev" in text and "gcc" not in text.split("missing:")[1]
