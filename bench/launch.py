"""Cost of one launch of a packaged interpreter, as a test driver pays it: through the launcher
alone (a Python start-up and the runner's imports per launch), and through the launcher with a
runner server (a fork of a process that has wasmtime loaded). Prints figures; asserts nothing.

    .venv/bin/python bench/launch.py [dist/php-8.2.32-wasi] [--runs 20] [-- ARGS...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolchain import runner_server  # noqa: E402


def launches(launcher: Path, args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(launcher), *args], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def show(label: str, times: list[float]) -> None:
    print(f"{label:<28} median {statistics.median(times) * 1000:6.1f} ms   "
          f"min {min(times) * 1000:6.1f} ms   max {max(times) * 1000:6.1f} ms   ({len(times)} runs)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("artifact", nargs="?", default=str(ROOT / "dist" / "php-8.2.32-wasi"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("args", nargs="*", default=["-n", "-r", ";"])
    opts = parser.parse_args()
    artifact = Path(opts.artifact)
    launcher = artifact / artifact.name.split("-")[0]
    os.environ.pop(runner_server.ENV, None)
    os.environ.setdefault(runner_server.PYTHON_ENV, runner_server.runner_python())  # our runner
    launches(launcher, opts.args, 2)  # the compiled module is cached by the first launch
    print(f"{launcher} {' '.join(opts.args)}")
    show("launcher, no server", launches(launcher, opts.args, opts.runs))
    with runner_server.serving():
        launches(launcher, opts.args, 2)
        show("launcher + runner server", launches(launcher, opts.args, opts.runs))


if __name__ == "__main__":
    main()
