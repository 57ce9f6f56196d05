"""refresh's rewriting of format-patch output (no git here: tests/integration runs the loop)."""

from __future__ import annotations

from pathlib import Path

from toolchain import export, patchfile, refresh

FIXTURES = Path(__file__).parent.parent / "fixtures" / "patchloop" / "series"
PLATFORM = FIXTURES / "0003-platform-no-fork-on-WASI.patch"
STATUS_LINE = "Upstream-Status: Pending\n"


def test_a_status_is_added_before_the_sign_off_with_a_warning() -> None:
    original = PLATFORM.read_text()
    without = original.replace(STATUS_LINE, "")
    text, warnings = refresh.with_status(without, "0003-x.patch")
    assert text == original
    assert warnings == ["0003-x.patch: no Upstream-Status: line in the commit message; wrote "
                        "'Upstream-Status: Pending' (say it in the commit: git commit --amend)"]


def test_a_status_is_its_own_paragraph_when_the_message_has_no_trailers() -> None:
    original = PLATFORM.read_text()
    bare = original.replace(  # as git format-patch writes a message without trailers
        "\n" + STATUS_LINE + "Signed-off-by: Toy Contributor <toy@example.invalid>\n", "")
    text, warnings = refresh.with_status(bare, "0003-x.patch")
    assert "instead of promising a fork() that wasi-libc does not have.\n\n" \
           "Upstream-Status: Pending\n---\n" in text
    assert warnings[0] == "0003-x.patch: no Signed-off-by: line (add yours: git commit --amend -s)"
    assert len(warnings) == 2


def test_a_stated_status_is_left_alone() -> None:
    original = PLATFORM.read_text()
    assert refresh.with_status(original, "0003-x.patch") == (original, [])


def test_a_file_keeps_its_name_while_number_and_subject_stay(tmp_path: Path) -> None:
    hand_named = tmp_path / "0003-platform-fork.patch"
    hand_named.write_bytes(PLATFORM.read_bytes())
    existing = {"0003": hand_named}
    text = PLATFORM.read_text()
    assert refresh._name("0003-platform-no-fork-on-WASI.patch", text, existing) == hand_named.name
    other = text.replace("Subject: [PATCH] platform: no fork on WASI",
                         "Subject: [PATCH] platform: fork nowhere")
    assert refresh._name("0003-platform-fork-nowhere.patch", other, existing) == \
        "0003-platform-fork-nowhere.patch"
    assert refresh._name("0004-new.patch", text, existing) == "0004-new.patch"


def test_differences_name_new_updated_and_removed_files(tmp_path: Path) -> None:
    (tmp_path / "0001-a.patch").write_bytes(b"same")
    (tmp_path / "0002-b.patch").write_bytes(b"old")
    (tmp_path / "0003-gone.patch").write_bytes(b"x")
    rendered = [refresh.Rendered("0001-a.patch", b"same", ()),
                refresh.Rendered("0002-b.patch", b"new", ()),
                refresh.Rendered("0004-c.patch", b"c", ())]
    assert refresh.differences(rendered, tmp_path) == [
        "updated  0002-b.patch", "new      0004-c.patch", "removed  0003-gone.patch"]


def test_the_exported_copy_has_no_status_line() -> None:
    parsed = patchfile.read(PLATFORM)
    copy = export.upstream_copy(parsed).decode()
    assert "Upstream-Status" not in copy
    assert copy == PLATFORM.read_text().replace(STATUS_LINE, "")


def test_subjects_are_unfolded_and_without_the_patch_prefix() -> None:
    text = PLATFORM.read_text().replace("Subject: [PATCH] platform: no fork on WASI",
                                        "Subject: [PATCH] platform: no fork on WASI, a subject\n"
                                        " folded onto two lines")
    assert patchfile.parse(text, PLATFORM).subject == \
        "platform: no fork on WASI, a subject folded onto two lines"
