"""Every item of the policy in its own place in the statement.

Finding a label anywhere on the page is not enough: a recipient's label also appears in
the data-flow caption and in purposes, a category's in every purpose that uses it. So
each item is looked for in its own section (a purpose in `doel-<key>`, a recipient in
`ontvanger-<key>`) or its own keyed element (a category, retention class, right or
cookie), together with what that section must say about it.
"""

from __future__ import annotations

import html
import re

import pytest

from kluis.policy.loader import current_policy
from kluis.policy.render import LEGAL_BASIS
from kluis.policy.schema import Policy


def _text(markup: str) -> str:
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S)
    # Case-folded: a label opens a heading with a capital ("Onze registrar").
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split()).casefold()


def _sections(markup: str) -> dict[str, str]:
    """Each <section id=...> by id, as the text a reader sees."""
    found = re.findall(r'<section id="([^"]+)"[^>]*>(.*?)</section>', markup, re.S)
    return {key: _text(body) for key, body in found}


def _keyed(markup: str, section: str) -> dict[str, str]:
    """The elements with a data-key inside one section, as text, joined per key."""
    match = re.search(rf'<section id="{re.escape(section)}"[^>]*>(.*?)</section>', markup, re.S)
    assert match, f"no section {section!r}"
    found = re.findall(r'<(p|li|tr) data-key="([^"]+)"[^>]*>(.*?)</\1>', match.group(1), re.S)
    entries: dict[str, str] = {}
    for _tag, key, body in found:
        entries[key] = f"{entries.get(key, '')} | {_text(body)}"
    return entries


def _label(policy: Policy, group: str, key: str, language: str) -> str:
    return " ".join(getattr(policy, group)[key].label.get(language).split()).casefold()


# A purpose or recipient that uses nearly every category says "all ... except ...".
ALL_EXCEPT = {"nl": "alle gegevens uit hoofdstuk 2, behalve", "en": "all data in section 2, except"}


def _assert_names_data(
    text: str, policy: Policy, used: list[str], language: str, where: str
) -> None:
    if ALL_EXCEPT[language] in text:
        excepted = text.split(ALL_EXCEPT[language], 1)[1].split(".", 1)[0]
        # Longest label first, each taken out once found, so that "naam" is not named
        # by "domeinnaam" nor "name" by "domain name".
        labels = {c: _label(policy, "categories", c, language) for c in policy.categories}
        for category in sorted(labels, key=lambda c: -len(labels[c])):
            pattern = rf"(?<!\w){re.escape(labels[category])}(?!\w)"
            named = re.search(pattern, excepted) is not None
            excepted = re.sub(pattern, " ", excepted, count=1)
            assert named == (category not in used), (where, category)
        return
    for category in used:
        assert _label(policy, "categories", category, language) in text, (where, category)


@pytest.fixture(params=["nl", "en"])
def statement(request, client) -> tuple[str, str]:
    response = client.get(f"/privacy/{request.param}/")
    assert response.status_code == 200
    return request.param, response.content.decode()


def test_each_purpose_has_its_section_with_its_data_and_ground(statement):
    language, markup = statement
    policy = current_policy()
    sections = _sections(markup)
    from django.utils.translation import override

    for key, purpose in policy.purposes.items():
        text = sections.get(f"doel-{key}")
        assert text is not None, f"no section for purpose {key}"
        assert text.startswith(_label(policy, "purposes", key, language)), key
        _assert_names_data(text, policy, purpose.categories, language, key)
        with override(language):
            assert str(LEGAL_BASIS[purpose.legal_basis]).casefold() in text, key


def test_each_recipient_has_its_section_with_its_purposes_and_data(statement):
    language, markup = statement
    policy = current_policy()
    sections = _sections(markup)
    for key, recipient in policy.recipients.items():
        text = sections.get(f"ontvanger-{key}")
        assert text is not None, f"no section for recipient {key}"
        assert text.startswith(_label(policy, "recipients", key, language)), key
        for purpose in recipient.purposes:
            assert _label(policy, "purposes", purpose, language) in text, (key, purpose)
        _assert_names_data(text, policy, recipient.categories, language, key)


def test_each_category_retention_class_right_and_cookie_has_its_own_entry(statement):
    language, markup = statement
    policy = current_policy()
    for section, group, keys in (
        ("gegevens", "categories", list(policy.categories)),
        ("bewaartermijnen", "retention", list(policy.retention)),
        ("rechten", "rights", list(policy.rights)),
    ):
        entries = _keyed(markup, section)
        for key in keys:
            assert key in entries, f"{group}.{key} has no entry in section {section}"
            assert _label(policy, group, key, language) in entries[key], f"{group}.{key}"
    cookies = _keyed(markup, "cookies")
    for cookie in policy.cookies:
        assert cookie.name in cookies, f"cookie {cookie.name} has no row"
        assert " ".join(cookie.label.get(language).split()).casefold() in cookies[cookie.name]


def test_each_security_measure_is_in_the_security_section(statement):
    language, markup = statement
    policy = current_policy()
    text = _sections(markup)["beveiliging"]
    security = policy.security
    for kind in ("organisational", "technical", "management"):
        for measure in getattr(security, kind):
            assert " ".join(measure.label.get(language).split()).casefold() in text, kind
