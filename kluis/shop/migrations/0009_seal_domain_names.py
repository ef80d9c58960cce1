"""Seal the domain names of order lines, subscriptions and carts held in plain text.

Each domain of an order line becomes a DomainName of the order's customer (sealed
under the customer record's key, with its blind index), shared with the subscription
the line started; the line's text becomes DOMAIN_MARK and the plain columns are
emptied (0008 removes them). A cart in the session store gets its domains sealed.
"""

import uuid

from django.db import migrations

MARK = "{domein}"


def seal_domain_names(apps, schema_editor):
    from kluis.policy.loader import current_policy
    from kluis.vault import keys
    from kluis.vault.fields import NORMALIZERS, seal_for_row

    if schema_editor.connection.alias != "default":
        return
    OrderLine = apps.get_model("shop", "OrderLine")
    Subscription = apps.get_model("shop", "Subscription")
    DomainName = apps.get_model("shop", "DomainName")
    retention = current_policy().categories["kluis.domain_name"].retention
    made: dict[int, uuid.UUID] = {}
    with keys.key_scope():
        for line in OrderLine.objects.exclude(domain="").select_related("order").iterator():
            customer_id = line.order.customer_id
            scope = keys.KeyScope(customer_id, retention, "")
            row_id = uuid.uuid4()
            DomainName.objects.create(
                id=row_id,
                customer_id=customer_id,
                name=seal_for_row("shop.domainname", row_id, "name", scope, line.domain),
                name_index=keys.blind_index("text", NORMALIZERS["text"](line.domain)),
                created_at=line.order.created_at,
            )
            made[line.pk] = row_id
            OrderLine.objects.filter(pk=line.pk).update(
                domain_name_id=row_id, domain="", description=MARK
            )
    for line_id, row_id in made.items():
        Subscription.objects.filter(line_id=line_id).update(domain_name_id=row_id, domain="")
    Subscription.objects.exclude(domain="").update(domain="")
    _seal_carts(apps)


def _seal_carts(apps):
    from django.contrib.sessions.backends.db import SessionStore

    from kluis.shop.cart import SESSION_KEY, open_domain, seal_domain

    Session = apps.get_model("sessions", "Session")
    store = SessionStore()
    for session in Session.objects.all().iterator():
        data = store.decode(session.session_data)
        cart = data.get(SESSION_KEY)
        if not isinstance(cart, dict) or not cart.get("domains"):
            continue
        token = cart.get("token")
        if not isinstance(token, str):
            continue
        cart["domains"] = [
            d if open_domain(token, d) is not None else seal_domain(token, str(d))
            for d in cart["domains"]
        ]
        Session.objects.filter(pk=session.pk).update(session_data=store.encode(data))


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0008_domain_names_sealed"),
        ("billing", "0013_seal_invoice_line_domains"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(seal_domain_names, migrations.RunPython.noop)]
