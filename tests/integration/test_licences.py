"""Each recipe's SPDX licence id (what the SBOM declares) matches the licence file of the source it
was built from: a phrase of that licence's text in the unpacked tree. The tree is this checkout's
build/, or ``$WASIPORTS_RELEASE_BUILD_DIR``; a recipe not unpacked there is skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolchain import paths, recipe

pytestmark = pytest.mark.integration

BUILD_DIR = Path(os.environ.get("WASIPORTS_RELEASE_BUILD_DIR", str(paths.BUILD)))
EVIDENCE = {  # licence id -> (file in the source tree, phrase of that licence)
    "PSF-2.0": ("LICENSE", "PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2"),
    "PHP-3.01": ("LICENSE", "The PHP License, version 3.01"),
    "Ruby OR BSD-2-Clause": ("COPYING", "under either the terms of the\n2-clause BSDL"),
    "Zlib": ("LICENSE", "This software is provided 'as-is'"),
    "bzip2-1.0.6": ("LICENSE", 'This program, "bzip2", the associated library "libbzip2"'),
    # liblzma alone is linked: xz's other parts (the tools, scripts) are GPL/LGPL, not built here
    "0BSD": ("COPYING", "liblzma is under the BSD Zero Clause License (0BSD)"),
    "blessing": ("LICENSE.md", "May you do good and not evil"),
    # libuuid alone is built from util-linux (GPL-2.0-or-later for the rest of the package)
    "BSD-3-Clause": ("libuuid/COPYING", "Modified BSD License"),
    "MIT": (("Copyright", "License"), "Permission is hereby granted, free of charge"),
    "BSD-2-Clause": ("COPYING", "2. Redistributions in binary form"),
}


@pytest.mark.parametrize("r", [r for r in recipe.discover() if not r.variant], ids=lambda r: r.id)
def test_the_licence_id_matches_the_source(r: recipe.Recipe) -> None:
    src = BUILD_DIR / r.id / "src"
    if not src.is_dir():
        pytest.skip(f"{r.id} is not unpacked in {BUILD_DIR}")
    names, phrase = EVIDENCE[r.license]
    files = [src / n for n in ((names,) if isinstance(names, str) else names) if (src / n).is_file()]
    assert files, f"{r.id}: none of {names} in {src}"
    text = " ".join(files[0].read_text(encoding="utf-8", errors="replace").split())
    assert " ".join(phrase.split()) in text, f"{r.id}: {files[0]} does not read as {r.license}"
    if r.license == "BSD-2-Clause":
        assert "3. " not in text, f"{r.id}: a third clause: not BSD-2-Clause"
