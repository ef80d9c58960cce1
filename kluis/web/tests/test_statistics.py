"""First-party statistics: counts per day and path, no IP address, a cookie only with consent."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from kluis.testing import log_in
from kluis.web.consent import CONSENT_COOKIE, STATS_COOKIE
from kluis.web.models import PageViewDay, VisitorDay

pytestmark = pytest.mark.django_db(databases="__all__")

IP = "198.51.100.23"


def _views(path: str) -> int:
    return sum(PageViewDay.objects.filter(path=path).values_list("views", flat=True))


def test_page_views_are_counted_per_day_path_and_referring_site(visitor):
    visitor.get("/?email=jan@example.nl", HTTP_REFERER="https://www.zoeker.example/q?jan")
    visitor.get("/", HTTP_REFERER="http://testserver/contact/")
    visitor.get(reverse("web:contact"))
    rows = {(r.path, r.referrer_host): r.views for r in PageViewDay.objects.all()}
    assert rows == {
        ("web:home", "zoeker.example"): 1,
        ("web:home", ""): 1,
        ("web:contact", ""): 1,
    }
    assert {r.day for r in PageViewDay.objects.all()} == {timezone.localdate()}


def test_no_ip_address_user_agent_or_query_is_stored(visitor):
    visitor.get("/?email=jan@example.nl", HTTP_USER_AGENT="Firefox/140 jan-laptop")
    visitor.post(reverse("web:cookies"), {"statistics": "yes"})
    visitor.get("/")
    dump = []
    with connection.cursor() as cursor:
        for model in (PageViewDay, VisitorDay):
            cursor.execute(f"SELECT * FROM {model._meta.db_table}")  # noqa: S608
            dump.extend(str(v) for row in cursor.fetchall() for v in row)
    text = " ".join(dump)
    assert IP not in text and "198.51.100" not in text
    assert "jan" not in text and "Firefox" not in text
    assert visitor.cookies[STATS_COOKIE].value.split(".")[0] not in text


def test_a_secret_url_is_counted_by_its_route_name_only(visitor, personas):
    from kluis.testing import ROUTES

    build = ROUTES["rights:confirm"].kwargs
    assert build is not None
    kwargs = build(personas)  # a live confirmation link
    assert visitor.get(reverse("rights:confirm", kwargs=kwargs)).status_code == 200
    visitor.get(reverse("policy:version", kwargs={"version": "1.0", "lang": "en"}))
    stored = list(PageViewDay.objects.values_list("path", flat=True))
    assert "rights:confirm" in stored
    assert all(kwargs["token"] not in p and "/" not in p for p in stored), stored


@pytest.mark.parametrize(
    "path", ["/static/web/kluis.css", "/account/inloggen/", "/bestaat-niet/", "/backoffice/"]
)
def test_static_files_accounts_the_back_office_and_errors_are_not_counted(visitor, path):
    visitor.get(path)
    assert not PageViewDay.objects.exists()


def test_posts_and_bots_are_not_counted(visitor):
    visitor.post(reverse("web:contact"), {})
    visitor.get("/", HTTP_USER_AGENT="Googlebot/2.1")
    assert not PageViewDay.objects.exists()


def test_without_consent_no_visitor_is_counted_and_no_cookie_set(visitor):
    for _ in range(3):
        response = visitor.get("/")
        assert STATS_COOKIE not in response.cookies
    visitor.post(reverse("web:cookies"), {"statistics": "no"})
    assert STATS_COOKIE not in visitor.get("/").cookies
    assert not VisitorDay.objects.exists()
    assert _views("web:home") == 4


def test_with_consent_a_visitor_is_counted_once_a_day(visitor):
    visitor.cookies[CONSENT_COOKIE] = "yes"
    first = visitor.get("/")
    value = first.cookies[STATS_COOKIE].value
    assert value.endswith("." + timezone.localdate().strftime("%Y%m%d"))
    assert first.cookies[STATS_COOKIE]["httponly"]
    visitor.get("/")
    visitor.get(reverse("web:contact"))
    day = VisitorDay.objects.get()
    assert (day.visitors, day.repeat_visitors) == (1, 0)


def test_a_visitor_counted_on_an_earlier_day_counts_again_as_returning(visitor):
    visitor.cookies[CONSENT_COOKIE] = "yes"
    visitor.cookies[STATS_COOKIE] = "0123456789abcdef.20200101"
    visitor.get("/")
    day = VisitorDay.objects.get()
    assert (day.visitors, day.repeat_visitors) == (1, 1)
    visitor.cookies[STATS_COOKIE] = "not-ours"
    visitor.get("/")
    assert VisitorDay.objects.get().visitors == 2  # a foreign value counts as new


def test_admins_see_the_statistics_page(client, personas, visitor):
    visitor.get("/", HTTP_REFERER="https://zoeker.example/")
    visitor.cookies[CONSENT_COOKIE] = "yes"
    visitor.get(reverse("web:contact"))
    log_in(client, personas.staff["admin"])
    response = client.get(reverse("web_backoffice:statistics"))
    assert response.status_code == 200
    stats = response.context["stats"]
    assert stats.days == [(timezone.localdate(), 2, 1, 0)]
    assert dict(stats.paths) == {"web:home": 1, "web:contact": 1}
    assert stats.referrers == [("zoeker.example", 1)]
    assert "zoeker.example" in response.content.decode()
    assert not PageViewDay.objects.filter(path__startswith="/backoffice/").exists()


def test_a_page_is_served_even_when_counting_fails(visitor, monkeypatch):
    from django.db import DatabaseError

    from kluis.web import statistics

    def broken(**kwargs):
        raise DatabaseError("database is locked")

    monkeypatch.setattr(statistics, "pageview_count", broken)
    assert visitor.get("/").status_code == 200
