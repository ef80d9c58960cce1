"""Hosting nodes: a site is placed on one (or on none yet, as every site is after this
migration); its admin port is unique per node, and an ended site has no port.

Ended sites that still held a port give it up here (their rules accepted nobody; the
next export drops their port's rule). Existing sites stay unplaced: the top directory
of the firewall export and a token bound to no node keep serving them as before.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def ended_ports_free(apps, schema_editor):
    Site = apps.get_model("sites", "Site")
    Site.objects.filter(status="ended").exclude(admin_port=None).update(admin_port=None)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0007_customer_legal_form'),
        ('shop', '0016_kvk_extract_as_file'),
        ('sites', '0011_site_admin_port'),
    ]

    operations = [
        migrations.CreateModel(
            name='HostingNode',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=32, unique=True, verbose_name='naam')),
                ('port_first', models.PositiveIntegerField(verbose_name='eerste beheerpoort')),
                ('port_last', models.PositiveIntegerField(verbose_name='laatste beheerpoort')),
                ('active', models.BooleanField(default=True, verbose_name='in gebruik')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.RemoveConstraint(
            model_name='site',
            name='sites_admin_port_once',
        ),
        migrations.AddConstraint(
            model_name='hostingnode',
            constraint=models.CheckConstraint(condition=models.Q(('port_first__gte', 1), ('port_first__lte', models.F('port_last')), ('port_last__lte', 65535)), name='sites_node_port_range'),
        ),
        migrations.AddField(
            model_name='site',
            name='node',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='sites', to='sites.hostingnode'),
        ),
        migrations.AddConstraint(
            model_name='site',
            constraint=models.UniqueConstraint(condition=models.Q(('node__isnull', False), models.Q(('status', 'ended'), _negated=True)), fields=('node', 'admin_port'), name='sites_admin_port_per_node'),
        ),
        migrations.AddConstraint(
            model_name='site',
            constraint=models.UniqueConstraint(condition=models.Q(('node__isnull', True), models.Q(('status', 'ended'), _negated=True)), fields=('admin_port',), name='sites_admin_port_once'),
        ),
        migrations.RunPython(ended_ports_free, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='site',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'ended'), _negated=True), ('admin_port__isnull', True), _connector='OR'), name='sites_ended_no_port'),
        ),
    ]
