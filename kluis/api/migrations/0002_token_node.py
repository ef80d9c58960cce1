"""A service token may be bound to a hosting node: it reads that node's sites only."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('api', '0001_initial'),
        ('sites', '0012_hosting_nodes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='apitoken',
            name='node',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='api_tokens', to='sites.hostingnode', verbose_name='hostingnode'),
        ),
        migrations.AddConstraint(
            model_name='apitoken',
            constraint=models.CheckConstraint(condition=models.Q(('node__isnull', True), ('kind', 'service'), _connector='OR'), name='api_only_service_tokens_have_a_node'),
        ),
    ]
