"""Seal the domain names that issued invoice lines hold in plain text.

A line whose description names one of its customer's domains (from the order lines'
plain column, which shop 0007 clears after this ran) gets DOMAIN_MARK in its place and
an InvoiceLineDomain with the name, sealed under the fiscal class of the invoice's
year. The issued invoice shows the same text as before.
"""

import uuid

from django.db import migrations

MARK = "{domein}"


def seal_invoice_line_domains(apps, schema_editor):
    from kluis.vault import keys
    from kluis.vault.fields import seal_for_row

    if schema_editor.connection.alias != "default":
        return
    OrderLine = apps.get_model("shop", "OrderLine")
    InvoiceLine = apps.get_model("billing", "InvoiceLine")
    InvoiceLineDomain = apps.get_model("billing", "InvoiceLineDomain")
    domains: dict[uuid.UUID, set[str]] = {}
    for customer_id, domain in OrderLine.objects.exclude(domain="").values_list(
        "order__customer_id", "domain"
    ):
        domains.setdefault(customer_id, set()).add(domain)
    if not domains:
        return
    lines = InvoiceLine.objects.filter(invoice__customer_id__in=list(domains)).select_related(
        "invoice"
    )
    with keys.key_scope():
        for line in lines.iterator():
            customer_id = line.invoice.customer_id
            # The longest first: "shop.nl" must not be found inside "mijnshop.nl".
            for domain in sorted(domains[customer_id], key=len, reverse=True):
                if domain not in line.description:
                    continue
                year = line.invoice.issue_date.year
                scope = keys.KeyScope(customer_id, "fiscal", str(year))
                row_id = uuid.uuid4()
                InvoiceLineDomain.objects.create(
                    id=row_id,
                    line_id=line.pk,
                    customer_id=customer_id,
                    fiscal_year=year,
                    name=seal_for_row("billing.invoicelinedomain", row_id, "name", scope, domain),
                )
                InvoiceLine.objects.filter(pk=line.pk).update(
                    description=line.description.replace(domain, MARK, 1)
                )
                break


class Migration(migrations.Migration):
    dependencies = [("billing", "0012_invoice_line_domains")]

    operations = [migrations.RunPython(seal_invoice_line_domains, migrations.RunPython.noop)]
