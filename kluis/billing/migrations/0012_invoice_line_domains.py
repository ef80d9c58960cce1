"""The sealed domain name of an invoice line (fiscal class of the invoice's year)."""

import django.db.models.deletion
import kluis.vault.fields
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_passkeys'),
        ('billing', '0011_dutch_record_names'),
        ('shop', '0008_domain_names_sealed'),
    ]

    operations = [
        migrations.CreateModel(
            name='InvoiceLineDomain',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('fiscal_year', models.PositiveSmallIntegerField()),
                ('name', kluis.vault.fields.SealedField(blank=True, category='kluis.domain_name', null=True, retention='fiscal', verbose_name='domeinnaam')),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.customer')),
                ('line', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='domain', to='billing.invoiceline')),
            ],
            options={
                'abstract': False,
            },
        ),
    ]
