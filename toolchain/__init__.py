"""wasiports: build language interpreters for wasm32-wasi from pinned upstream sources."""

__version__ = "0.1.0"
