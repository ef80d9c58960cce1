"""A hosting node may be being switched over from the export's top directory: its sites
are then written to the top directory as well. Existing nodes are not (their sites stay
in nodes/<name>/ only, as before), so this migration changes no exported file.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sites', '0012_hosting_nodes'),
    ]

    operations = [
        migrations.AddField(
            model_name='hostingnode',
            name='switching',
            field=models.BooleanField(default=False, verbose_name='wordt overgezet'),
        ),
    ]
