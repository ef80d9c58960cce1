# The day's salt moves to the keystore database (kluis.vault.routers.KEYSTORE_MODELS):
# DaySecret is made there only, DaySalt dropped from the main database. The salt of a
# day still open is not carried over: that day's visitors may count twice.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('usage', '0003_mailbox_subscription'),
    ]

    operations = [
        migrations.CreateModel(
            name='DaySecret',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(unique=True)),
                ('wrapped', models.BinaryField()),
                ('master_kid', models.CharField(max_length=40)),
            ],
        ),
        migrations.DeleteModel(
            name='DaySalt',
        ),
    ]
