"""The portal's site page, the help request, and the back office opening a grant."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import lxml.html  # type: ignore[import-untyped]
import pytest
from django.urls import reverse

from kluis.policy.enforce import Actor
from kluis.sites.hosts import names_of
from kluis.sites.models import AllowEntry, HelpRequest, Site, SiteHost, SupportGrant
from kluis.sites.testing import make_grant, make_help_request, make_site
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")

HOME = "145.100.10.7"
ADMIN_URL = "https://janjansen.nl/beheer/"


def _site_url(site):
    return reverse("sites_portal:site", kwargs={"site_id": site.pk})


@pytest.mark.parametrize(
    ("lang", "words", "shown"),
    [
        (
            "nl",
            "In het klantportaal laten we je zien wat je huidige IP-adres is",
            "Je bezoekt deze pagina vanaf",
        ),
        (
            "en",
            "In the customer portal we show you your current IP address",
            "You are visiting this page from",
        ),
    ],
)
def test_the_statements_promise_links_to_the_page_that_keeps_it(
    client, personas, lang, words, shown
):
    """Follow the link in the public statement's sentence, as a visitor would: first
    anonymous (to the login, and back), then as a customer from a known address."""
    statement = client.get(reverse("policy:statement", kwargs={"lang": lang}))
    assert statement.status_code == 200
    [link] = [a for a in lxml.html.fromstring(statement.content).iter("a") if a.text == words]
    target = urlsplit(link.get("href"))
    assert not target.scheme and not target.netloc  # a path of kluis, never a host
    assert target.fragment

    anonymous = client.get(target.path, REMOTE_ADDR=HOME)
    assert anonymous.status_code == 302
    login = urlsplit(anonymous["Location"])
    assert login.path == reverse("accounts:login")
    assert parse_qs(login.query)["next"] == [target.path]

    make_site(personas.customer_a)
    log_in(client, personas.alice)
    client.cookies["django_language"] = lang
    page = client.get(target.path, REMOTE_ADDR=HOME)
    assert page.status_code == 200
    [panel] = lxml.html.fromstring(page.content).xpath(f'//*[@id="{target.fragment}"]')
    said = " ".join(panel.text_content().split())
    assert f"{shown} {HOME}." in said
    assert [s.text for s in panel.iter("strong")] == [HOME]


def test_a_site_page_shows_the_address_and_offers_to_add_it(client, personas):
    site = make_site(personas.customer_a)
    log_in(client, personas.alice)
    page = client.get(_site_url(site), REMOTE_ADDR=HOME)
    assert page.status_code == 200
    assert f"<strong>{HOME}</strong>" in page.content.decode()
    assert "Voeg dit adres toe" in page.content.decode()


def test_one_click_adds_the_address_the_request_came_from(client, personas):
    site = make_site(personas.customer_a)
    log_in(client, personas.alice)
    url = reverse("sites_portal:entry-add-current", kwargs={"site_id": site.pk})
    response = client.post(url, REMOTE_ADDR=HOME, HTTP_X_FORWARDED_FOR="8.8.8.8")
    assert response.status_code == 302
    page = client.get(_site_url(site), REMOTE_ADDR=HOME).content.decode()
    assert "Dit adres staat al op de toegangslijst" in page
    assert "8.8.8.8" not in page
    assert site.allow_entries.count() == 1


def test_behind_a_trusted_proxy_the_forwarded_address_is_added(client, personas, settings):
    settings.KLUIS_TRUSTED_PROXIES = ["10.0.0.0/24"]
    site = make_site(personas.customer_a)
    log_in(client, personas.alice)
    url = reverse("sites_portal:entry-add-current", kwargs={"site_id": site.pk})
    client.post(url, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=HOME)
    page = client.get(_site_url(site), REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=HOME)
    assert f"<td>{HOME}</td>" in page.content.decode()


def test_a_loopback_visitor_is_told_why_it_cannot_be_added(client, personas):
    site = make_site(personas.customer_a)
    log_in(client, personas.alice)
    page = client.get(_site_url(site), REMOTE_ADDR="127.0.0.1").content.decode()
    assert "niet bereikbaar vanaf internet" in page
    assert "Voeg dit adres toe" not in page


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("10.0.0.0/8", "te groot"),
        ("0.0.0.0/0", "te groot"),
        ("fe80::1%eth0", "zone"),
        ("256.1.1.1", "geen IPv4- of IPv6-adres"),
        ("<script>", "geen IPv4- of IPv6-adres"),
    ],
)
def test_bad_input_gets_a_message_and_adds_nothing(client, personas, typed, message):
    site = make_site(personas.customer_a)
    log_in(client, personas.alice)
    url = reverse("sites_portal:entry-add", kwargs={"site_id": site.pk})
    response = client.post(url, {"network": typed, "label": "x"}, REMOTE_ADDR=HOME)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not AllowEntry.objects.exists()


def test_a_past_expiry_gets_a_message(client, personas):
    site = make_site(personas.customer_a)
    log_in(client, personas.alice)
    url = reverse("sites_portal:entry-add", kwargs={"site_id": site.pk})
    response = client.post(url, {"network": HOME, "expires_at": "2020-01-01T10:00"})
    assert response.status_code == 200
    assert "in het verleden" in response.content.decode()
    assert not AllowEntry.objects.exists()


def test_another_customers_site_id_is_not_found(client, personas):
    site = make_site(personas.customer_a)
    log_in(client, personas.bob)
    assert client.get(_site_url(site)).status_code == 404
    url = reverse("sites_portal:entry-add", kwargs={"site_id": site.pk})
    assert client.post(url, {"network": HOME}).status_code == 404
    assert not AllowEntry.objects.exists()


def test_the_page_is_english_for_an_english_visitor(client, personas):
    site = make_site(personas.customer_a)
    log_in(client, personas.alice)
    client.cookies["django_language"] = "en"
    page = client.get(_site_url(site), REMOTE_ADDR=HOME).content.decode()
    assert "Your current IP address" in page


def test_help_request_to_grant_to_the_customer_ending_it(client, personas):
    site = make_site(personas.customer_a)
    log_in(client, personas.alice)
    response = client.post(
        reverse("sites_portal:help-request-new"),
        {"about": "site", "site": site.pk, "message": "Mijn kassa hapert."},
    )
    assert response.status_code == 302
    request = HelpRequest.objects.get()
    assert "Mijn kassa hapert." in client.get(response["Location"]).content.decode()

    staff = client.__class__()
    log_in(staff, personas.staff["support"])
    desk = staff.get(reverse("sites_backoffice:help-desk")).content.decode()
    assert request.reference in desk
    detail = reverse("sites_backoffice:help-request", kwargs={"request_id": request.pk})
    assert "Mijn kassa hapert." in staff.get(detail).content.decode()
    staff.post(
        reverse("sites_backoffice:grant-open", kwargs={"request_id": request.pk}),
        {"hours": "3"},
        REMOTE_ADDR="145.100.20.9",
    )
    grant = SupportGrant.objects.get()
    assert grant.staff == personas.staff["support"]

    page = client.get(_site_url(site), REMOTE_ADDR=HOME).content.decode()
    assert "Nu beëindigen" in page and request.reference in page
    client.post(reverse("sites_portal:grant-end", kwargs={"grant_id": grant.pk}))
    grant.refresh_from_db()
    assert grant.ended_by == "customer"
    assert "Nu beëindigen" not in client.get(_site_url(site)).content.decode()


def test_a_grant_longer_than_allowed_from_the_back_office_is_refused(client, personas):
    request = make_help_request(make_site(personas.customer_a))
    log_in(client, personas.staff["support"])
    response = client.post(
        reverse("sites_backoffice:grant-open", kwargs={"request_id": request.pk}),
        {"hours": "12"},
        REMOTE_ADDR="145.100.20.9",
    )
    assert response.status_code == 200
    assert not SupportGrant.objects.exists()


def test_bob_cannot_end_alices_grant(client, personas):
    grant = make_grant(make_site(personas.customer_a), personas.staff["support"])
    log_in(client, personas.bob)
    url = reverse("sites_portal:grant-end", kwargs={"grant_id": grant.pk})
    assert client.post(url).status_code == 404
    grant.refresh_from_db()
    assert grant.ended_at is None


def test_my_data_shows_every_grant(client, personas):
    grant = make_grant(make_site(personas.customer_a), personas.staff["support"])
    log_in(client, personas.alice)
    page = client.get(reverse("portal:my-data")).content.decode()
    assert grant.help_request is not None
    assert grant.help_request.reference in page
    assert f"medewerker {grant.staff_id}" in page
    log_in(client, personas.bob)
    assert (
        grant.help_request.reference not in client.get(reverse("portal:my-data")).content.decode()
    )


def test_a_thread_support_answers_by_mail_and_the_customer_replies(client, personas):
    from kluis.mail.models import OutboxMessage

    request = make_help_request(make_site(personas.customer_a))
    staff = client.__class__()
    log_in(staff, personas.staff["support"])
    kwargs = {"request_id": request.pk}
    staff.post(reverse("sites_backoffice:help-answer", kwargs=kwargs), {"body": "Opgelost!"})
    request.refresh_from_db()
    assert request.status == HelpRequest.Status.WAITING
    mail = OutboxMessage.objects.get(dedupe_key=f"help:{request.pk}:answer:1")
    assert mail.template == "sites/email/help_answer"

    log_in(client, personas.alice)
    page = client.get(reverse("sites_portal:help-request", kwargs=kwargs)).content.decode()
    assert "Opgelost!" in page
    client.post(reverse("sites_portal:help-request", kwargs=kwargs), {"body": "Dank je!"})
    request.refresh_from_db()
    assert request.status == HelpRequest.Status.OPEN
    assert (
        "Dank je!"
        in staff.get(reverse("sites_backoffice:help-request", kwargs=kwargs)).content.decode()
    )

    staff.post(reverse("sites_backoffice:help-close", kwargs=kwargs))
    request.refresh_from_db()
    assert request.status == HelpRequest.Status.CLOSED
    client.post(reverse("sites_portal:help-request", kwargs=kwargs), {"body": "Nog iets"})
    assert request.thread.count() == 2


def test_bob_cannot_reply_to_alices_help_request(client, personas):
    request = make_help_request(make_site(personas.customer_a))
    log_in(client, personas.bob)
    url = reverse("sites_portal:help-request", kwargs={"request_id": request.pk})
    assert client.post(url, {"body": "Hallo"}).status_code == 404
    assert request.thread.count() == 0


@pytest.mark.parametrize(
    ("hosts", "url", "ok"),
    [
        ("winkel.nl www.winkel.nl", "https://winkel.nl/beheer/", True),
        ("bücher.de", "https://xn--bcher-kva.de/admin/", True),
        ("winkel", "", False),
        ("-bad-.nl", "", False),
        ("winkel.nl", "https://elders.nl/beheer/", False),
        ("winkel.nl", "http://winkel.nl/beheer/", False),
    ],
)
def test_orders_staff_set_host_names_and_admin_url(client, personas, hosts, url, ok):
    site = make_site(personas.customer_a)
    log_in(client, personas.staff["orders"])
    response = client.post(
        reverse("sites_backoffice:site", kwargs={"site_id": site.pk}),
        {"host_names": hosts, "admin_url": url},
    )
    assert (response.status_code == 302) is ok
    assert SiteHost.objects.filter(site=site).exists() is ok
    if ok:
        names = names_of([site], actor=Actor.subject(site.customer_id))[site.pk]
        assert names.hosts == hosts.replace("bücher", "xn--bcher-kva").split()
        assert names.admin_url == url


def test_host_names_are_shown_to_the_customer_and_never_back_to_staff(client, personas):
    site = make_site(
        personas.customer_a, hosts="janjansen.nl www.janjansen.nl", admin_url=ADMIN_URL
    )
    log_in(client, personas.alice)
    mine = client.get(_site_url(site)).content.decode()
    assert "janjansen.nl www.janjansen.nl" in mine
    assert ADMIN_URL in mine
    assert "www.janjansen.nl" in client.get(reverse("sites_portal:sites")).content.decode()
    client.logout()
    log_in(client, personas.staff["orders"])
    desk = client.get(reverse("sites_backoffice:site", kwargs={"site_id": site.pk}))
    assert desk.status_code == 200
    assert "janjansen" not in desk.content.decode()
    assert "Er staan 2 hostnamen op deze site." in desk.content.decode()


def test_a_host_name_of_another_site_is_refused_in_dutch(client, personas):
    make_site(personas.customer_b, hosts="bezet.nl")
    site = make_site(personas.customer_a, hosts="eigen.nl")
    log_in(client, personas.staff["orders"])
    url = reverse("sites_backoffice:site", kwargs={"site_id": site.pk})
    page = client.post(url, {"host_names": "eigen.nl BEZET.nl", "admin_url": ""})
    assert page.status_code == 200
    assert "Een van deze hostnamen hoort al bij een andere site." in page.content.decode()
    names = names_of([site], actor=Actor.subject(site.customer_id))[site.pk]
    assert names.hosts == ["eigen.nl"]  # nothing half-done
    # The site's own names may be saved again.
    assert client.post(url, {"host_names": "eigen.nl", "admin_url": ""}).status_code == 302


def test_finance_suspends_a_site_from_the_desk_and_the_customer_is_told(client, personas):
    from kluis.mail.models import OutboxMessage
    from kluis.sites.models import FirewallExportRequest

    site = make_site(personas.customer_a)
    log_in(client, personas.staff["finance"])
    desk = client.get(reverse("sites_backoffice:desk")).content.decode()
    assert reverse("sites_backoffice:site-status", kwargs={"site_id": site.pk}) in desk
    response = client.post(
        reverse("sites_backoffice:site-status", kwargs={"site_id": site.pk}),
        {"status": "suspended"},
    )
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.status == Site.Status.SUSPENDED
    assert (
        OutboxMessage.objects.filter(dedupe_key__startswith=f"site:{site.pk}:suspended:").count()
        == 1
    )
    assert FirewallExportRequest.objects.filter(site=site).exists()


def test_the_desk_finds_a_site_by_host_name_through_its_blind_index(client, personas):
    mine = make_site(personas.customer_a, hosts="janjansen.nl www.janjansen.nl")
    other = make_site(personas.customer_b, hosts="anders.nl")
    log_in(client, personas.staff["orders"])
    desk = reverse("sites_backoffice:desk")
    found = client.get(desk, {"hostnaam": "WWW.JanJansen.nl"}).context["sites"]
    assert [s.pk for s in found] == [mine.pk]
    assert list(client.get(desk, {"hostnaam": "nergens.nl"}).context["sites"]) == []
    assert {s.pk for s in client.get(desk).context["sites"]} >= {mine.pk, other.pk}
