"""Support and a customer who restricted processing (art. 18 GDPR): the help request's
page says it cannot be read, and an answer is refused with a page that says why,
with nothing saved and nothing mailed, never an error 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kluis.mail.models import OutboxMessage
from kluis.rights.services import request_respond
from kluis.rights.testing import alice_request
from kluis.sites.models import HelpMessage
from kluis.sites.testing import make_help_request, make_site
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def test_support_meets_a_restriction_as_a_page_not_an_error(client, personas):
    help_request = make_help_request(make_site(personas.customer_a))
    request_respond(
        request=alice_request(personas, "restriction"), by=personas.staff["privacy_officer"]
    )
    mails = OutboxMessage.objects.count()
    log_in(client, personas.staff["support"])
    page = client.get(reverse("sites_backoffice:help-request", args=[help_request.pk]))
    assert page.status_code == 200
    assert "art. 18 AVG" in page.content.decode()
    assert "Mijn winkel is traag." not in page.content.decode()

    answer = reverse("sites_backoffice:help-answer", args=[help_request.pk])
    refused = client.post(answer, {"body": "Probeer het nu nog eens."})
    assert refused.status_code == 403
    assert "Er is niets opgeslagen en niets verstuurd." in refused.content.decode()
    assert not HelpMessage.objects.filter(help_request=help_request).exists()
    assert OutboxMessage.objects.count() == mails
