"""Write a relabelled ``_sysconfigdata`` file again the way CPython's sysconfig writes it, so
that its line breaks follow its own text.

CPython 3.11 writes the file with ``pprint``, which wraps long values at a width measured on the
build machine's paths; ``build.relabel`` then shortens those paths, and the line breaks stay where
the old lengths put them, so two build directories gave different bytes (seen by `wasiports repro
python-3.11.2`). Loading the values and printing them again makes the file depend on the values
only. (3.13 writes one key per line; the result is the same kind of file.)

Usage, by the recipe's build-python (the same version): python resave-sysconfigdata.py FILE
"""
import pprint
import runpy
import sys

path = sys.argv[1]
build_time_vars = runpy.run_path(path)["build_time_vars"]
with open(path, "w", encoding="utf8") as f:
    f.write("# system configuration generated and used by the sysconfig module\n")
    f.write("build_time_vars = ")
    pprint.pprint(build_time_vars, stream=f)
