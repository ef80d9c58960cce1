"""Reading a large CAMT.053 file in a second process, ahead of its import.

An import spends about a quarter of its time parsing and schema-checking the file
(lxml's iterparse, which holds the GIL, so a thread would not help) and the rest
matching and writing payments. For a file of READ_AHEAD_BYTES or more,
`read_statement_ahead` runs `read_statement` in a child process (this module, run
with `python -m`) and hands its headers and entries over a pipe, each entry with what
kluis.billing.remittance works out of it without a database (its fingerprint, the
kenmerken and invoice numbers it names), so the file is read on one core while the
database work goes on on the other. Smaller files are read in
the importing process, as before: the child's start-up (~0.1 s) would cost more than
it saves.

Everything the file is checked for is still checked, in the child: the schema, the
rules of `read_statement`, the end of the root element. Its refusal arrives as the
same StatementRefused, after the entries before it (which the import's transaction
then undoes, as it would undo them in-process). The child gets the file's path and
the schema directory on its command line, no settings and no database: it never
writes anything. When the import stops early (a refusal, an error, a killed worker)
the pipe closes and the child ends: it is terminated by the parent, or its next write
fails.

Frames on the child's stdout: 8 bytes of length (big-endian), then a pickle of
("items", [header or entry, ...]), and last ("end", None), ("refused", message,
params) or ("error", traceback text). Only this trusted child writes the pipe.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Generator
from pathlib import Path
from typing import IO, Any

from kluis.billing.camt import StatementHeader, StatementRefused, read_statement, schema_dir
from kluis.billing.remittance import Prepared, prepared

# Files from this size on are read in a child process (a 100,000-entry statement is
# 50-60 MiB; 2 MiB is a few thousand entries).
READ_AHEAD_BYTES = 2 * 2**20
# Items per frame: few enough to start the import soon, enough to keep pickle's
# per-call cost small.
FRAME_ITEMS = 500
_LENGTH = 8
# What the pipe holds (Linux's limit for an unprivileged process, /proc/sys/fs/
# pipe-max-size, is 1 MiB by default): about 8 frames, two batches of the import.
PIPE_BYTES = 2**20


class ReaderFailed(RuntimeError):
    """The reading process failed for a reason other than the file (a fault of kluis)."""


def read_statement_ahead(path: Path) -> Generator[StatementHeader | Prepared, None, None]:
    """`read_statement(path)`, from a child process for a large file."""
    if path.stat().st_size < READ_AHEAD_BYTES:
        yield from prepared(read_statement(path))
        return
    yield from _from_child(path)


def _from_child(path: Path) -> Generator[StatementHeader | Prepared, None, None]:
    # The directory kluis is imported from, first on the child's path, whatever the
    # working directory of the importing process.
    root = str(Path(__file__).resolve().parents[2])
    path_now = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": root + (os.pathsep + path_now if path_now else "")}
    # The child's stderr goes to a file, not a pipe: a pipe nobody reads while the
    # frames come could fill up and stop the child mid-write.
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    child = subprocess.Popen(  # noqa: S603 - this interpreter, this module, our own file
        [sys.executable, "-m", "kluis.billing.camt_ahead", os.fspath(path), str(schema_dir())],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=errors,
        close_fds=True,
    )
    assert child.stdout is not None
    _widen(child.stdout)
    finished = False  # the child sent its last frame and is ending by itself
    try:
        while (frame := _read_frame(child.stdout)) is not None:
            kind = frame[0]
            if kind == "items":
                yield from frame[1]
                continue
            finished = True
            if kind == "refused":
                raise StatementRefused(frame[1], **frame[2])
            if kind == "error":
                raise ReaderFailed(f"the statement reader failed:\n{frame[1]}")
            return
        # The pipe closed without a last frame: the child died.
        child.wait()
        errors.seek(0)
        raise ReaderFailed(
            f"the statement reader stopped (exit {child.returncode}): "
            + errors.read().decode(errors="replace")[-2000:]
        )
    finally:
        if finished:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        else:
            # The import stopped reading (a refusal of its own, an error, a closed
            # generator): the child has nothing more to do.
            child.kill()
        child.stdout.close()
        child.wait()
        errors.close()


def _widen(pipe: IO[bytes]) -> None:
    """Let the pipe hold PIPE_BYTES, so the child reads on while the import writes a
    batch: with the kernel's 64 KiB (one frame) it waited for every batch to end, and
    reading and writing took turns instead of running side by side."""
    with contextlib.suppress(OSError, AttributeError):  # a lower limit; not on Linux
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _read_frame(stream: IO[bytes]) -> tuple[Any, ...] | None:
    head = stream.read(_LENGTH)
    if len(head) < _LENGTH:
        return None
    size = int.from_bytes(head, "big")
    body = stream.read(size)
    if len(body) < size:
        return None
    frame: tuple[Any, ...] = pickle.loads(body)  # noqa: S301 - our own child's frames
    return frame


def _write_frame(stream: IO[bytes], frame: tuple[Any, ...]) -> None:
    body = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(body).to_bytes(_LENGTH, "big"))
    stream.write(body)


def _child(path: Path, schemas: Path) -> int:
    out = sys.stdout.buffer
    try:
        _send(out, path, schemas)
    except BrokenPipeError:
        return 1  # the import stopped: nobody reads any more
    except StatementRefused as refused:
        _write_frame(out, ("refused", refused.message, refused.params))
    except Exception:  # handed to the parent, which raises it as ReaderFailed
        _write_frame(out, ("error", traceback.format_exc()))
    out.flush()
    return 0


def _send(out: IO[bytes], path: Path, schemas: Path) -> None:
    batch: list[StatementHeader | Prepared] = []
    for item in prepared(read_statement(path, schemas)):
        batch.append(item)
        if len(batch) >= FRAME_ITEMS:
            _write_frame(out, ("items", batch))
            batch = []
    if batch:
        _write_frame(out, ("items", batch))
    _write_frame(out, ("end", None))


if __name__ == "__main__":
    sys.exit(_child(Path(sys.argv[1]), Path(sys.argv[2])))
