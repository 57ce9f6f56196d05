"""The SDK's pinned helper tools (sdk.toml [tools])."""

from __future__ import annotations

import pytest

from toolchain import sdk
from toolchain.errors import SdkError


def test_the_pin_is_declared_with_its_reason() -> None:
    tool = sdk.load_data()["tools"]["wasm-opt"]
    assert tool["package"] == "binaryen" and tool["version"] == "132.0.0"
    assert "exnref" in tool["why"]


def test_a_missing_tool_names_the_pin_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sdk, "load_data", lambda: {"tools": {"wasm-opt": {
        "package": "binaryen", "version": "132.0.0", "bin": "node_modules/.bin/no-such-tool",
        "version_output": "wasm-opt version 132", "why": "test"}}})
    with pytest.raises(SdkError, match=r"tool wasm-opt \(binaryen@132.0.0\) is not installed") as info:
        sdk.provision_tools()
    assert "npm ci" in str(info.value.hint)
