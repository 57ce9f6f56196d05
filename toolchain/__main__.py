"""``wasiports`` / ``python -m toolchain``: small entry points beside the doit pipeline.

    wasiports run [wasmtime-run options] MODULE ARGS…   run a WASI command module
    wasiports sdk                                      show which WASI SDK the pipeline uses
    wasiports --version
"""

from __future__ import annotations

import json
import sys
from importlib import metadata

from . import __version__, build, runner
from .errors import WasiportsError


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    if args[0] == "--version":
        print(f"wasiports {__version__} (wasmtime-py {metadata.version('wasmtime')})")
        return 0
    if args[0] == "run":
        return runner.main(args)
    if args[0] == "sdk":
        try:
            info = build.load_sdk()
        except OSError:
            print("no SDK provisioned yet: run `scripts/build sdk`", file=sys.stderr)
            return 1
        print(json.dumps(info.to_json(), indent=2))
        return 0
    try:
        raise WasiportsError(f"unknown command {args[0]!r}", hint="wasiports --help")
    except WasiportsError as exc:
        print(f"error: {exc.render()}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
