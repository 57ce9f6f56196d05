"""Start-up time of a packaged interpreter through the runner: cold (no compiled-module cache) and
warm (cached). Prints figures; asserts nothing.

    .venv/bin/python bench/startup.py [dist/python-3.13.5-wasi] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("artifact", nargs="?", default=str(ROOT / "dist" / "python-3.13.5-wasi"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--args", default="-c pass")
    opts = parser.parse_args()
    artifact = Path(opts.artifact)
    launcher = artifact / artifact.name.split("-")[0]
    argv = [str(launcher), *opts.args.split()]
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "WASIPORTS_CACHE": cache}
        cold = timed(argv, env)
        warm = [timed(argv, env) for _ in range(opts.runs)]
    module = next(artifact.glob("*.wasm"))
    print(f"module: {module} ({module.stat().st_size:,} bytes)")
    print(f"command: {' '.join(argv)}")
    print(f"cold (compile + run): {cold:.2f} s")
    print(f"warm (cached module): median {statistics.median(warm):.3f} s, "
          f"min {min(warm):.3f} s over {opts.runs} runs")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
