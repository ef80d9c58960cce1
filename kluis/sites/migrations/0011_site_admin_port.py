"""The TCP port of a site's admin, for the firewall export's chain: empty, or 1-65535
without the shared 80 and 443, and no two sites that have not ended on one port."""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("sites", "0010_help_key_period_unique")]

    operations = [
        migrations.AddField(
            model_name="site",
            name="admin_port",
            field=models.PositiveIntegerField(
                blank=True,
                null=True,
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(65535),
                ],
            ),
        ),
        migrations.AddConstraint(
            model_name="site",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "ended"), _negated=True),
                fields=("admin_port",),
                name="sites_admin_port_once",
            ),
        ),
        migrations.AddConstraint(
            model_name="site",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("admin_port__isnull", True),
                    models.Q(
                        ("admin_port__gte", 1),
                        ("admin_port__lte", 65535),
                        models.Q(("admin_port__in", (80, 443)), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="sites_admin_port_range",
            ),
        ),
    ]
