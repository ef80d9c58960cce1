"""The batch ids and the Postfix queue state of a node-bound token's log batches become
the hosting node's (`node-<id>` instead of `token-<id>`), so a node's next token
continues them.

A node that had several tokens gets the state of all of them: a batch id or queue id
that two of them both used keeps the row of the newer token (the node's latest word),
and the queue's version is raised past all of theirs. Backwards, a node's state goes to
its newest token.
"""

from django.db import migrations


def _node_tokens(apps):
    ApiToken = apps.get_model("api", "ApiToken")
    tokens = ApiToken.objects.exclude(node=None).order_by("created_at", "id")
    return [(f"token-{t.pk}", f"node-{t.node_id}") for t in tokens.only("pk", "node_id")]


def _move(apps, old: str, new: str) -> None:
    IngestBatch = apps.get_model("usage", "IngestBatch")
    MailQueue = apps.get_model("usage", "MailQueue")
    PendingMessage = apps.get_model("usage", "PendingMessage")
    for model, field in ((IngestBatch, "batch_id"), (PendingMessage, "queue_id")):
        moving = model.objects.filter(node=old).values_list(field, flat=True)
        model.objects.filter(node=new, **{f"{field}__in": list(moving)}).delete()
        model.objects.filter(node=old).update(node=new)
    queue = MailQueue.objects.filter(node=old).first()
    if queue is not None:
        there = MailQueue.objects.filter(node=new).first()
        if there is None:
            MailQueue.objects.filter(pk=queue.pk).update(node=new)
        else:
            version = max(queue.version, there.version) + 1
            MailQueue.objects.filter(pk=there.pk).update(version=version)
            MailQueue.objects.filter(pk=queue.pk).delete()


def per_node(apps, schema_editor):
    for old, new in _node_tokens(apps):
        _move(apps, old, new)


def per_token(apps, schema_editor):
    newest: dict[str, str] = {}
    for old, new in _node_tokens(apps):
        newest[new] = old
    for new, old in newest.items():
        _move(apps, new, old)


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0002_token_node"),
        ("usage", "0005_mail_queue_lock"),
    ]

    operations = [migrations.RunPython(per_node, per_token)]
