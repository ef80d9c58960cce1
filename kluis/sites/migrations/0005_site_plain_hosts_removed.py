"""The plain host names and admin address of a site, sealed by 0004, leave the table."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("sites", "0004_seal_site_hosts"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="site",
            name="admin_url",
        ),
        migrations.RemoveField(
            model_name="site",
            name="host_names",
        ),
    ]
