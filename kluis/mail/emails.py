"""The mail app's own kind of mail: a test message, to see that mail gets through.

The other kinds belong to the apps whose changes cause them (shop, accounts, ...);
this one shows the shape: a loader declared with `mail_kind`, and a small function
that queues the mail in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from kluis.mail.kinds import attachment_generator, mail_kind
from kluis.mail.models import OutboxMessage
from kluis.mail.services import AttachmentRef, mail_queue
from kluis.policy.enforce import Actor

TEST_MESSAGE = "mail/test_message"
TEST_ATTACHMENT = "mail.test_attachment"


# Sent to an account's own address, to check the way mail takes to it.
@mail_kind(template=TEST_MESSAGE, purpose="account_management", references={"note"})
def _test_message_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    # The note is the operator's words about the test ("after the relay change"),
    # not a customer's: the one reference here that is text rather than an id.
    return {"note": context.get("note") or ""}


@attachment_generator(TEST_ATTACHMENT)
def _test_attachment(ref: Mapping[str, Any], actor: Actor) -> bytes:
    return b"kluis test attachment\r\nIf this arrives intact, attachments get through.\r\n"


def mail_test_message(
    *,
    to_subject: uuid.UUID,
    recipient_email: str,
    language: str,
    note: str = "",
    with_attachment: bool = False,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    attachments = (
        [AttachmentRef("kluis-test.txt", "text/plain", TEST_ATTACHMENT)] if with_attachment else []
    )
    return mail_queue(
        template=TEST_MESSAGE,
        to_subject=to_subject,
        recipient_email=recipient_email,
        language=language,
        context={"note": note},
        dedupe_key=dedupe_key or f"mail:test:{uuid.uuid4()}",
        attachments=attachments,
    )
