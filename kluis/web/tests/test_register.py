"""One register per language: the Dutch texts say "je", never "u" or "uw" (issue 13).

Read at the source: every Dutch msgid (the Dutch text of every page, mail and PDF goes
through gettext, so each is a msgid of the English catalogue), every Dutch template text
outside gettext, and every Dutch contract document. The one exception is the statutory
model withdrawal form, whose words the law prescribes (art. 6:230m BW, annex I B).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORMAL = re.compile(r"(?<![\w&/.#%-])(u|uw|U|Uw)(?![\w/.=%-])")
PRESCRIBED = {"kluis/shop/documents/withdrawal_form/1.0.nl.txt"}


def _msgids() -> list[str]:
    po = (ROOT / "locale/en/LC_MESSAGES/django.po").read_text(encoding="utf-8")
    return [
        "".join(re.findall(r'"(.*)"', raw)) for raw in re.findall(r'^msgid ((?:".*"\n)+)', po, re.M)
    ]


def test_the_dutch_texts_say_je_not_u():
    ids = _msgids()
    assert len(ids) > 1000  # the catalogue is read, not an empty file
    formal = [text for text in ids if FORMAL.search(text)]
    assert not formal, formal[:10]


def test_the_dutch_documents_and_template_texts_say_je_not_u():
    found = []
    documents = sorted((ROOT / "shop/documents").glob("*/*.nl.txt"))
    assert documents
    for path in documents:
        name = path.relative_to(ROOT.parent).as_posix()
        if name not in PRESCRIBED and FORMAL.search(path.read_text(encoding="utf-8")):
            found.append(name)
    templates = [*ROOT.glob("*/templates/**/*.html"), *ROOT.glob("*/templates/**/*.txt")]
    assert len(templates) > 100
    for path in templates:
        # what a template says outside tags and gettext is Dutch too
        text = re.sub(r"{%.*?%}|{{.*?}}|<[^>]+>", " ", path.read_text(encoding="utf-8"), flags=re.S)
        if FORMAL.search(text):
            found.append(path.relative_to(ROOT.parent).as_posix())
    assert not found, found


def test_the_check_finds_the_formal_register():
    assert FORMAL.search("Wilt u uw bestelling bevestigen?")
    assert not FORMAL.search("Wil je je bestelling bevestigen? /u/ 100%u")
