"""A key period of its own for every help request (sealed apart in 0009)."""

from django.db import migrations, models

import kluis.sites.models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_staff_display_name"),
        ("sites", "0007_firewall_version"),
    ]

    operations = [
        migrations.AddField(
            model_name="helprequest",
            name="key_period",
            field=models.CharField(
                default=kluis.sites.models.new_help_key_period, editable=False, max_length=8
            ),
        ),
    ]
