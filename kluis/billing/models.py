"""Invoices and credit notes, their lines, the VAT rate table and the number counters.

An invoice is immutable once issued: only its payment state moves. The billing name,
company, address and VAT number are copied onto it at issue time and sealed under the
fiscal retention class of the fiscal year of its issue date, so they outlive the
customer record exactly as long as art. 52 AWR requires.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kluis.accounts.models import Customer, User
from kluis.shop.models import Order, VatCheck
from kluis.vault.fields import SealedField, SealedModel


class InvoiceImmutable(Exception):
    """An issued invoice was about to change; correct it with a credit note instead."""


class VatRate(models.Model):
    """The standard VAT rate of one EU country over a period (basis points: 2100 = 21 %)."""

    country = models.CharField(max_length=2)
    rate_bp = models.PositiveIntegerField()
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["country", "valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["country", "valid_from"], name="billing_rate_once"),
            models.CheckConstraint(
                condition=models.Q(valid_until__isnull=True)
                | models.Q(valid_until__gte=models.F("valid_from")),
                name="billing_rate_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country} {self.rate_bp / 100:g}% from {self.valid_from}"


class InvoiceCounter(models.Model):
    """The last number given out in one series; locked while the next is allocated."""

    series = models.CharField(max_length=10, primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.series}: {self.last}"


MUTABLE_FIELDS = frozenset({"paid_cents", "paid_at", "credited_at", "credited_cents"})


class InvoiceQuerySet(models.QuerySet["Invoice"]):
    def for_customer(self, customer: Customer) -> InvoiceQuerySet:
        return self.filter(customer=customer)

    def update(self, **kwargs: Any) -> int:
        if set(kwargs) - MUTABLE_FIELDS:
            raise InvoiceImmutable("an issued invoice does not change")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        raise InvoiceImmutable("an issued invoice is never deleted")


class Invoice(SealedModel):
    class Kind(models.TextChoices):
        INVOICE = "invoice", _("factuur")
        CREDIT_NOTE = "credit_note", _("creditnota")

    class VatScheme(models.TextChoices):
        DUTCH = "nl", _("Nederlandse btw")
        REVERSE_CHARGE = "reverse_charge", _("btw verlegd")
        OSS = "oss", _("btw van het land van de klant (OSS)")
        OUTSIDE_EU = "outside_eu", _("buiten de EU, geen Nederlandse btw")

    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INVOICE)
    series = models.CharField(max_length=10)
    sequence = models.PositiveIntegerField()
    number = models.CharField(max_length=24, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    order = models.OneToOneField(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="invoice"
    )
    # A credit note's invoice. An invoice may carry several partial credit notes (a
    # consumer's early end of one subscription after another); together they never
    # credit more than its total (services.credit_note_issue checks under its lock).
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    issue_date = models.DateField()
    supply_date = models.DateField()
    # A subscription period's invoice was delivered over a period: supply_date to this.
    supply_until = models.DateField(null=True, blank=True)
    due_date = models.DateField()
    language = models.CharField(max_length=2, default="nl")
    billing_name = SealedField(_("naam"), category="user.name", retention="fiscal")
    billing_company = SealedField(
        _("bedrijfsnaam"), category="user.contact.organization", retention="fiscal"
    )
    billing_street = SealedField(
        _("straat en huisnummer"), category="user.contact.address", retention="fiscal"
    )
    billing_postcode = SealedField(
        _("postcode"), category="user.contact.address", retention="fiscal"
    )
    billing_city = SealedField(_("plaats"), category="user.contact.address", retention="fiscal")
    billing_vat_number = SealedField(
        _("btw-nummer"), category="kluis.vat_number", retention="fiscal"
    )
    country = models.CharField(max_length=2)
    vat_scheme = models.CharField(max_length=16, choices=VatScheme.choices)
    vat_country = models.CharField(max_length=2)
    vat_rate_bp = models.PositiveIntegerField()
    # The VIES answer that allowed reverse charge (evidence, art. 44/196 VAT Directive).
    vat_check = models.ForeignKey(
        VatCheck, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    net_cents = models.IntegerField()
    vat_cents = models.IntegerField()
    total_cents = models.IntegerField()
    payment_reference = models.CharField(max_length=16, unique=True)
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    paid_cents = models.IntegerField(default=0)
    paid_at = models.DateTimeField(null=True, blank=True)
    # When a credit note cancelled this invoice: money for it from then on is paid back.
    credited_at = models.DateTimeField(null=True, blank=True)
    # What its credit notes took off it together (positive; their totals are negative),
    # kept under the invoice's row lock by services.credit_note_issue: what is still
    # owed is total - credited, and what is still to pay total - credited - paid.
    credited_cents = models.IntegerField(default=0)

    vault_subject_field: ClassVar[str] = "customer_id"

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        verbose_name = _("factuur")
        verbose_name_plural = _("facturen")
        ordering = ["series", "sequence"]
        # A customer's invoices newest first, in the API's stable order (kluis/api).
        indexes = [
            models.Index(
                fields=["customer", "-issued_at", "-number"], name="billing_customer_issued"
            )
        ]
        constraints = [
            models.UniqueConstraint(fields=["series", "sequence"], name="billing_number_once"),
            models.CheckConstraint(
                condition=models.Q(total_cents=models.F("net_cents") + models.F("vat_cents")),
                name="billing_total_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def vault_period(self, retention_class: str) -> str:
        # Fiscal records are kept per fiscal year (the calendar year here).
        return str(self.issue_date.year)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            fields = kwargs.get("update_fields")
            if fields is None or set(fields) - MUTABLE_FIELDS:
                raise InvoiceImmutable(f"invoice {self.number} is issued and does not change")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise InvoiceImmutable(f"invoice {self.number} is issued and is never deleted")

    @property
    def reverse_charged(self) -> bool:
        return self.vat_scheme == self.VatScheme.REVERSE_CHARGE

    @property
    def service_period(self) -> tuple[dt.date, dt.date] | None:
        """The first and last day of what it invoices: its supply period, else the
        periods its lines cover (an order's first period, known from its delivery)."""
        if self.supply_until is not None:
            return self.supply_date, self.supply_until
        periods = [
            (line.period_start, line.period_end)
            for line in self.lines.all()
            if line.period_start is not None and line.period_end is not None
        ]
        if not periods:
            return None
        return min(start for start, _end in periods), max(end for _start, end in periods)

    @property
    def due_cents(self) -> int:
        """What is owed on it after its credit notes (0 once credited in full)."""
        if self.credited_at is not None:
            return 0
        return max(self.total_cents - self.credited_cents, 0)

    @property
    def open_cents(self) -> int:
        """What is still to pay: owed minus paid (negative when paid over it)."""
        return self.due_cents - self.paid_cents

    @property
    def is_paid(self) -> bool:
        """Paid all that is owed. One credited in full is not paid but credited, also
        when something was paid on it before (that is proposed for refund)."""
        due = self.due_cents
        return due > 0 and self.paid_cents >= due

    @property
    def is_payable(self) -> bool:
        """An invoice with something still to pay: its total less what credit notes took
        off it and what was paid."""
        return self.kind == self.Kind.INVOICE and self.open_cents > 0

    def is_overdue(self, today: dt.date | None = None) -> bool:
        return self.open_cents > 0 and (today or timezone.localdate()) > self.due_date

    def take_payment(self, amount_cents: int, *, at: dt.datetime) -> tuple[bool, int]:
        """Add a payment to this row, unsaved; the caller holds the row's lock.

        Returns whether the invoice became paid just now (so that is announced once)
        and how much of the payment is over the total, for a refund proposal.
        """
        due = self.due_cents
        if due == 0:
            # Cancelled or credited in full (an order cancelled or withdrawn): nothing
            # is owed, so the whole payment is proposed for refund and nothing settles.
            return False, amount_cents
        # Owed is what credit notes left of the total: a payment of exactly that settles.
        before = max(self.paid_cents - due, 0)
        self.paid_cents += amount_cents
        settled = self.paid_cents >= due and self.paid_at is None
        if settled:
            self.paid_at = at
        return settled, max(self.paid_cents - due, 0) - before

    def take_back(self, amount_cents: int) -> bool:
        """Take money that left again (a chargeback) off this row, unsaved; the caller
        holds the row's lock.

        The payment itself stays as it came in; what the invoice has been paid goes
        down, and once that is less than what is owed the invoice is open again (its
        `paid_at` cleared). Returns whether it was paid before and is open now.
        """
        was_paid = self.paid_at is not None
        self.paid_cents -= amount_cents
        if self.paid_cents < self.due_cents:
            self.paid_at = None
        return was_paid and self.paid_at is None


class OssEvidence(SealedModel):
    """The evidence of where an OSS customer lives: the billing address of the invoice.

    EU VAT for electronic services to consumers is owed in the customer's country; the
    evidence of that country is kept 10 years from the end of the year of the supply
    (art. 369k VAT Directive, art. 63c Implementing Regulation 282/2011), longer than the
    invoice itself (7 years, art. 52 AWR). So it is copied here, sealed under its own
    retention class, per fiscal year.
    """

    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="oss_evidence")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    country = models.CharField(max_length=2)
    street = SealedField(
        _("straat en huisnummer"), category="user.contact.address", retention="oss_evidence"
    )
    postcode = SealedField(_("postcode"), category="user.contact.address", retention="oss_evidence")
    city = SealedField(_("plaats"), category="user.contact.address", retention="oss_evidence")
    recorded_at = models.DateTimeField(default=timezone.now)

    vault_subject_field: ClassVar[str] = "customer_id"

    class Meta:
        verbose_name = _("bewijs van het land van de klant (OSS)")
        verbose_name_plural = _("bewijzen van het land van de klant (OSS)")

    def __str__(self) -> str:
        return f"OSS evidence of {self.invoice_id}"

    def vault_period(self, retention_class: str) -> str:
        # Ten years from the end of the year of the supply: the invoice's year.
        return str(self.invoice.issue_date.year)


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField()
    description = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField(default=1)
    unit_cents = models.IntegerField()
    net_cents = models.IntegerField()
    # The period a subscription line covers (its first and last day).
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="billing_line_position")
        ]

    def __str__(self) -> str:
        return self.description

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise InvoiceImmutable("the lines of an issued invoice do not change")
        super().save(*args, **kwargs)


class InvoiceLineDomain(SealedModel):
    """The domain name a line of an invoice names, sealed under the fiscal class of the
    invoice's year: the line's description keeps DOMAIN_MARK in its place.

    Apart from the shop's DomainName (customer record), because an invoice keeps its
    content for as long as art. 52 AWR requires, after the customer record is erased.
    """

    line = models.OneToOneField(InvoiceLine, on_delete=models.PROTECT, related_name="domain")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    fiscal_year = models.PositiveSmallIntegerField()
    name = SealedField(_("domeinnaam"), category="kluis.domain_name", retention="fiscal")

    vault_subject_field: ClassVar[str] = "customer_id"

    def __str__(self) -> str:
        return f"domain of invoice line {self.line_id}"

    def vault_period(self, retention_class: str) -> str:
        return str(self.fiscal_year)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise InvoiceImmutable("the lines of an issued invoice do not change")
        super().save(*args, **kwargs)


class BankStatement(models.Model):
    """One imported CAMT.053 file: which statement of which account, and when."""

    version = models.CharField(max_length=2)
    message_id = models.CharField(max_length=35)
    statement_id = models.CharField(max_length=35)
    sha256 = models.CharField(max_length=64)
    entries = models.PositiveIntegerField(default=0)
    new_payments = models.PositiveIntegerField(default=0)
    imported_at = models.DateTimeField(default=timezone.now)
    imported_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return f"{self.message_id}/{self.statement_id}"


class Payment(SealedModel):
    """A credit on our account from a bank statement, and what it was matched to.

    The payer's IBAN, name, the remittance text and the reference are sealed under the
    payment category (R2, R15) of the fiscal year of the booking date. A payment that
    matched an invoice belongs to that invoice's customer; one that did not is a data
    subject of its own until finance links it.
    """

    class Match(models.TextChoices):
        REFERENCE = "reference", _("betalingskenmerk")
        INVOICE_NUMBER = "invoice_number", _("factuurnummer in de omschrijving")
        PROPOSED = "proposed", _("voorstel op bedrag en naam")
        STAFF = "staff", _("gekoppeld door de financiële administratie")
        ONLINE = "online", _("online betaald (iDEAL)")
        # A payout of the payment service provider: the payments in it are recorded
        # already (ONLINE), each on its invoice; this is their money arriving.
        SETTLEMENT = "settlement", _("uitbetaling van de betaaldienst")
        NONE = "none", _("niet gekoppeld")

    # The statement it came on; none for a payment made online (see OnlinePayment).
    statement = models.ForeignKey(
        BankStatement, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    # The reference of the entry (the bank's own, else a fingerprint of its content)
    # and the account of ours it was booked on: importing a statement twice adds
    # nothing, and the same bank reference on another account of ours is another entry.
    entry_reference = models.CharField(max_length=64)
    # The IBAN of our account; "" for an online payment and for payments imported
    # before accounts were recorded (those count as seen on every account of ours).
    account = models.CharField(max_length=34, blank=True, default="")
    subject = models.UUIDField()
    booking_date = models.DateField()
    amount_cents = models.PositiveBigIntegerField()
    iban = SealedField(_("IBAN"), category="user.financial.bank_account")
    holder = SealedField(_("rekeninghouder"), category="user.financial.bank_account")
    remittance = SealedField(_("omschrijving"), category="user.financial.bank_account")
    reference = SealedField(_("betalingskenmerk"), category="user.financial.bank_account")
    match = models.CharField(max_length=16, choices=Match.choices)
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    proposed_invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="proposals"
    )
    created_at = models.DateTimeField(default=timezone.now)

    vault_subject_field: ClassVar[str] = "subject"

    class Meta:
        verbose_name = _("betaling")
        verbose_name_plural = _("betalingen")
        ordering = ["booking_date", "entry_reference"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_cents__gt=0), name="billing_paid_more"
            ),
            # entry_reference first: the import looks entries up by reference alone.
            models.UniqueConstraint(
                fields=["entry_reference", "account"], name="billing_entry_once_per_account"
            ),
        ]

    def __str__(self) -> str:
        return self.entry_reference

    def vault_period(self, retention_class: str) -> str:
        return str(self.booking_date.year)


class RefundExport(models.Model):
    """One pain.001 credit-transfer file made of approved refunds (its hash, not its data).

    The file's personal data (accounts and holders) stay sealed on the payments; what
    else the file says is kept here (its moment, execution day, our account and name),
    so that `refunds_export_again` rebuilds it byte for byte and checks the hash.
    """

    message_id = models.CharField(max_length=35, unique=True)
    sha256 = models.CharField(max_length=64)
    count = models.PositiveIntegerField()
    total_cents = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    # Empty for files made before these were kept: those cannot be rebuilt.
    execution_date = models.DateField(null=True, blank=True)
    debtor_iban = models.CharField(max_length=34, blank=True, default="")
    debtor_name = models.CharField(max_length=70, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.message_id


class Refund(models.Model):
    """An overpayment to pay back to the account it came from (R15), four-eyes approved.

    The account and holder are not copied: they are read from the payment, sealed
    under the payment category, for the refunds purpose when the file is made.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("voorgesteld")
        APPROVED = "approved", _("goedgekeurd")
        EXPORTED = "exported", _("in betaalbestand")
        SENT = "sent", _("teruggestort via de betaaldienst")
        REJECTED = "rejected", _("afgewezen")
        # Not paid back because the money went to what the customer paid it for after
        # all (a restored domain's term): see SetOff.
        WITHDRAWN = "withdrawn", _("ingetrokken: verrekend")

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="refunds")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount_cents = models.PositiveBigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    proposed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    export = models.ForeignKey(
        RefundExport, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    # A refund of an online payment goes back through the provider: its refund id.
    provider_refund_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    # Who entered the account to pay back to, when the statement gave none (or a bad
    # one): that makes them its proposer, so a second user approves that account too.
    payee_entered_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Why the last payment file left this approved refund out (a code of HELD_REASONS),
    # or CHARGEBACK: the payment was charged back, so the money to refund is gone
    # (kluis/billing/chargebacks.py cancels, holds or flags the refund).
    held_reason = models.CharField(max_length=16, blank=True, default="")
    # Held after a chargeback (approved): how much of it the money left still covers, for
    # finance to read (0: nothing). None when not held for a chargeback.
    held_fits_cents = models.PositiveBigIntegerField(null=True, blank=True)
    # A proposal a chargeback cancelled because only part of it still fit is replaced by
    # a proposal of that part, on the same payment: this is the cancelled one.
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )

    # A held approved refund finance rejected (no second user needed), and why.
    rejected_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejected_reason = models.CharField(max_length=300, blank=True, default="", db_default="")

    CHARGEBACK: ClassVar[str] = "chargeback"
    # Statuses of a proposal whose money is not paid back from its invoice: rejected, or
    # withdrawn because it was set off against another invoice (its SetOff says how much).
    NOT_PAID_BACK: ClassVar[tuple[str, str]] = ("rejected", "withdrawn")

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_cents__gt=0), name="billing_refund_positive"
            ),
            models.CheckConstraint(
                condition=~models.Q(approved_by=models.F("proposed_by")),
                name="billing_refund_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"refund {self.amount_cents} on {self.invoice_id}"


class SetOff(models.Model):
    """Money paid on one invoice over what it owes, set off against another invoice of
    the same customer (verrekening, art. 6:127 BW) instead of paid back.

    Made when a domain deleted for non-payment is restored because its renewal was paid
    late (kluis/billing/reinstate.py): the renewal invoice stays credited (a credit note
    is never taken back), the refund proposal the payment made is withdrawn, and the
    money goes to the new invoice for the restored term. The payment itself stays on the
    invoice it was paid for; `from_invoice.paid_cents` goes down and
    `to_invoice.paid_cents` up by `amount_cents`, in one transaction with this row. One
    set-off per refund proposal: a rerun sets nothing off twice.
    """

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="set_offs")
    refund = models.OneToOneField(Refund, on_delete=models.PROTECT, related_name="set_off")
    from_invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="set_offs_out")
    to_invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="set_offs_in")
    amount_cents = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_cents__gt=0), name="billing_set_off_positive"
            )
        ]

    def __str__(self) -> str:
        return f"set-off {self.amount_cents} {self.from_invoice_id} -> {self.to_invoice_id}"


class OnlinePayment(models.Model):
    """A payment started at the payment service provider (iDEAL through Mollie).

    It holds no personal data: the provider's id, the invoice, the amount and the
    provider's last status. Once the provider says it is paid, the money becomes a
    billing Payment (`payment`), sealed with the payer's name and IBAN.
    """

    provider_id = models.CharField(max_length=64, unique=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="online_payments")
    amount_cents = models.PositiveBigIntegerField()
    status = models.CharField(max_length=12)
    checkout_url = models.URLField(max_length=500, blank=True)
    payment = models.OneToOneField(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="online"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.provider_id


class Chargeback(models.Model):
    """The payer's bank took (part of) an online payment back: a chargeback the payment
    service provider reported (kluis/billing/chargebacks.py).

    Its own ledger entry beside the payment, which stays as it came in: the payment is
    the money that arrived, this the money that left again. Recording it takes its
    amount off what the invoice has been paid, so the invoice is open again. When the
    payer's bank withdraws it (`reversed_at`), the amount counts as paid again. No
    personal data: the provider's id, amounts and dates.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", _("teruggeboekt")
        REVERSED = "reversed", _("terugboeking ingetrokken door de bank")

    provider_id = models.CharField(max_length=64, unique=True)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="chargebacks")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="chargebacks")
    amount_cents = models.PositiveBigIntegerField()
    # The bank's reason as the provider gives it (a SEPA code such as MD06), or "".
    reason_code = models.CharField(max_length=16, blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    # When the provider received it, and what the invoice then had open.
    received_at = models.DateTimeField()
    open_cents = models.IntegerField()
    # The day the customer's mail asks them to pay by; reminders wait until after it.
    pay_by = models.DateField()
    reversed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class MailHeld(models.TextChoices):
        REFUSED = "refused", _("de kluis gaf het e-mailadres niet vrij (beperking of bezwaar)")
        ERASED = "erased", _("de klant is gewist; er is geen e-mailadres meer")
        NO_ADDRESS = "no_address", _("geen e-mailadres bekend")

    # Why the customer was not mailed about it ("" when they were).
    mail_held = models.CharField(
        max_length=16, choices=MailHeld.choices, blank=True, default="", db_default=""
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_cents__gt=0), name="billing_chargeback_takes_money"
            ),
        ]

    def __str__(self) -> str:
        return f"chargeback {self.provider_id} of {self.invoice_id}"


# --- reminders and collections (the workflow is in kluis/billing/dunning.py) ------------


class Reminder(models.Model):
    """One reminder of an unpaid invoice, sent once per stage of a round (R29).

    The amounts are those of the day it went out: the open amount and, in the
    statutory letter, the collection costs it announces. Paying the invoice closes it.
    A chargeback that opens a paid invoice again starts a new round (`round` + 1): its
    schedule runs again from reminder 1 (kluis/billing/dunning.py, `standing`).
    """

    STATUTORY_LETTER = "statutory_letter"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="reminders")
    # reminder_1, reminder_2, … in the order of KLUIS_REMINDER_DAYS, or statutory_letter
    stage = models.CharField(max_length=20)
    # 1, and one more for each time a chargeback opened the paid invoice again.
    round = models.PositiveSmallIntegerField(default=1, db_default=1)
    sent_on = models.DateField()
    pay_by = models.DateField()
    open_cents = models.IntegerField()
    costs_cents = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sent_on", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "round", "stage"], name="billing_reminder_once_per_round"
            ),
            models.CheckConstraint(
                condition=models.Q(pay_by__gte=models.F("sent_on")), name="billing_reminder_term"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stage} of {self.invoice_id}"

    @property
    def is_statutory_letter(self) -> bool:
        return self.stage == self.STATUTORY_LETTER

    @property
    def label(self) -> str:
        from django.utils.translation import gettext

        if self.is_statutory_letter:
            return gettext("wettelijke aanmaning (veertiendagenbrief)")
        return gettext("herinnering %(number)s") % {"number": self.stage.rpartition("_")[2]}


class CollectionHandover(models.Model):
    """An unpaid invoice handed to the debt collector, approved by a second finance user.

    The CSV and PDF for the collector are made from the sealed customer record when
    they are downloaded; their hashes as approved are kept here, the files are not.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("voorgesteld")
        APPROVED = "approved", _("overgedragen")
        REJECTED = "rejected", _("afgewezen")
        CANCELLED = "cancelled", _("vervallen: betaald vóór de overdracht")
        PAID_AFTER_HANDOVER = "paid_after_handover", _("betaald na de overdracht")
        # A credit note left nothing to claim: before approval, after it.
        CREDITED = "credited", _("vervallen: gecrediteerd vóór de overdracht")
        WITHDRAWN = "withdrawn", _("ingetrokken: gecrediteerd na de overdracht")

    ACTIVE = (Status.PROPOSED, Status.APPROVED, Status.PAID_AFTER_HANDOVER)

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="handovers")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROPOSED)
    proposed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    open_cents = models.IntegerField()
    costs_cents = models.IntegerField()
    language = models.CharField(max_length=2, default="nl")
    csv_sha256 = models.CharField(max_length=64, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # A credit note after approval lowered the amount (dunning.dunning_invoice_credited):
    # open_cents and costs_cents are the new ones; the collector is to be told.
    amended_at = models.DateTimeField(null=True, blank=True)
    # Paid after approval and then charged back (dunning.dunning_invoice_charged_back):
    # the claim stands again with the collector, who is to be told.
    charged_back_at = models.DateTimeField(null=True, blank=True)
    collector_told_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(decided_by=models.F("proposed_by")),
                name="billing_handover_four_eyes",
            ),
            models.UniqueConstraint(
                fields=["invoice"],
                condition=models.Q(status__in=["proposed", "approved", "paid_after_handover"]),
                name="billing_handover_once",
            ),
        ]

    def __str__(self) -> str:
        return f"hand-over of {self.invoice_id} ({self.status})"

    @property
    def charged_back_untold(self) -> bool:
        """With the collector again after the payment was charged back, and the collector
        not yet told."""
        return (
            self.status == self.Status.APPROVED
            and self.charged_back_at is not None
            and self.collector_told_at is None
        )

    @property
    def label(self) -> str:
        """Its status as finance reads it."""
        if self.charged_back_untold:
            from django.utils.translation import gettext

            return gettext("betaling teruggeboekt na overdracht")
        return str(self.get_status_display())


class PayoutCheck(models.Model):
    """A payout of the payment service provider on a statement, checked against the
    online payments it settles (kluis/billing/payouts.py).

    The payout (a Payment of match SETTLEMENT) pays nothing: its payments were recorded
    when the provider said they were paid. What it should hold is the sum of those of
    kluis's online payments the provider lists in the settlement, less the provider's
    costs when the settlement states them. Anything else is flagged for finance. No
    personal data: amounts, the provider's ids and a technical reason.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("nog te controleren")
        MATCHES = "matches", _("klopt")
        DIFFERS = "differs", _("wijkt af")
        FAILED = "failed", _("kon niet worden gecontroleerd")

    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="payout_check")
    reference = models.CharField(max_length=40)  # the settlement's bank reference
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    settlement_id = models.CharField(max_length=64, blank=True)
    paid_out_cents = models.BigIntegerField()  # what the statement shows
    provider_cents = models.BigIntegerField(null=True, blank=True)  # what the provider says
    online_cents = models.BigIntegerField(null=True, blank=True)  # kluis's payments in it
    fees_cents = models.BigIntegerField(null=True, blank=True)  # None: not stated
    difference_cents = models.BigIntegerField(null=True, blank=True)
    payments = models.PositiveIntegerField(default=0)
    # Payments the settlement lists that kluis has not recorded as paid online.
    unknown_payments = models.PositiveIntegerField(default=0)
    # What the payout deducts: refunds kluis sent through the provider (their amounts
    # as kluis recorded them) and chargebacks of online payments kluis recorded (as the
    # provider states them); how many of each the settlement lists.
    refunds_cents = models.BigIntegerField(null=True, blank=True)
    chargebacks_cents = models.BigIntegerField(null=True, blank=True)
    refunds = models.PositiveIntegerField(default=0)
    chargebacks = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Why it differs or failed: codes of PAYOUT_REASONS, separated by commas.
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"payout {self.reference} ({self.status})"

    @property
    def reasons(self) -> list[str]:
        """The reasons, as finance reads them."""
        return [str(PAYOUT_REASONS.get(code, code)) for code in self.reason.split(",") if code]


PAYOUT_REASONS = {
    "currency": _("De uitbetaling is niet in euro."),
    "unknown_payments": _("Er zitten betalingen in die hier niet als online betaald bekend zijn."),
    "no_costs": _("De betaaldienst noemt geen kosten; die zijn niet afgetrokken."),
    "unknown_refunds": _(
        "Er zijn terugbetalingen afgetrokken die hier niet als via de betaaldienst "
        "teruggestort bekend zijn."
    ),
    "unknown_chargebacks": _(
        "Er zijn terugboekingen (chargebacks) afgetrokken van betalingen die hier niet als "
        "online betaald bekend zijn."
    ),
    "provider_amount": _("De betaaldienst noemt een ander bedrag dan het afschrift."),
    "amount": _(
        "Het bedrag op het afschrift is niet de online betalingen min de terugbetalingen, "
        "de terugboekingen en de kosten."
    ),
    "unknown_settlement": _("De betaaldienst kent deze uitbetaling niet."),
    "not_configured": _("Er is geen betaaldienst ingesteld."),
    "provider_error": _(
        "De betaaldienst gaf geen antwoord of weigerde. Mollie geeft uitbetalingen alleen "
        "met een organisatietoken (KLUIS_MOLLIE_ORGANISATION_TOKEN); we proberen het later "
        "opnieuw."
    ),
}
