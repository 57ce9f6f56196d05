"""The SDK's pinned helper tools (sdk.toml [tools])."""

from __future__ import annotations

import pytest

from toolchain import sdk, sdk_model
from toolchain.errors import SdkError


def test_the_pin_is_declared_with_its_reason() -> None:
    tool = sdk.load_data().tools["wasm-opt"]
    assert tool.package == "binaryen" and tool.version == "132.0.0"
    assert "exnref" in tool.why


def test_a_missing_tool_names_the_pin_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    real = sdk.load_data()
    missing = sdk_model.Tool(package="binaryen", version="132.0.0", bin="node_modules/.bin/no-such-tool",
                             version_output="wasm-opt version 132", why="test")
    monkeypatch.setattr(sdk, "load_data", lambda: real.model_copy(update={"tools": {"wasm-opt": missing}}))
    with pytest.raises(SdkError, match=r"tool wasm-opt \(binaryen@132.0.0\) is not installed") as info:
        sdk.provision_tools()
    assert "npm ci" in str(info.value.hint)


def test_sdk_toml_is_validated_naming_the_key(tmp_path) -> None:
    from toolchain.errors import RecipeError

    bad = tmp_path / "sdk.toml"
    text = sdk_model.SDK_DATA.read_text().replace('target = "wasm32-wasi"', 'targte = "wasm32-wasi"')
    bad.write_text(text)
    with pytest.raises(RecipeError) as info:
        sdk_model.load(str(bad))
    message = str(info.value)
    assert "debian.targte: unknown key (did you mean 'target'?)" in message
    assert "debian.target: missing" in message
