"""Reading the JUnit XML files suites write (regrtest's --junit-xml, run-tests.php's
TEST_PHP_JUNIT): the ``<testcase>`` elements and their times. Each adapter maps the children."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..capture import read_guest_file


def testcases(path: Path) -> list[ET.Element]:
    """The ``<testcase>`` elements of ``path``; none when it is missing or cut short.

    The file may be the guest's work (regrtest writes its own), so it is read without following
    a symlink and only if it is a regular file (:func:`toolchain.capture.read_guest_file`)."""
    data = read_guest_file(path)
    if data is None:
        return []
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return []
    return list(root.iter("testcase"))


def seconds(case: ET.Element) -> float:
    """The case's ``time`` attribute; 0 when absent or not a number."""
    try:
        return float(case.get("time", "0") or 0)
    except ValueError:
        return 0.0
