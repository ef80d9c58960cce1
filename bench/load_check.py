"""Reconcile a load run (bench/locustfile.py): nothing lost, nothing doubled.

Every order locust reported as placed (var/load/orders.txt: address and cart token)
must exist exactly once, for the account of that address, with exactly one
confirmation mail in the outbox; every order refused by the per-address sign-up limit
(refused.txt) must have left no order and no account; and the audit chain must
verify. Exits 1 naming what is wrong.

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

    def lines(name: str) -> list[tuple[str, str]]:
        file = path / name
        rows = file.read_text().splitlines() if file.exists() else []
        return [(row.split()[0], row.split()[1]) for row in rows if row.strip()]

    placed, refused = lines("orders.txt"), lines("refused.txt")
    problems = []
    for email, token in placed:
        orders = list(Order.objects.filter(idempotency_key=token))
        if len(orders) != 1:
            problems.append(f"cart {token[:8]} of {email}: {len(orders)} orders")
            continue
        user = User.objects.get_by_email(email)
        if user is None or user.customer_id != orders[0].customer_id:
            problems.append(f"cart {token[:8]}: the order is not {email}'s")
        mails = OutboxMessage.objects.filter(
            dedupe_key=f"order:{orders[0].pk}:status:received"
        ).count()
        if mails != 1:
            problems.append(f"cart {token[:8]}: {mails} confirmation mails")
    for email, token in refused:
        # Refused by the sign-up limit: nothing may have been made, not even half.
        if Order.objects.filter(idempotency_key=token).exists():
            problems.append(f"cart {token[:8]}: refused, yet an order exists")
        if User.objects.get_by_email(email) is not None:
            problems.append(f"{email}: refused, yet an account exists")
    verdict = audit_verify()
    if not verdict.ok:
        problems.append(f"audit chain: {verdict.problem} at #{verdict.first_bad_seq}")
    for problem in problems:
        print("LOST OR DOUBLED:", problem)
    print(
        f"{len(placed)} orders placed by the load run, {len(refused)} refused by the sign-up "
        f"limit; {len(problems)} problems; "
        f"audit chain {'verifies' if verdict.ok else 'BROKEN'} ({verdict.count} entries)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
