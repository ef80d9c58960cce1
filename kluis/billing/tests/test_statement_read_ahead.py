"""The statement reader's second process (kluis.billing.camt_ahead): it hands over
exactly what reading in-process gives, refuses exactly what that refuses, and ends
with the import, however the import ends."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kluis.billing import camt_ahead
from kluis.billing.camt import StatementRefused, read_statement
from kluis.billing.remittance import prepared

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*.xml"))


def _long(tmp_path: Path, times: int) -> Path:
    """The ING corpus file with its entries repeated `times` times."""
    source = (CORPUS / "ing-camt053-001.02.xml").read_text()
    start = source.index("<Ntry>")
    end = source.rindex("</Ntry>") + len("</Ntry>")
    path = tmp_path / "long.xml"
    path.write_text(source[:start] + source[start:end] * times + source[end:])
    return path


def _refusal(read, path: Path) -> str:
    with pytest.raises(StatementRefused) as caught:
        for _item in read(path):
            pass
    return str(caught.value)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_child_hands_over_every_header_and_entry_as_read_in_process(read_in_child, path):
    ahead = list(camt_ahead.read_statement_ahead(path))
    assert ahead == list(prepared(read_statement(path)))
    assert len(ahead) > 1
    assert len(read_in_child) == 1 and read_in_child[0].returncode == 0


def test_a_small_file_is_read_in_process_below_the_threshold(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("no child for a small file")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    path = FILES[0]
    assert path.stat().st_size < camt_ahead.READ_AHEAD_BYTES
    assert list(camt_ahead.read_statement_ahead(path)) == list(prepared(read_statement(path)))


def test_many_frames_arrive_in_order(read_in_child, tmp_path):
    """A file of more entries than two frames hold: every entry, in the file's order."""
    path = _long(tmp_path, 400)
    ahead = list(camt_ahead.read_statement_ahead(path))
    assert len(ahead) > camt_ahead.FRAME_ITEMS * 2
    assert ahead == list(prepared(read_statement(path)))


def _broken(tmp_path: Path, how: str) -> Path:
    source = (CORPUS / "rabobank-camt053-001.02.xml").read_text()
    if how == "truncated":
        text = source[: len(source) * 2 // 3]
    elif how == "schema":
        # An entry without its amount, well past the first entries.
        last = source.rindex("<Ntry>")
        amount_start = source.index("<Amt", last)
        amount_end = source.index("</Amt>", amount_start) + len("</Amt>")
        text = source[:amount_start] + source[amount_end:]
    elif how == "doctype":
        text = source.replace("?>", '?>\n<!DOCTYPE x [<!ENTITY e "x">]>', 1)
    else:
        text = "<Document>not a statement</Document>"
    path = tmp_path / f"{how}.xml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("how", ["truncated", "schema", "doctype", "foreign"])
def test_a_refusal_in_the_child_is_the_same_refusal(read_in_child, tmp_path, how):
    path = _broken(tmp_path, how)
    in_process = _refusal(read_statement, path)
    assert _refusal(camt_ahead.read_statement_ahead, path) == in_process
    assert "/" not in in_process and "Traceback" not in in_process
    assert all(child.returncode is not None for child in read_in_child)


def test_the_child_ends_when_the_import_stops_reading(read_in_child, tmp_path):
    path = _long(tmp_path, 2000)
    reading = camt_ahead.read_statement_ahead(path)
    next(reading)
    assert read_in_child[0].poll() is None or read_in_child[0].returncode == 0
    reading.close()  # what an exception in the import does to the generator
    assert read_in_child[0].returncode is not None


def test_a_fault_of_the_reading_process_is_not_passed_off_as_a_refusal(read_in_child, tmp_path):
    """A directory where a file should be fails in the child with an OSError: a fault,
    raised as ReaderFailed with the child's traceback, not a message about the file."""
    folder = tmp_path / "folder.xml"
    folder.mkdir()
    with pytest.raises(camt_ahead.ReaderFailed, match="IsADirectoryError"):
        list(camt_ahead._from_child(folder))
    assert read_in_child[0].returncode is not None


def test_the_pipe_holds_two_batches_so_reading_and_writing_overlap():
    """With the kernel's 64 KiB the child could read one frame ahead and then waited
    for each batch of the import to end."""
    import fcntl

    limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    if limit < camt_ahead.PIPE_BYTES:
        pytest.skip(f"this system lets a pipe hold at most {limit} bytes")
    reader, writer = os.pipe()
    try:
        with os.fdopen(reader, "rb", closefd=False) as pipe:
            camt_ahead._widen(pipe)
        assert fcntl.fcntl(reader, fcntl.F_GETPIPE_SZ) >= camt_ahead.PIPE_BYTES
    finally:
        os.close(reader)
        os.close(writer)


def test_a_reader_killed_from_outside_fails_the_import_instead_of_ending_it_short(
    read_in_child, tmp_path
):
    """The frames already in the pipe are handed over; then the pipe closes without
    its last frame, which is a failure, never the end of the file."""
    import signal

    path = _long(tmp_path, 4000)
    reading = camt_ahead.read_statement_ahead(path)
    next(reading)
    read_in_child[0].send_signal(signal.SIGKILL)
    with pytest.raises(camt_ahead.ReaderFailed, match=r"stopped \(exit -9\)"):
        for _item in reading:
            pass
    assert read_in_child[0].returncode == -signal.SIGKILL
