"""Page views counted before by path are counted by route name from now on.

A path could hold a secret (a confirmation or reset token); each row is folded into the
row of its route's name, and a path that no longer resolves to a page is dropped.
"""

from django.db import migrations
from django.urls import Resolver404, resolve


def by_route_name(apps, schema_editor):  # type: ignore[no-untyped-def]
    page_view_day = apps.get_model("web", "PageViewDay")
    merged: dict[tuple[object, str, str], int] = {}
    for row in page_view_day.objects.all():
        try:
            name = resolve(row.path).view_name
        except Resolver404:
            continue
        key = (row.day, name, row.referrer_host)
        merged[key] = merged.get(key, 0) + row.views
    page_view_day.objects.all().delete()
    page_view_day.objects.bulk_create(
        page_view_day(day=day, path=name, referrer_host=host, views=views)
        for (day, name, host), views in merged.items()
    )


class Migration(migrations.Migration):
    dependencies = [("web", "0001_initial")]

    operations = [migrations.RunPython(by_route_name, migrations.RunPython.noop)]
