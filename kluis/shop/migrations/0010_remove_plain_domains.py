"""The plain domain columns go, now that 0007 sealed what they held."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "0009_seal_domain_names")]

    operations = [
        migrations.RemoveField(model_name="orderline", name="domain"),
        migrations.RemoveField(model_name="subscription", name="domain"),
    ]
