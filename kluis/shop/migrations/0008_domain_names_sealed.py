"""A sealed DomainName per domain of a customer; lines and subscriptions point at it.

The plain columns stay until 0007 has sealed what they hold (0008 removes them).
"""

import django.db.models.deletion
import django.utils.timezone
import kluis.vault.fields
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_passkeys'),
        ('shop', '0007_dutch_record_names'),
    ]

    operations = [
        migrations.CreateModel(
            name='DomainName',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('name', kluis.vault.fields.SealedField(blank=True, category='kluis.domain_name', null=True, verbose_name='domeinnaam')),
                ('name_index', kluis.vault.fields.BlindIndexField(blank=True, db_index=True, editable=False, kind='text', max_length=64, null=True, source='name')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='domain_names', to='accounts.customer')),
            ],
            options={
                'ordering': ['created_at'],
            },
        ),
        migrations.AddField(
            model_name='orderline',
            name='domain_name',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='order_lines', to='shop.domainname'),
        ),
        migrations.AddField(
            model_name='subscription',
            name='domain_name',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='subscriptions', to='shop.domainname'),
        ),
    ]
