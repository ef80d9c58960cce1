"""A sealed SiteHost per host name of a site and a sealed SiteAdminUrl (kluis.domain_name).

The plain columns stay until 0004 has sealed what they hold (0005 removes them).
"""

import django.db.models.deletion
import kluis.vault.fields
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0006_staff_display_name'),
        ('sites', '0002_firewallexportrequest'),
    ]

    operations = [
        migrations.CreateModel(
            name='SiteAdminUrl',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('url', kluis.vault.fields.SealedField(blank=True, category='kluis.domain_name', null=True, verbose_name='adres van de beheeromgeving')),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.customer')),
                ('site', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='admin_url_row', to='sites.site')),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='SiteHost',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('position', models.PositiveSmallIntegerField()),
                ('name', kluis.vault.fields.SealedField(blank=True, category='kluis.domain_name', null=True, verbose_name='hostnaam van een site')),
                ('name_index', kluis.vault.fields.BlindIndexField(blank=True, db_index=True, editable=False, kind='text', max_length=64, null=True, source='name')),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.customer')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='host_rows', to='sites.site')),
            ],
            options={
                'ordering': ['site', 'position'],
                'constraints': [models.UniqueConstraint(fields=('site', 'position'), name='sites_host_position')],
            },
        ),
    ]
