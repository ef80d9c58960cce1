"""sites 0009 seals existing help requests again, each under a key of its own.

The database is taken back to sites 0007, two requests of one customer are written as
that version wrote them (sealed under the customer's single contact_request key, one
with a message and an attachment), and migrated forward: every value opens under its
request's own key, the two requests have different keys, and the sweep can end one
without the other. Migrating back seals them under the customer-wide key again.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from kluis.rights import sweep
from kluis.sites.models import HelpAttachment, HelpMessage, HelpRequest
from kluis.sites.testing import make_site
from kluis.vault import keys
from kluis.vault.fields import file_text, open_for_row, seal_for_row

BEFORE = [("sites", "0007_firewall_version")]
CLASS = "contact_request"
LOG = b"PHP Fatal error: regel 12\n"


def _migrate(target=None):
    executor = MigrationExecutor(connections["default"])
    executor.migrate(target or executor.loader.graph.leaf_nodes())
    return executor


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_existing_help_requests_are_sealed_again_under_their_own_keys(personas):
    site = make_site(personas.customer_a)
    customer_id = site.customer_id
    shared = keys.KeyScope(customer_id, CLASS, "")
    executor = _migrate(BEFORE)
    executor.loader.build_graph()
    old = executor.loader.project_state(BEFORE).apps

    def sealed(label, pk, field, value):
        return seal_for_row(label, pk, field, shared, value)

    first, second = uuid.uuid4(), uuid.uuid4()
    for pk, reference, text in (
        (first, "H-2025-AAAAAA", "Traag"),
        (second, "H-2025-BBBBBB", "Kapot"),
    ):
        old.get_model("sites", "HelpRequest").objects.create(
            id=pk,
            customer_id=customer_id,
            site_id=site.pk,
            reference=reference,
            about="site",
            message=sealed("sites.helprequest", pk, "message", text),
        )
    message_id, attachment_id = uuid.uuid4(), uuid.uuid4()
    old.get_model("sites", "HelpMessage").objects.create(
        id=message_id,
        help_request_id=first,
        number=1,
        author="customer",
        body=sealed("sites.helpmessage", message_id, "body", "Nog steeds"),
    )
    old.get_model("sites", "HelpAttachment").objects.create(
        id=attachment_id,
        help_request_id=first,
        customer_id=customer_id,
        number=1,
        name=sealed("sites.helpattachment", attachment_id, "name", "fout.log"),
        content=sealed("sites.helpattachment", attachment_id, "content", file_text(LOG)),
        mimetype="text/plain",
        size=len(LOG),
    )

    _migrate()

    one, two = HelpRequest.objects.get(pk=first), HelpRequest.objects.get(pk=second)
    assert one.key_period != two.key_period
    assert one.message.scope == keys.KeyScope(customer_id, CLASS, one.key_period)
    assert one.message.open() == "Traag" and two.message.open() == "Kapot"
    assert HelpMessage.objects.get(pk=message_id).body.open() == "Nog steeds"
    attachment = HelpAttachment.objects.get(pk=attachment_id)
    assert attachment.name.open() == "fout.log"
    assert attachment.content.open() == file_text(LOG)
    # Under the customer-wide key they no longer open.
    with pytest.raises(Exception, match="does not open"):
        one.message.open(shared)

    # And back: under the customer-wide key again, as 0007 reads them.
    _migrate(BEFORE)
    rows = old.get_model("sites", "HelpRequest").objects.values_list("pk", "message")
    opened = {pk: open_for_row("sites.helprequest", pk, "message", shared, t) for pk, t in rows}
    assert opened == {first: "Traag", second: "Kapot"}
    attachments = old.get_model("sites", "HelpAttachment").objects
    token = attachments.values_list("content", flat=True).get(pk=attachment_id)
    assert open_for_row("sites.helpattachment", attachment_id, "content", shared, token) == (
        file_text(LOG)
    )
    _migrate()

    # Forward again: the sweep ends the first request alone.
    HelpRequest.objects.filter(pk=first).update(
        status="closed", closed_at=timezone.now() - dt.timedelta(days=400)
    )
    assert sweep.retention_sweep_run().per_class == {CLASS: 1}
    assert not HelpRequest.objects.filter(pk=first).exists()
    assert not HelpAttachment.objects.filter(pk=attachment_id).exists()
    assert HelpRequest.objects.get(pk=second).message.open() == "Kapot"
