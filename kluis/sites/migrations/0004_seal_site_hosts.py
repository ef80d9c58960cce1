"""Seal the host names and admin address of every site held in plain text.

Each host name of a site becomes a SiteHost of the site's customer (sealed under the
customer record's key, with its blind index), in the order they were written; the
admin address becomes a SiteAdminUrl. The plain columns are emptied (0005 removes them).
"""

import uuid

from django.db import migrations


def seal_site_hosts(apps, schema_editor):
    from kluis.policy.loader import current_policy
    from kluis.vault import keys
    from kluis.vault.fields import NORMALIZERS, seal_for_row

    if schema_editor.connection.alias != "default":
        return
    Site = apps.get_model("sites", "Site")
    SiteHost = apps.get_model("sites", "SiteHost")
    SiteAdminUrl = apps.get_model("sites", "SiteAdminUrl")
    retention = current_policy().categories["kluis.domain_name"].retention
    with keys.key_scope():
        for site in Site.objects.exclude(host_names="", admin_url="").iterator():
            scope = keys.KeyScope(site.customer_id, retention, "")
            names = list(dict.fromkeys(site.host_names.split()))
            for position, name in enumerate(names):
                row_id = uuid.uuid4()
                SiteHost.objects.create(
                    id=row_id,
                    site_id=site.pk,
                    customer_id=site.customer_id,
                    position=position,
                    name=seal_for_row("sites.sitehost", row_id, "name", scope, name),
                    name_index=keys.blind_index("text", NORMALIZERS["text"](name)),
                )
            if site.admin_url:
                row_id = uuid.uuid4()
                SiteAdminUrl.objects.create(
                    id=row_id,
                    site_id=site.pk,
                    customer_id=site.customer_id,
                    url=seal_for_row("sites.siteadminurl", row_id, "url", scope, site.admin_url),
                )
            Site.objects.filter(pk=site.pk).update(host_names="", admin_url="")


class Migration(migrations.Migration):
    dependencies = [
        ("sites", "0003_site_hosts_sealed"),
    ]

    operations = [migrations.RunPython(seal_site_hosts, migrations.RunPython.noop)]
