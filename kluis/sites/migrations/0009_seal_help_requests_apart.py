"""Give every help request a key of its own.

Until now a help request, its messages and its attachments were sealed under the
customer's single key of the `contact_message` category's class, which the retention
sweep could never shred (later requests would have been unsealable). Each request now
gets a `key_period` of its own (0008 added the column; 0010 makes it unique per
customer; separate migrations, as PostgreSQL alters no table with rows changed in
the same transaction), and its values are opened under the customer-wide key
and sealed again under (customer, class, key_period). Back: sealed again under the
customer-wide key. A value whose key is already gone (an erased customer) stays as it
is: it opens under neither.
"""

from django.db import migrations

# (model, label, the column naming the request, sealed columns)
SEALED = [
    ("HelpRequest", "sites.helprequest", "id", ["message"]),
    ("HelpMessage", "sites.helpmessage", "help_request_id", ["body"]),
    ("HelpAttachment", "sites.helpattachment", "help_request_id", ["name", "content"]),
]


def _reseal(apps, schema_editor, *, forward):
    from kluis.policy.loader import current_policy
    from kluis.sites.models import new_help_key_period
    from kluis.vault import keys
    from kluis.vault.errors import KeyShredded
    from kluis.vault.fields import open_for_row, seal_for_row
    from kluis.vault.models import DataKey

    if schema_editor.connection.alias != "default":
        return
    HelpRequest = apps.get_model("sites", "HelpRequest")
    retention_class = current_policy().categories["kluis.contact_message"].retention
    used: dict[object, set[str]] = {}
    requests = HelpRequest.objects.order_by("created_at", "pk").values_list(
        "pk", "customer_id", "key_period"
    )
    with keys.key_scope():
        for request_id, customer_id, period in requests.iterator():
            if forward:
                # AddField gave every row the same period: choose one per request that
                # the customer has never had a key for.
                taken = used.setdefault(customer_id, set())
                period = new_help_key_period()
                while period in taken or DataKey.objects.filter(
                    subject=customer_id, retention_class=retention_class, period=period
                ).exists():
                    period = new_help_key_period()
                taken.add(period)
                HelpRequest.objects.filter(pk=request_id).update(key_period=period)
            shared = keys.KeyScope(customer_id, retention_class, "")
            own = keys.KeyScope(customer_id, retention_class, period)
            source, target = (shared, own) if forward else (own, shared)
            for model_name, label, link, columns in SEALED:
                model = apps.get_model("sites", model_name)
                rows = model.objects.filter(**{link: request_id}).values_list("pk", *columns)
                for pk, *tokens in rows:
                    changed = {}
                    for column, token in zip(columns, tokens, strict=True):
                        if token is None:
                            continue
                        try:
                            plain = open_for_row(label, pk, column, source, token)
                            changed[column] = seal_for_row(label, pk, column, target, plain)
                        except KeyShredded:
                            continue
                    if changed:
                        model.objects.filter(pk=pk).update(**changed)


def forward(apps, schema_editor):
    _reseal(apps, schema_editor, forward=True)


def backward(apps, schema_editor):
    _reseal(apps, schema_editor, forward=False)


class Migration(migrations.Migration):
    dependencies = [("sites", "0008_help_request_key_period")]

    operations = [migrations.RunPython(forward, backward)]
