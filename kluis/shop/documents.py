"""The versioned documents a customer accepts: agreement, processor agreement, notice.

Each version is a plain text file `documents/<kind>/<version>.<language>.txt`. The
text is fixed: the order's details go in a header that the PDF draws apart from it,
so what a customer typed never becomes part of a template. The newest version of a
kind is the one the next order gets; a new file is a new version.

A text may hold markers that are filled from the privacy policy, so that what the
processor agreement says about security, sub-processors and our own use of hosted
data is what the policy declares (kluis/policy/hosted.py): `[[art32]]`,
`[[subprocessors]]`, `[[hosted_data]]`; and the WHOIS/RDAP notice names the registries
outside the EU the policy declares, with their country and extensions:
`[[non_eu_registries]]`. A version's change note is the file
`<version>.<language>.changes.txt` beside it.

Legal notes on what the 2.0 texts say (checked 2026-12-04 in the search corpus):
- Art. 28(4) GDPR, the processor stays fully liable to the controller for a
  sub-processor's data protection obligations: processor agreement 2.0, art. 9.
  Checked (2nd pass, 2026-12-04) against the Regulation's text of art. 28(4)-(7) as
  reproduced in full in the OSP Cyber Academy GDPR book (online.flipbuilder.com, p. 149)
  and, with the same words, in copies quoting EUR-Lex 02016R0679-20160504; EUR-Lex's own
  page was not in the corpus: "Where that other processor fails to fulfil its data
  protection obligations, the initial processor shall remain fully liable to the
  controller for the performance of that other processor's obligations." Result: art. 9
  agrees. Its cap for businesses is a limit between the parties, which 28(4) does not
  forbid; art. 82 GDPR towards data subjects is left untouched, as art. 9 says.
- Art. 7(2) GDPR, a request for consent in a declaration that also concerns other
  matters must be clearly distinguishable from them: agreement 2.0 claims no consent;
  the checkout asks it apart (whois_notice and its own checkbox). Checked against the
  article's text in a consolidated copy (betterregulation.com, EUR-Lex 02016R0679).
- The consumer clauses of agreement 2.0 and their sources: kluis/shop/consumer.py.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import override

ROOT = Path(__file__).resolve().parent / "documents"
KINDS = (
    "agreement",
    "processor_agreement",
    "whois_notice",
    "withdrawal_info",
    "start_request",
    "withdrawal_form",
)
MARKERS = (
    "[[art32]]",
    "[[subprocessors]]",
    "[[hosted_data]]",
    "[[hosted_data_prose]]",
    "[[non_eu_registries]]",
)
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
    def changes(self) -> str:
        """What changed in this version, for a customer asked to accept it again."""
        return changes(self.kind, self.version, self.language)

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
    found = {
        p.name.rsplit(".", 2)[0]
        for p in (root / kind).glob("*.txt")
        if not p.name.endswith(".changes.txt")
    }
    complete = [
        v for v in found if all((root / kind / f"{v}.{lang}.txt").exists() for lang in LANGUAGES)
    ]
    return tuple(sorted(complete, key=_version_key))


def current_version(kind: str) -> str:
    return versions(kind)[-1]


def document(kind: str, version: str, language: str) -> DocumentText:
    text = _text(kind, version, language, ROOT)
    if any(marker in text for marker in MARKERS):
        text = _fill(text, language)
    return DocumentText(kind, version, language, text)


def changes(kind: str, version: str, language: str) -> str:
    """The change note of a version: what changed since the version before it."""
    _text(kind, version, language, ROOT)  # refuses what does not exist
    path = ROOT / kind / f"{version}.{language}.changes.txt"
    return path.read_text(encoding="utf-8").strip() if path.exists() else ""


@functools.cache
def _text(kind: str, version: str, language: str, root: Path) -> str:
    if kind not in KINDS or language not in LANGUAGES or version not in _versions(kind, root):
        raise UnknownDocument(f"{kind} {version} {language}")
    return (root / kind / f"{version}.{language}.txt").read_text(encoding="utf-8")


def _fill(text: str, language: str) -> str:
    from kluis.policy.hosted import art32_lines, hosted_uses, subprocessor_lines
    from kluis.policy.loader import current_policy
    from kluis.shop.domains import non_eu_registry_lines

    policy = current_policy()
    gaps = policy.art32_gaps()
    if gaps:
        # A processor agreement that leaves a point of art. 32(1) out is not made.
        raise UnknownDocument(f"no security measure for art. 32(1)({gaps[0].value})")
    with override(language):
        filled = {
            "[[art32]]": "\n".join(f"- {line}" for line in art32_lines(policy, language)),
            "[[subprocessors]]": "\n".join(
                f"- {line}" for line in subprocessor_lines(policy, language)
            ),
            # 2.0 keeps the words it was accepted with; 2.1 on: prose, as the statement.
            "[[hosted_data]]": "\n".join(
                f"- {use.sentence()}" for use in hosted_uses(policy, language)
            ),
            "[[hosted_data_prose]]": "\n".join(
                f"- {use.prose()}" for use in hosted_uses(policy, language)
            ),
            "[[non_eu_registries]]": "\n".join(f"- {line}" for line in non_eu_registry_lines()),
        }
    for marker, value in filled.items():
        text = text.replace(marker, value)
    return text


def current(kind: str, language: str) -> DocumentText:
    return document(kind, current_version(kind), language)
