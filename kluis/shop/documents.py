"""The versioned documents a customer accepts: agreement, processor agreement, notice.

Each version is a plain text file `documents/<kind>/<version>.<language>.txt`. The
text is fixed: the order's details go in a header that the PDF draws apart from it,
so what a customer typed never becomes part of a template. The newest version of a
kind is the one the next order gets; a new file is a new version.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "documents"
KINDS = ("agreement", "processor_agreement", "whois_notice")
LANGUAGES = ("nl", "en")


class UnknownDocument(LookupError):
    pass


@dataclass(frozen=True)
class DocumentText:
    kind: str
    version: str
    language: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def title(self) -> str:
        return self.text.splitlines()[0]

    @property
    def body(self) -> str:
        """The text after its title and version lines."""
        return "\n".join(self.text.splitlines()[2:]).strip()


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def versions(kind: str) -> tuple[str, ...]:
    """Every version of `kind`, oldest first; each exists in every language."""
    return _versions(kind, ROOT)


@functools.cache
def _versions(kind: str, root: Path) -> tuple[str, ...]:
    if kind not in KINDS:
        raise UnknownDocument(kind)
    found = {p.name.rsplit(".", 2)[0] for p in (root / kind).glob("*.txt")}
    complete = [
        v for v in found if all((root / kind / f"{v}.{lang}.txt").exists() for lang in LANGUAGES)
    ]
    return tuple(sorted(complete, key=_version_key))


def current_version(kind: str) -> str:
    return versions(kind)[-1]


def document(kind: str, version: str, language: str) -> DocumentText:
    return _document(kind, version, language, ROOT)


@functools.cache
def _document(kind: str, version: str, language: str, root: Path) -> DocumentText:
    if kind not in KINDS or language not in LANGUAGES or version not in _versions(kind, root):
        raise UnknownDocument(f"{kind} {version} {language}")
    path = root / kind / f"{version}.{language}.txt"
    return DocumentText(kind, version, language, path.read_text(encoding="utf-8"))


def current(kind: str, language: str) -> DocumentText:
    return document(kind, current_version(kind), language)
