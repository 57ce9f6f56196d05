"""The release subcommands of ``wasiports`` (``toolchain/__main__.py`` hands them over here)::

    wasiports gate ID RESULTS.json                 gate a (merged) run on the recipe's expectations
    wasiports bundle ID --out FILE.tar.gz          what `wasiports test ID` needs on another machine
    wasiports checksums [--dist DIR] [--verify]    write (or check) DIR/SHA256SUMS
    wasiports check-sbom FILE.spdx.json …          parse and validate SBOMs with spdx-tools
    wasiports publish --oci REGISTRY/REPO [ID …]   push packaged artifacts as OCI artifacts

Each is a command of docs/releasing.md and of the CI workflow (.github/workflows/wasiports.yml).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import paths
from .errors import WasiportsError

COMMANDS = ("gate", "bundle", "checksums", "check-sbom", "publish", "repro")


def add_parsers(sub: Any) -> None:
    """Add the release subcommands to ``wasiports``' subparsers."""
    gate = sub.add_parser("gate", help="gate a (merged) results file on the recipe's expectations")
    gate.add_argument("id")
    gate.add_argument("results", type=Path)
    bundle = sub.add_parser("bundle", help="pack what `wasiports test ID` needs on another machine")
    bundle.add_argument("id")
    bundle.add_argument("--out", type=Path, required=True)
    sums = sub.add_parser("checksums", help="write DIST/SHA256SUMS over the tarballs and SBOMs")
    sums.add_argument("--dist", type=Path, help="default: dist/ (or $WASIPORTS_DIST_DIR)")
    sums.add_argument("--verify", action="store_true", help="check SHA256SUMS instead of writing it")
    check = sub.add_parser("check-sbom", help="parse and validate SPDX documents with spdx-tools")
    check.add_argument("files", nargs="+", type=Path)
    pub = sub.add_parser("publish", help="push packaged artifacts to an OCI registry")
    pub.add_argument("--oci", required=True, metavar="REGISTRY/REPO")
    pub.add_argument("ids", nargs="*", help="recipe ids; default: every packaged interpreter")
    repro = sub.add_parser("repro", help="build recipes again in a second directory and compare the bytes")
    repro.add_argument("ids", nargs="+", metavar="ID", help="recipe ids (libraries or interpreters)")


def _recipe(recipe_id: str) -> Any:
    from . import recipe

    found = {r.id: r for r in recipe.discover()}
    if recipe_id not in found:
        raise WasiportsError(f"no recipe {recipe_id!r}", hint="known: " + ", ".join(sorted(found)))
    return found[recipe_id]


def check_sbom(files: list[Path]) -> int:
    """Parse each file with spdx-tools and run its validator; print every problem."""
    from spdx_tools.spdx.parser.error import SPDXParsingError
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    bad = 0
    for path in files:
        try:
            messages = [m.validation_message for m in validate_full_spdx_document(parse_file(str(path)))]
        except SPDXParsingError as exc:
            messages = [str(m) for m in exc.get_messages()]
        except (OSError, ValueError) as exc:
            messages = [str(exc)]
        print(f"check-sbom: {path}: " + ("valid SPDX 2.3" if not messages else "INVALID"))
        for message in messages:
            print(f"  {message}")
        bad += bool(messages)
    return 1 if bad else 0


def _publish(target: str, ids: list[str]) -> int:
    from . import dist, publish, recipe

    chosen = [_recipe(i) for i in ids] if ids else \
        [r for r in recipe.discover() if r.kind == "interpreter" and r.release and dist.manifest_path(r).is_file()]
    if not chosen:
        raise WasiportsError("nothing to publish", why=f"no packaged artifact under {paths.DIST}",
                             hint="run `scripts/build dist` first, or name the recipe ids")
    for r in chosen:
        publish.push(publish.plan(r, target))
    return 0


def dispatch(opts: argparse.Namespace) -> int:
    """Run one release subcommand (``opts.command`` is one of :data:`COMMANDS`)."""
    if opts.command == "gate":
        from . import results, testing

        testing.check(_recipe(opts.id), results.load(opts.results))
        return 0
    if opts.command == "bundle":
        from . import bundle

        bundle.write(_recipe(opts.id), opts.out)
        return 0
    if opts.command == "checksums":
        from . import checksums

        dist_dir = opts.dist or paths.DIST
        if not opts.verify:
            checksums.write(dist_dir)
            return 0
        problems = checksums.verify(dist_dir / checksums.NAME)
        print("\n".join(problems) or f"checksums: {dist_dir / checksums.NAME}: every file matches")
        return 1 if problems else 0
    if opts.command == "check-sbom":
        return check_sbom(opts.files)
    if opts.command == "repro":
        from . import repro

        return repro.main([_recipe(i) for i in opts.ids])
    return _publish(opts.oci, opts.ids)
