"""No two help requests of one customer share a key period (so never a key)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("sites", "0009_seal_help_requests_apart")]

    operations = [
        migrations.AddConstraint(
            model_name="helprequest",
            constraint=models.UniqueConstraint(
                fields=("customer", "key_period"), name="sites_help_key_period"
            ),
        ),
    ]
