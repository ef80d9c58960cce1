from django.db import migrations, models

# The standard packages' mailboxes (kluis/shop/catalogue.py), for a catalogue loaded
# before packages held a number of them; other packages keep 0 until staff set it.
STANDARD = {"webwinkel-start": 1, "webwinkel-plus": 5, "website-basis": 2, "website-zakelijk": 10}


def standard_mailboxes(apps, schema_editor):
    product = apps.get_model("shop", "Product")
    for code, mailboxes in STANDARD.items():
        product.objects.filter(code=code, mailboxes=0).update(mailboxes=mailboxes)


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0012_withdrawalrequest"),
    ]

    operations = [
        migrations.AddField(
            model_name="product",
            name="mailboxes",
            field=models.PositiveSmallIntegerField(
                default=0, verbose_name="mailboxen in het pakket"
            ),
        ),
        migrations.RunPython(standard_mailboxes, migrations.RunPython.noop),
    ]
