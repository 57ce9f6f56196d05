"""``doit export:<id>``: the patch series as one mbox for ``git am`` on the upstream repository.

``dist/upstream/<id>.mbox`` holds the patches in order, each as its file has it, less two things
that are ours and not upstream's:

- patches marked ``Upstream-Status: Inappropriate [reason]`` (not meant for upstream) are left
  out, and the summary says so;
- the ``Upstream-Status:`` line itself, which is our bookkeeping, is dropped from each message.

``dist/upstream/<id>.txt`` (also printed) says for each patch its status, the files it touches,
and whether it applies, in the exported order, to the pinned tarball (:mod:`patchtrial`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from . import build, fileio, patchfile, patchtrial, paths
from .recipe import Recipe
from .validation import display


def mbox_path(recipe: Recipe) -> Path:
    return paths.DIST / "upstream" / f"{recipe.id}.mbox"


def summary_path(recipe: Recipe) -> Path:
    return mbox_path(recipe).with_suffix(".txt")


def for_recipe(recipe: Recipe) -> list[str]:
    """Export the series of ``recipe``, tried on its pinned tarball; the summary lines."""
    with tempfile.TemporaryDirectory(prefix=f"wasiports-export-{recipe.id}-") as tmp:
        tree = build.unpack_pristine(recipe, Path(tmp) / "src")
        return export(recipe.patches(), mbox_path(recipe), tree, against=recipe.source.archive)


def upstream_copy(parsed: patchfile.PatchFile) -> bytes:
    """The patch as upstream gets it: without our ``Upstream-Status:`` line."""
    drop = {n for n, _ in parsed.status()}
    lines = [t for n, t in enumerate(parsed.lines, start=1) if n not in drop]
    text = "\n".join(lines)
    return patchfile.encode(text if text.endswith("\n") else text + "\n")


def export(series: list[Path], mbox: Path, tree: Path, *, against: str) -> list[str]:
    """Write ``mbox`` (and its summary beside it) from ``series``, tried on ``tree``."""
    parsed = [patchfile.read(p) for p in series]
    kept = [p for p in parsed if not p.inappropriate()]
    trials = {t.patch: t for t in patchtrial.try_series([p.path for p in kept], tree)}
    fileio.write_bytes(mbox, b"".join(upstream_copy(p) for p in kept))
    lines = [f"export: {display(mbox)}: {len(kept)} patch(es) for git am, "
             f"{len(parsed) - len(kept)} left out (Inappropriate)"]
    for p in parsed:
        status = ", ".join(v for _, v in p.status()) or "(none)"
        lines.append(f"  {p.path.name}")
        lines.append(f"      status:  {status}")
        lines.append(f"      files:   {', '.join(p.touched()) or '(none)'}")
        if p.inappropriate():
            lines.append("      export:  left out (not for upstream)")
            continue
        trial = trials[p.path]
        lines.append(f"      pinned:  {trial.outcome} to {against}")
        lines += [f"               {f.file}: {f.detail}" for f in trial.findings]
    fileio.write_text(mbox.with_suffix(".txt"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return lines
