"""Reconcile a load run (bench/locustfile.py): nothing lost, nothing doubled.

Every order locust reported as placed (var/load/orders.txt) must exist exactly once,
for an account of that address, with exactly one confirmation mail in the outbox; and
the audit chain must verify. Exits 1 naming what is wrong.

    . scripts/serve-env && .venv/bin/python -m bench.load_check
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kluis.settings")
    import django

    django.setup()
    from django.conf import settings

    from kluis.accounts.models import User
    from kluis.audit.chain import audit_verify
    from kluis.mail.models import OutboxMessage
    from kluis.shop.models import Order

    path = Path(os.environ.get("KLUIS_LOAD_DIR", Path(settings.VAR_DIR).parent / "load"))
    emails = (path / "orders.txt").read_text().split() if (path / "orders.txt").exists() else []
    problems = []
    for email in emails:
        user = User.objects.get_by_email(email)
        if user is None or user.customer is None:
            problems.append(f"{email}: no account")
            continue
        orders = list(Order.objects.filter(customer=user.customer))
        if len(orders) != 1:
            problems.append(f"{email}: {len(orders)} orders")
            continue
        mails = OutboxMessage.objects.filter(
            dedupe_key=f"order:{orders[0].pk}:status:received"
        ).count()
        if mails != 1:
            problems.append(f"{email}: {mails} confirmation mails")
    verdict = audit_verify()
    if not verdict.ok:
        problems.append(f"audit chain: {verdict.problem} at #{verdict.first_bad_seq}")
    for problem in problems:
        print("LOST OR DOUBLED:", problem)
    print(
        f"{len(emails)} orders placed by the load run; {len(problems)} problems; "
        f"audit chain {'verifies' if verdict.ok else 'BROKEN'} ({verdict.count} entries)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
