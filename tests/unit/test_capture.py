"""toolchain.capture: a unit's output is bounded, and files a guest wrote are read without links."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from toolchain.capture import BoundedCapture, cut_marker, read_guest_file
from toolchain.suites import junit


def _feed(capture: BoundedCapture, chunks: list[bytes]) -> None:
    """Write ``chunks`` into the capture's pipe from a thread, as a child process would."""
    fd = os.dup(capture.write_fd)
    capture.started()

    def writer() -> None:
        with os.fdopen(fd, "wb") as pipe:
            for chunk in chunks:
                pipe.write(chunk)

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join()


def test_small_output_is_kept_whole(tmp_path: Path) -> None:
    capture = BoundedCapture(tmp_path / "a.log", head=100, tail=100)
    _feed(capture, [b"hello\n", b"world\n"])
    text, cut = capture.finish()
    assert (text, cut) == ("hello\nworld\n", 0)
    assert (tmp_path / "a.log").read_bytes() == b"hello\nworld\n"


def test_a_flood_keeps_head_and_tail_and_counts_what_it_dropped(tmp_path: Path) -> None:
    capture = BoundedCapture(tmp_path / "a.log", head=1000, tail=2000)
    body = [b"H" * 1000] + [b"." * 65536] * 160 + [b"T" * 1999 + b"\n"]  # ~10 MB
    _feed(capture, body)
    text, cut = capture.finish()
    total = sum(map(len, body))
    assert cut == total - 3000
    assert text.startswith("H" * 1000 + cut_marker(cut))
    assert text.endswith("T" * 1999 + "\n")
    log = (tmp_path / "a.log").read_bytes()
    assert len(log) == 3000 + len(cut_marker(cut).encode())  # bounded on disk too
    assert log.decode() == text


def test_the_log_is_not_written_through_a_planted_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "a.log").symlink_to(victim)
    try:
        BoundedCapture(tmp_path / "a.log")
    except OSError:
        pass
    assert victim.read_text() == "precious"


def test_guest_files_are_read_only_when_regular(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("host secret")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "plain.xml").write_text("<x/>")
    (scratch / "link.xml").symlink_to(secret)
    os.mkfifo(scratch / "fifo.xml")  # opening it for reading would block forever
    assert read_guest_file(scratch / "plain.xml") == b"<x/>"
    assert read_guest_file(scratch / "link.xml") is None
    assert read_guest_file(scratch / "fifo.xml") is None
    assert read_guest_file(scratch / "missing.xml") is None
    assert read_guest_file(scratch / "plain.xml", limit=2) == b"<x"


def test_a_junit_file_replaced_by_a_symlink_yields_no_cases(tmp_path: Path) -> None:
    outside = tmp_path / "outside.xml"
    outside.write_text('<testsuite><testcase name="stolen"/></testsuite>')
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "junit.xml").symlink_to(outside)
    assert junit.testcases(scratch / "junit.xml") == []
    (scratch / "junit.xml").unlink()
    (scratch / "junit.xml").write_text('<testsuite><testcase name="real"/></testsuite>')
    assert [c.get("name") for c in junit.testcases(scratch / "junit.xml")] == ["real"]
