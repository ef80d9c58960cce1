"""Password reset requests that the worker handles, so the page does the same work for any address."""

import django.utils.timezone
import kluis.vault.fields
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_passkeys'),
    ]

    operations = [
        migrations.CreateModel(
            name='PasswordResetRequest',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('email', kluis.vault.fields.SealedField(blank=True, category='user.contact.email', null=True, retention='contact_request', verbose_name='getypt e-mailadres')),
                ('language', models.CharField(max_length=2)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('claimed_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'ordering': ['created_at'],
            },
        ),
    ]
