"""Zip files of bank statements, as banks offer them for download, opened with limits.

A zip is opened with the standard `zipfile` module and refused before anything is
imported when it has more than ZIP_MAX_MEMBERS files, would expand to more than
ZIP_MAX_BYTES, or has a member that expands more than ZIP_MAX_RATIO times its
compressed size. The sizes a zip declares can lie, so the bytes are counted again
while each member is copied out, and the copy stops at the first byte over a limit.
Members are written under names of our own (never the names in the zip), in the
order of their names in the zip.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from kluis.billing.camt import StatementRefused

ZIP_MAX_MEMBERS = 100
# A day's statement of 100,000 entries is some 60 MiB: room for several of them.
ZIP_MAX_BYTES = 512 * 1024 * 1024
# XML compresses well (a statement some 10 to 30 times); a bomb far more.
ZIP_MAX_RATIO = 200
_CHUNK = 1 << 16


def is_zip(path: Path) -> bool:
    with path.open("rb") as source:
        return source.read(4) in (b"PK\x03\x04", b"PK\x05\x06")


def _too_large() -> StatementRefused:
    return StatementRefused(
        _(
            "het zipbestand pakt uit tot meer dan %(limit)s MB; "
            "pak het zelf uit en lees de afschriften apart in"
        ),
        limit=ZIP_MAX_BYTES // (1024 * 1024),
    )


def _bomb(name: str) -> StatementRefused:
    return StatementRefused(
        _("het bestand %(name)s in het zipbestand is verdacht sterk ingepakt; niets ingelezen"),
        name=name[:80],
    )


def statement_files(path: Path, workdir: Path) -> list[Path]:
    """The statement files of an upload: the file itself, or each file in its zip."""
    if not is_zip(path):
        return [path]
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise StatementRefused(_("het zipbestand is beschadigd")) from None
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if not members:
            raise StatementRefused(_("het zipbestand bevat geen bestanden"))
        if len(members) > ZIP_MAX_MEMBERS:
            raise StatementRefused(
                _("het zipbestand bevat %(count)s bestanden; hooguit %(limit)s worden ingelezen"),
                count=len(members),
                limit=ZIP_MAX_MEMBERS,
            )
        if sum(info.file_size for info in members) > ZIP_MAX_BYTES:
            raise _too_large()
        for info in members:
            if info.flag_bits & 0x1:
                raise StatementRefused(
                    _("het bestand %(name)s in het zipbestand is versleuteld"),
                    name=info.filename[:80],
                )
            if info.file_size > ZIP_MAX_RATIO * max(info.compress_size, 1):
                raise _bomb(info.filename)
        files: list[Path] = []
        total = 0
        for number, info in enumerate(sorted(members, key=lambda i: i.filename)):
            target = workdir / f"member-{number:04d}.xml"
            limit = min(info.file_size, ZIP_MAX_RATIO * max(info.compress_size, 1))
            written = 0
            try:
                with archive.open(info) as source, target.open("wb") as out:
                    while chunk := source.read(_CHUNK):
                        written += len(chunk)
                        total += len(chunk)
                        if total > ZIP_MAX_BYTES:
                            raise _too_large()
                        if written > limit:
                            raise _bomb(info.filename)
                        out.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError):
                raise StatementRefused(
                    _("het bestand %(name)s in het zipbestand is beschadigd"),
                    name=info.filename[:80],
                ) from None
            files.append(target)
        return files
