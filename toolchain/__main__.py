"""``wasiports`` / ``python -m toolchain``: entry points beside the doit pipeline.

    wasiports run [wasmtime-run options] MODULE ARGS…     run a WASI command module
    wasiports server start|stop|status                   the user's runner server (the launchers'
                                                         fast route; `wasiports run` starts it)
    wasiports test ID [--units U …] [--shard I/N] [--workers N] [--out FILE] [--no-gate]
                                                         run a recipe's test suite (or part of it)
    wasiports merge --out FILE RESULTS.json …            combine shard results into one run
    wasiports report [--previous REPORT.json]            render dist/report/ from the results
    wasiports sdk                                        show which WASI SDK the pipeline uses
    wasiports bench [ID …] [--runs N] [--smoke] [--only PROGRAM …]
                                                         time CPU-bound programs and start-up
    wasiports lint [--no-apply]                          check every patch series
    wasiports bump NAME --to VERSION [--sha256 HEX] [--from VERSION] [--debian-package PKG]
                   [--root DIR]                          start a recipe for a new upstream release
    wasiports gate | bundle | checksums | check-sbom | publish | repro …
                                                         release steps (toolchain/release_cli.py)
    wasiports --version
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from . import __version__
from .errors import RunnerError, WasiportsError

# `wasiports run` is what the packaged launchers start for every guest run, so it imports only
# the runner: the other commands' modules (recipes, doit's tasks, the harness, the release
# steps) are imported by the commands that use them. Measured on the reference machine, a run of
# a guest that does nothing took 343 ms through `wasiports run` while every module was imported
# here, against 98 ms through `python -m toolchain.runner run`.


def _recipe(recipe_id: str):  # noqa: ANN202
    from . import recipe

    for r in recipe.discover():
        if r.id == recipe_id:
            return r
    raise WasiportsError(f"no recipe {recipe_id!r}",
                         hint="known: " + ", ".join(r.id for r in recipe.discover()))


def _parser() -> argparse.ArgumentParser:
    from . import release_cli

    parser = argparse.ArgumentParser(prog="wasiports", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="store_true")
    sub = parser.add_subparsers(dest="command")
    test = sub.add_parser("test", help="run a recipe's test suite")
    test.add_argument("id")
    test.add_argument("--units", nargs="+", default=[])
    test.add_argument("--shard")
    test.add_argument("--workers", type=int)
    test.add_argument("--out", type=Path)
    test.add_argument("--no-gate", action="store_true", help="exit 0 even on regressions")
    merge = sub.add_parser("merge", help="merge shard results")
    merge.add_argument("inputs", nargs="+", type=Path)
    merge.add_argument("--out", type=Path, required=True)
    rep = sub.add_parser("report", help="render the report")
    rep.add_argument("--previous", type=Path)
    sub.add_parser("sdk", help="show the provisioned SDK")
    server = sub.add_parser("server", help="the user's runner server, which the launchers use when it runs")
    server.add_argument("action", choices=("start", "stop", "status"))
    bench = sub.add_parser("bench", help="time bench/programs.toml under the launcher, the wasmtime "
                           "CLI, the native interpreter (and WLR's python)")
    bench.add_argument("ids", nargs="*", help="interpreter recipes (default: every one packaged, variants aside)")
    bench.add_argument("--runs", type=int, default=3, help="timed rounds after the warm-up (default 3)")
    bench.add_argument("--smoke", action="store_true", help="smoke_args sizes, one round (what .ci/run does)")
    bench.add_argument("--only", nargs="+", metavar="PROGRAM", help="these programs only")
    release_cli.add_parsers(sub)
    lint = sub.add_parser("lint", help="check every patch series (names, headers, application)")
    lint.add_argument("--no-apply", action="store_true",
                      help="skip applying each series to its pinned tarball")
    bump = sub.add_parser("bump", help="start a recipe for a new upstream release")
    bump.add_argument("name")
    bump.add_argument("--to", required=True, metavar="VERSION")
    bump.add_argument("--from", dest="from_version", metavar="VERSION")
    bump.add_argument("--sha256", help="the new tarball's sha256, from upstream's announcement")
    bump.add_argument("--debian-package", help="Debian source package carrying the new version")
    bump.add_argument("--root", type=Path, help="write recipes/ and patches/ under DIR instead")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["run"]:
        import os

        from . import runner_cli

        # The launchers come here while no runner server of the user's answers: start one for
        # the next launches (toolchain/runner_server.py, "a user's server"). The variable is
        # runner_server.SERVER_ENV, read by name so that `off` costs no import of that module.
        if os.environ.get("WASIPORTS_SERVER", "") != "off":
            from . import runner_server

            with contextlib.suppress(OSError, RunnerError):
                runner_server.spawn_user_server()
        return runner_cli.main(args)
    opts = _parser().parse_args(args)
    from .harness import Interrupted

    try:
        return _dispatch(opts)
    except WasiportsError as exc:
        print(f"error: {exc.render()}", file=sys.stderr)
        return exc.exit_code
    except Interrupted as exc:  # the running units were killed before this was raised
        print(f"wasiports: {exc}; the running units were stopped", file=sys.stderr)
        return 128 + exc.signum


def _checkout_lock() -> contextlib.AbstractContextManager[object]:
    """The lock doit holds for a whole run (``.doit.lock`` beside ``.doit.db``): ``test`` and
    ``report`` write where doit's ``test`` and ``report`` tasks do, so they take it too. Outside
    a checkout (an installed wheel) there is no doit to exclude."""
    from . import locks, paths

    if not (paths.ROOT / "dodo.py").is_file():
        return contextlib.nullcontext()
    return locks.checkout(wait=False)


def _dispatch(opts: argparse.Namespace) -> int:
    if opts.command in ("test", "report"):
        with _checkout_lock():
            return _dispatch_unlocked(opts)
    return _dispatch_unlocked(opts)


def _dispatch_unlocked(opts: argparse.Namespace) -> int:
    from importlib import metadata

    from . import build, fileio, harness, paths, recipe, release_cli, report, results, testing

    if opts.version:
        print(f"wasiports {__version__} (wasmtime-py {metadata.version('wasmtime')})")
        return 0
    if opts.command == "test":
        r = _recipe(opts.id)
        run = testing.run_tests(r, units=opts.units, workers=opts.workers, out=opts.out,
                                shard=harness.parse_shard(opts.shard) if opts.shard else None)
        if opts.no_gate:
            return 0
        testing.check(r, run)
        return 0
    if opts.command == "merge":
        merged = harness.merge([results.load(p) for p in opts.inputs])
        fileio.write_text(opts.out, results.to_json(merged))
        print(f"merge: {len(merged.units)} units from {len(opts.inputs)} file(s) -> {opts.out}")
        return 0
    if opts.command == "report":
        report.write([r for r in recipe.discover() if r.test.suite], previous=opts.previous)
        return 0
    if opts.command == "lint":
        from . import patchlint

        return patchlint.main(apply=not opts.no_apply)
    if opts.command == "bump":
        from . import bump

        bump.bump(opts.name, opts.to, sha256=opts.sha256, from_version=opts.from_version,
                  debian_package=opts.debian_package, root=opts.root)
        return 0
    if opts.command in release_cli.COMMANDS:
        return release_cli.dispatch(opts)
    if opts.command == "bench":
        from . import bench, dist

        chosen = [_recipe(i) for i in opts.ids] or [
            r for r in recipe.discover()
            if r.kind == "interpreter" and not r.variant and dist.launcher_path(r).is_file()]
        if not chosen:
            raise WasiportsError("no packaged interpreter to bench", hint="doit dist (or scripts/build) first")
        return bench.main(chosen, runs=opts.runs, smoke=opts.smoke, only=opts.only)
    if opts.command == "server":
        return _server(opts.action)
    if opts.command == "sdk":
        try:
            info = build.load_sdk()
        except OSError:
            print(f"no SDK provisioned yet under {paths.BUILD}: run `scripts/build sdk`",
                  file=sys.stderr)
            return 1
        import json

        print(json.dumps(info.to_json(), indent=2))
        return 0
    _parser().print_help()
    return 2


def _server(action: str) -> int:
    from . import runner_server

    where = runner_server.user_dir()
    if action == "start":
        sock = runner_server.start_user_server()
        print(f"runner server: pid {runner_server.user_server_pid()}, socket {sock}")
    elif action == "stop":
        pid = runner_server.stop_user_server()
        print(f"runner server: stopped pid {pid}" if pid else f"runner server: none runs in {where}")
    else:
        pid = runner_server.user_server_pid()
        print(f"runner server: pid {pid}, socket {where / runner_server.SOCKET_NAME}" if pid
              else f"runner server: none runs in {where}")
        return 0 if pid else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
