"""What the statement says is kept, the tables that keep it, and their expiry."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.apps import apps

from kluis.policy.loader import current_policy
from kluis.policy.schema import Held
from kluis.rights.retention import last_expired_day
from kluis.rights.sweep import retention_sweep_run
from kluis.usage.models import Mailbox, MailDay, PageDay, SiteDay
from kluis.usage.retention import KEPT, STRUCTURE, WEB_CATEGORY

pytestmark = pytest.mark.django_db(databases="__all__")


def _text(html: bytes) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html.decode())))


def test_the_statement_lists_exactly_what_the_tables_keep(client):
    policy = current_policy()
    listed: set[str] = set()
    for category, figures in KEPT.items():
        declared = policy.categories[category]
        assert declared.held is Held.AGGREGATED
        assert declared.aggregates is not None
        assert set(declared.aggregates.figures) == set(figures), category
        listed.update(f for fields in figures.values() for f in fields)
    for name in ("SiteDay", "PageDay", "MailDay"):
        model = apps.get_model("usage", name)
        for field in model._meta.concrete_fields:
            if field.name not in STRUCTURE:
                assert f"{name}.{field.name}" in listed, f"{name}.{field.name} is not declared"
    for language in ("nl", "en"):
        page = _text(client.get(f"/privacy/{language}/").content)
        for category in KEPT:
            kept = policy.categories[category].aggregates
            assert kept is not None
            for label in kept.figures.values():
                assert label.get(language) in page, label.get(language)


def test_every_usage_table_expires_through_the_traffic_data_class():
    policy = current_policy()
    for category in KEPT:
        assert policy.categories[category].retention == "traffic_data", category
    for hosted in policy.hosted_data.values():
        if hosted.purpose in {"usage_statistics", "mail_traffic"}:
            assert hosted.retention == "traffic_data", hosted.purpose


# What the web logs hold but kluis drops at once: no description may claim them.
NOT_KEPT = {
    "nl": [
        r"herkomst",
        r"hoe bezoekers",
        r"apparaat",
        r"besturingssysteem",
        r"\bland\b",
        r"\bplaats\b",
        r"zoekwoord",
        r"duur van",
    ],
    "en": [
        r"referrer",
        r"how visitors",
        r"device",
        r"operating system",
        r"country",
        r"\bcity\b",
        r"search term",
        r"length of a visit",
    ],
}


def test_the_web_descriptions_say_what_is_kept_and_nothing_more():
    policy = current_policy()
    category = policy.categories[WEB_CATEGORY]
    assert category.aggregates is not None
    purpose = policy.purposes["usage_statistics"]
    hosted = [h for h in policy.hosted_data.values() if h.purpose == "usage_statistics"]
    assert hosted
    for language, words in NOT_KEPT.items():
        texts = [
            category.description.get(language),
            purpose.description.get(language),
            *(h.data.get(language) for h in hosted),
        ]
        for text in texts:
            for word in words:
                assert not re.search(word, text, re.IGNORECASE), (language, word, text)
        # The category's description names each figure the tables keep.
        for figure in KEPT[WEB_CATEGORY]:
            label = category.aggregates.figures[figure].get(language)
            assert label in " ".join(category.description.get(language).split()), label


def test_the_sweep_removes_usage_rows_on_their_day(personas, today):
    from kluis.sites.testing import make_site

    policy = current_policy()
    site = make_site(personas.customer_a)
    box = Mailbox(customer=personas.customer_a, address="info@shop.example.nl")
    box.save()
    web = policy.retention[policy.categories["user.behavior.browsing_history"].retention]
    mail = policy.retention[policy.categories["kluis.mail_traffic"].retention]
    day = dt.date(2026, 3, 31)
    SiteDay.objects.create(site=site, day=day, requests=1, closed=True)
    PageDay.objects.create(site=site, day=day, path="/", requests=1, qualified=True)
    MailDay.objects.create(mailbox=box, day=day, sent=1)
    MailDay.objects.create(mailbox=box, day=day + dt.timedelta(days=1), sent=1)
    mail_last = mail.duration.after(day)  # the last day it is kept
    web_last = web.duration.after(day)
    assert (
        last_expired_day(mail, mail_last)
        < day
        <= last_expired_day(mail, mail_last + dt.timedelta(days=1))
    )

    retention_sweep_run(today=mail_last)
    assert MailDay.objects.count() == 2
    assert SiteDay.objects.count() == 1 and PageDay.objects.count() == 1
    report = retention_sweep_run(today=mail_last + dt.timedelta(days=1))
    assert list(MailDay.objects.values_list("day", flat=True)) == [day + dt.timedelta(days=1)]
    assert report.rows_deleted >= 1
    # Web counts expire on the same day, through the same class.
    assert web_last == mail_last
    assert not SiteDay.objects.exists() and not PageDay.objects.exists()
