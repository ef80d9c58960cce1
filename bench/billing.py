"""Benchmarks of kluis/billing: a 100,000-entry bank statement and 10,000 invoice PDFs.

The open invoices are bulk-inserted rather than issued one by one, but they are real
rows: sealed billing fields under their customer's fiscal key, unique numbers and
betalingskenmerken, two lines each. What is measured is the real code: the import is
`statement_import` on a CAMT.053 file written by the test helper, and each PDF is
made by the outbox's attachment generator as the mail worker does at delivery.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.__main__ import Figure, best_of

FIRST = [
    "Anna", "Bram", "Cor", "Daan", "Eva", "Fenna", "Gijs", "Hanna", "Ingrid", "Joost",
    "Kees", "Lotte", "Mees", "Noor", "Otto", "Pien", "Quinten", "Roos", "Sem", "Tess",
]  # fmt: skip
LAST = [
    "de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder",
    "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Dijk", "Dekker", "Brouwer",
]  # fmt: skip
INVOICES_PER_CUSTOMER = 4
ISSUED = dt.date(2026, 11, 1)


# A series of its own, so the ledger never meets invoices other benchmarks issued.
SERIES = "BENCH"


def _name(i: int) -> str:
    """A distinct name per customer: a first name, initials and a surname."""
    initials = f"{chr(65 + i // 320 % 26)}.{chr(65 + i // 8320 % 26)}."
    return f"{FIRST[i % 20]} {initials} {LAST[i // 20 % 16]}"


def _seal_keys(rows: Sequence[Any]) -> None:
    """Create the data keys of a chunk of unsaved rows in bulk, so bulk_create seals fast."""
    from kluis.vault import keys
    from kluis.vault.fields import sealed_fields

    fields = sealed_fields(type(rows[0]))
    keys.prefetch_or_create(
        {f.scope_for(r) for r in rows for f in fields if r.__dict__.get(f.attname) is not None}
    )


def _amount(j: int) -> tuple[int, int]:
    """Net and VAT of invoice j: amounts differ, so amount and name can single one out."""
    from kluis.billing.vat import vat_amount

    net = 995 + (j * 7919) % 49_000
    return net, vat_amount(net, 2100)


def _euro(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def build_ledger(n: int, statement: Path, unreferenced: Path | None = None) -> dict[str, int]:
    """`n` open invoices of n/4 customers, and a statement of `n` credits paying them.

    Of every 100 entries 90 carry the betalingskenmerk, 5 the invoice number in the
    description, 3 only the customer's name and the open amount (a proposal) and 2
    come from nobody we know. Returns how many of each the import should find.
    `unreferenced`: the same statement again, with no bank reference on any entry.
    """
    from django.db import transaction

    from kluis.accounts.models import Customer
    from kluis.billing.camt_write import Tx, stream_statement
    from kluis.billing.models import Invoice, InvoiceCounter, InvoiceLine
    from kluis.billing.reference import new_reference
    from kluis.vault.keys import key_scope

    customers_n = n // INVOICES_PER_CUSTOMER
    chunk = 5000
    expected = {"reference": 0, "invoice_number": 0, "proposed": 0, "none": 0}
    tag = uuid.uuid4().hex[:3].upper()
    references: set[str] = set()

    def reference() -> str:
        while (value := new_reference()) in references:
            pass
        references.add(value)
        return value

    def txs() -> Iterator[Tx]:
        with key_scope():
            ids: list[uuid.UUID] = []
            for start in range(0, customers_n, chunk):
                customers = [
                    Customer(
                        number=f"K{tag}{i:07d}",
                        name=_name(i),
                        email=f"klant{i}@example.nl",
                        address_street=f"Prinsengracht {i % 900 + 1}",
                        address_postcode="1016 GV",
                        address_city="Amsterdam",
                    )
                    for i in range(start, min(customers_n, start + chunk))
                ]
                _seal_keys(customers)
                with transaction.atomic():
                    Customer.objects.bulk_create(customers)
                ids += [c.pk for c in customers]
            for start in range(0, n, chunk):
                invoices = []
                for j in range(start, min(n, start + chunk)):
                    net, vat = _amount(j)
                    c = j % customers_n
                    invoice = Invoice(
                        series=SERIES,
                        sequence=j + 1,
                        number=f"{SERIES}{ISSUED.year}-{j + 1:06d}",
                        customer_id=ids[c],
                        issue_date=ISSUED,
                        supply_date=ISSUED,
                        due_date=ISSUED + dt.timedelta(days=14),
                        country="NL",
                        vat_scheme=Invoice.VatScheme.DUTCH,
                        vat_country="NL",
                        vat_rate_bp=2100,
                        net_cents=net,
                        vat_cents=vat,
                        total_cents=net + vat,
                        payment_reference=reference(),
                    )
                    invoice.billing_name = _name(c)
                    invoice.billing_street = f"Prinsengracht {c % 900 + 1}"
                    invoice.billing_postcode = "1016 GV"
                    invoice.billing_city = "Amsterdam"
                    invoices.append(invoice)
                _seal_keys(invoices)
                with transaction.atomic():
                    Invoice.objects.bulk_create(invoices)
                    InvoiceLine.objects.bulk_create(
                        InvoiceLine(
                            invoice=invoice,
                            position=position,
                            description=description,
                            unit_cents=unit,
                            net_cents=unit,
                        )
                        for invoice in invoices
                        for position, (description, unit) in enumerate(
                            [
                                ("Webwinkel Start, 12 maanden", invoice.net_cents - 995),
                                (f"winkel{invoice.sequence}.nl, 12 maanden", 995),
                            ]
                        )
                    )
                for invoice in invoices:
                    j = invoice.sequence - 1
                    name = _name(j % customers_n)
                    amount = _euro(invoice.total_cents)
                    kind = j % 100
                    if kind < 90:
                        expected["reference"] += 1
                        yield Tx(f"N{j:07d}", amount, name=name, kenmerk=invoice.payment_reference)
                    elif kind < 95:
                        expected["invoice_number"] += 1
                        yield Tx(f"N{j:07d}", amount, name=name, text=f"factuur {invoice.number}")
                    elif kind < 98:
                        expected["proposed"] += 1
                        yield Tx(f"N{j:07d}", amount, name=name, text="hosting")
                    else:
                        expected["none"] += 1
                        yield Tx(f"N{j:07d}", "12.34", name="Stichting Onbekend", text="gift")
            InvoiceCounter.objects.update_or_create(series=SERIES, defaults={"last": n})

    if unreferenced is None:
        stream_statement(statement, txs())
    else:
        made: list[Tx] = []

        def keep(source: Iterator[Tx]) -> Iterator[Tx]:
            for tx in source:
                made.append(tx)
                yield tx

        stream_statement(statement, keep(txs()))
        stream_statement(unreferenced, (replace(tx, reference="") for tx in made))
    from django.db import connection

    if connection.vendor == "postgresql":
        # A database in service has planner statistics (autovacuum keeps them); tables
        # filled in bulk a moment ago have none until it runs, so gather them now.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return expected


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def cpu_best_of(runs: int, work: Any) -> float:
    """The least CPU time (this process) of `runs` runs of `work`."""
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


def bare_iterparse(path: Path) -> int:
    """The floor: lxml's iterparse over the same file, clearing as it goes, no checks."""
    from lxml import etree  # type: ignore[import-untyped]

    count = 0
    ns = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
    for _, elem in etree.iterparse(str(path), events=("end",), tag=f"{{{ns}}}Ntry"):
        count += 1
        elem.clear(keep_tail=False)
        parent = elem.getparent()
        while elem.getprevious() is not None:
            del parent[0]
    return count


def import_in_child(path: Path) -> dict[str, Any]:
    """Run statement_import in a fresh process: its time, and the peak resident memory
    of that process (Django, lxml and the import), not disturbed by the set-up here."""
    out = subprocess.run(  # noqa: S603 - this interpreter, this module
        [sys.executable, "-m", "bench.billing", str(path)],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout
    return dict(json.loads(out.splitlines()[-1]))


def _child(path: Path) -> None:
    import django

    django.setup()
    from kluis.billing.statements import statement_import

    gc.collect()
    start_mib = _rss_kib("VmRSS") / 1024
    start, cpu, before = time.perf_counter(), time.process_time(), os.times()
    result = statement_import(path=path, imported_by=None)
    seconds = time.perf_counter() - start
    after = os.times()
    # The process that read the file ahead (kluis.billing.camt_ahead), reaped by now.
    reader_cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    reader_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    report = {
        "seconds": seconds,
        # CPU time of the importing process and of its reading process: on a shared
        # machine its ratio to the floor's CPU time moves less than the wall-clock one
        # (on SQLite the database work is in it too; PostgreSQL's own work is not).
        "cpu_seconds": time.process_time() - cpu + reader_cpu,
        "reader_cpu_seconds": reader_cpu,
        "start_mib": start_mib,
        # Both processes at their peaks at once: the most the import can hold.
        "peak_mib": _rss_kib("VmHWM") / 1024 + reader_mib,
        "reader_peak_mib": reader_mib,
        "entries": result.entries,
        "new": result.new,
        "matches": result.matches,
    }
    print(json.dumps(report))


def _unpay() -> None:
    """Undo an import: the ledger open again, for the next file against the same invoices."""
    from kluis.billing.models import BankStatement, Invoice, Payment, Refund

    Refund.objects.all().delete()
    Payment.objects.all().delete()
    BankStatement.objects.all().delete()
    Invoice.objects.filter(series=SERIES).update(paid_cents=0, paid_at=None)
    from django.db import connection

    if connection.vendor == "postgresql":
        # In service autovacuum clears the row versions this leaves behind; without it
        # the second file would be imported into tables of mostly dead rows.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def bench_statement_import(n: int = 100_000) -> list[Figure]:
    """The import of a 100,000-entry statement, with bank references and without.

    Target: under 15 s, and within 15 times the bare iterparse of the same file; the
    importing process under 500 MiB at its peak.
    """
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "camt053.xml"
        bare = Path(tmp) / "camt053-no-references.xml"
        expected = build_ledger(n, path, bare)
        for file, what in ((path, "with bank references"), (bare, "without bank references")):
            size = file.stat().st_size
            counted = [bare_iterparse(file)]
            floor = best_of(3, functools.partial(bare_iterparse, file))
            cpu_floor = cpu_best_of(3, functools.partial(bare_iterparse, file))
            assert counted[-1] == n
            report = import_in_child(file)
            assert (report["entries"], report["new"]) == (n, n), report
            assert report["matches"] == {k: v for k, v in expected.items() if v}, report
            took, peak = report["seconds"], report["peak_mib"]
            figures += [
                Figure(
                    f"import a CAMT.053 of {n:,} entries {what} ({size / 2**20:.0f} MiB) "
                    f"against {n:,} open invoices (floor: bare lxml.iterparse of the file)",
                    took,
                    "s",
                    floor,
                    "< 15 s, <= 15 x floor",
                    took < 15 and took <= 15 * floor,
                ),
                Figure(
                    f"CPU time of that import ({what}; the importing process and the "
                    f"one reading the file, {report['reader_cpu_seconds']:.2f} s of it; "
                    "floor: CPU time of the bare iterparse; steadier than wall time on a "
                    "shared machine)",
                    report["cpu_seconds"],
                    "s",
                    cpu_floor,
                    "(reported)",
                    None,
                ),
                Figure(
                    f"peak resident memory of that import ({what}; the importing "
                    f"process's peak plus the reading one's, {report['reader_peak_mib']:.0f} "
                    "MiB; floor: the process after start-up, before the import)",
                    peak,
                    "MiB",
                    report["start_mib"],
                    "< 500 MiB",
                    peak < 500,
                ),
            ]
            _unpay()
    return figures


def bench_invoice_pdfs(n: int = 10_000) -> list[Figure]:
    """PDFs of `n` issued invoices, made as the mail worker makes each attachment."""
    from django.utils.translation import override

    from kluis.audit.reveals import reveal_batch
    from kluis.billing.emails import MAILER, PDF_GENERATOR
    from kluis.billing.models import Invoice
    from kluis.billing.pdf import InvoiceFacts, euro, rate_text, render_invoice
    from kluis.mail.kinds import get_generator
    from kluis.vault.keys import key_scope

    ids = list(Invoice.objects.order_by("series", "sequence").values_list("pk", flat=True)[:n])
    assert len(ids) == n, "the statement benchmark makes the invoices"
    generate = get_generator(PDF_GENERATOR)
    sizes = [0]

    def issue() -> None:
        for pk in ids:
            # One key scope and one reveal batch per mail, as delivery opens them.
            with key_scope(), reveal_batch():
                sizes[0] = len(generate({"invoice_id": str(pk)}, MAILER))

    # The floor: the same pages from plain values, without the database and the vault.
    facts = []
    with override("nl"):
        for j in range(n):
            net, vat = _amount(j)
            facts.append(
                InvoiceFacts(
                    title="Factuur",
                    number=f"F{ISSUED.year}-{j + 1:06d}",
                    issue_date=ISSUED.strftime("%d-%m-%Y"),
                    supply_date=ISSUED.strftime("%d-%m-%Y"),
                    due_date=(ISSUED + dt.timedelta(days=14)).strftime("%d-%m-%Y"),
                    corrects="",
                    name=_name(j),
                    company="",
                    street=f"Prinsengracht {j % 900 + 1}",
                    postcode="1016 GV",
                    city="Amsterdam",
                    country="NL",
                    customer_number=f"K000{j:07d}",
                    customer_vat="",
                    lines=[
                        ("Webwinkel Start, 12 maanden", "1", euro(net - 995), euro(net - 995)),
                        (f"winkel{j + 1}.nl, 12 maanden", "1", euro(995), euro(995)),
                    ],
                    net=euro(net),
                    rate=rate_text(2100),
                    vat=euro(vat),
                    total=euro(net + vat),
                    vat_note="",
                    payment_reference=f"{j:016d}",
                )
            )

    def bare() -> None:
        for f in facts:
            render_invoice(f, "nl")

    took = best_of(1, issue)
    floor = best_of(1, bare)
    return [
        Figure(
            f"make {n:,} invoice PDFs as delivery does (load, reveal, render; "
            f"{sizes[0] // 1024} KiB each; floor: ReportLab drawing the same page "
            "from plain values)",
            n / took,
            "invoices/s",
            n / floor,
            "(reported)",
            None,
        )
    ]


if __name__ == "__main__":
    _child(Path(sys.argv[1]))
