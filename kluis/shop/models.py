"""The shop: catalogue, orders and their lines, and the evidence of what was agreed.

Catalogue rows hold no personal data. An order belongs to a customer (its vault
subject); everything personal on it (the free text, the KvK extract, the IP address
of an acceptance, the VAT number checked, the domain names) is sealed under that
customer's keys.
"""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from typing import ClassVar

from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kluis.accounts.models import Customer, User
from kluis.vault.fields import BlindIndexField, SealedField, SealedFileField, SealedModel

# The highest catalogue price, per period: € 10.000,00. A price typed with a few zeros
# too many is refused by the forms and by the database.
MAX_PRICE_CENTS = 1_000_000
price_bound = MaxValueValidator(
    MAX_PRICE_CENTS, message=_("Een prijs is hoogstens € 10.000,00 per periode.")
)


# Where a line's text names its domain: the text is kept with this mark, the domain
# itself sealed beside it, and the two come together only when the line is shown.
DOMAIN_MARK = "{domein}"


def with_domain(text: str, domain: str | None) -> str:
    """A line's text with its domain in place of the mark (masked when not revealed)."""
    return text.replace(DOMAIN_MARK, domain if domain is not None else "\u2022" * 8)


class Period(models.TextChoices):
    MONTH = "month", _("per maand")
    YEAR = "year", _("per jaar")


class Product(models.Model):
    class Kind(models.TextChoices):
        WEBSHOP = "webshop", _("Webwinkelpakket")
        WEBSITE = "website", _("Websitepakket")

    code = models.SlugField(max_length=40, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name_nl = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    description_nl = models.CharField(max_length=300, blank=True)
    description_en = models.CharField(max_length=300, blank=True)
    price_cents = models.PositiveIntegerField(validators=[price_bound])
    period = models.CharField(max_length=5, choices=Period.choices, default=Period.MONTH)
    # How many mailboxes the package holds; 0: a package without mail. The customer
    # gives their addresses in the portal (kluis/usage/mailboxes.py).
    mailboxes = models.PositiveSmallIntegerField(_("mailboxen in het pakket"), default=0)
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["kind", "position", "code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price_cents__gte=0), name="shop_product_price"
            ),
            models.CheckConstraint(
                condition=models.Q(price_cents__lte=MAX_PRICE_CENTS),
                name="shop_product_price_bound",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_nl

    def description(self, language: str) -> str:
        return self.description_en if language == "en" else self.description_nl


class DomainExtension(models.Model):
    """A top-level domain we register, its registry, and whether that registry is in the EU."""

    tld = models.CharField(max_length=20, unique=True)
    registry = models.CharField(max_length=60)
    registry_country = models.CharField(max_length=2)
    eu = models.BooleanField()
    # Whether the registry registers internationalised names (xn--…) under this TLD.
    idn = models.BooleanField(default=False)
    price_cents = models.PositiveIntegerField(validators=[price_bound])
    # What a transfer to us costs: it pays the first period, after which the domain
    # renews at `price_cents`. Whether the registry adds a year to a transfer is its
    # rule (kluis/domains/registries.py, `transfer_years`), not the shop's.
    transfer_price_cents = models.PositiveIntegerField(
        _("prijs van een verhuizing (centen, excl. btw)"), default=0, validators=[price_bound]
    )
    period = models.CharField(max_length=5, choices=Period.choices, default=Period.YEAR)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-eu", "tld"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price_cents__lte=MAX_PRICE_CENTS),
                name="shop_extension_price_bound",
            ),
            models.CheckConstraint(
                condition=models.Q(transfer_price_cents__lte=MAX_PRICE_CENTS),
                name="shop_extension_transfer_price_bound",
            ),
        ]

    def __str__(self) -> str:
        return f".{self.tld}"


class OrderQuerySet(models.QuerySet["Order"]):
    def for_customer(self, customer: Customer) -> OrderQuerySet:
        return self.filter(customer=customer)


class Order(SealedModel):
    class Status(models.TextChoices):
        RECEIVED = "received", _("ontvangen")
        AWAITING_PAYMENT = "awaiting_payment", _("wacht op betaling")
        PAID = "paid", _("betaald")
        IN_PROGRESS = "in_progress", _("in behandeling")
        DELIVERED = "delivered", _("opgeleverd")
        CANCELLED = "cancelled", _("geannuleerd")
        WITHDRAWN = "withdrawn", _("herroepen")

    class Vat(models.TextChoices):
        NOT_ASKED = "not_asked", _("niet van toepassing")
        PENDING = "pending", _("wacht op VIES")
        VALID = "valid", _("geldig in VIES (btw verlegd)")
        INVALID = "invalid", _("ongeldig in VIES (btw berekend)")

    # Which moves staff may make; anything else is refused. A consumer's withdrawal is
    # not a staff move: the consumer makes it (services.order_withdraw), from any status
    # but cancelled and withdrawn, within the period of kluis/shop/consumer.py.
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        "received": frozenset({"awaiting_payment", "cancelled"}),
        "awaiting_payment": frozenset({"paid", "cancelled"}),
        "paid": frozenset({"in_progress", "cancelled"}),
        "in_progress": frozenset({"delivered", "cancelled"}),
        "delivered": frozenset(),
        "cancelled": frozenset(),
        "withdrawn": frozenset(),
    }

    number = models.CharField(max_length=20, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    # The token of the cart that was checked out: one cart makes at most one order.
    idempotency_key = models.CharField(max_length=64, unique=True)
    language = models.CharField(max_length=2, default="nl")
    notes = SealedField(_("opmerkingen"), category="kluis.order_notes")
    total_cents = models.PositiveIntegerField(default=0)
    vat_status = models.CharField(max_length=10, choices=Vat.choices, default=Vat.NOT_ASKED)
    agreement_version = models.CharField(max_length=20)
    processor_agreement_version = models.CharField(max_length=20)
    # R27/R28: consent to the transfer to a non-EU registry, and the WHOIS/RDAP notice shown.
    non_eu_consent = models.BooleanField(default=False)
    whois_notice_version = models.CharField(max_length=20, blank=True)
    # Ordered as a consumer (a natural person not acting for a business), at the time
    # of the order: the consumer-only rules of kluis/shop/consumer.py apply to it.
    consumer = models.BooleanField(default=False)
    # The withdrawal information shown before the order ("" = none was shown), and the
    # consumer's express request to start within the withdrawal period (with its
    # acknowledgement kept as an Acceptance of "start_request").
    withdrawal_info_version = models.CharField(max_length=20, blank=True)
    start_now_requested = models.BooleanField(default=False)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)
    # Placed at checkout, without logging in, with the address of an existing account:
    # nothing happens to it until the account's owner logs in and confirms it, so the
    # checkout answers an unknown and a known address alike (no account oracle).
    awaiting_owner = models.BooleanField(default=False)

    vault_subject_field: ClassVar[str] = "customer_id"

    objects = OrderQuerySet.as_manager()

    class Meta:
        verbose_name = _("bestelling")
        verbose_name_plural = _("bestellingen")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.status]

    @property
    def next_statuses(self) -> list[str]:
        return [s for s in self.Status.values if self.can_move_to(s)]

    @property
    def waits_for_vies(self) -> bool:
        return self.vat_status == self.Vat.PENDING

    @property
    def has_domains(self) -> bool:
        return self.lines.filter(kind=OrderLine.Kind.DOMAIN).exists()


class DomainName(SealedModel):
    """A domain name of a customer, ordered or running.

    The name is public in the DNS once registered, but that it is this customer's is
    personal data (keesjansen.nl): it is sealed under the customer's key, with a blind
    index for exact look-up, so a copied database does not link a person to a domain.
    An order line and the subscription it starts share the row.
    """

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="domain_names")
    name = SealedField(_("domeinnaam"), category="kluis.domain_name")
    name_index = BlindIndexField(source="name", kind="text")
    created_at = models.DateTimeField(default=timezone.now)

    vault_subject_field: ClassVar[str] = "customer_id"

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"domain name {self.pk} of {self.customer_id}"


class OrderLine(models.Model):
    class Kind(models.TextChoices):
        PRODUCT = "product", _("pakket")
        DOMAIN = "domain", _("domeinnaam")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.PROTECT)
    extension = models.ForeignKey(DomainExtension, null=True, blank=True, on_delete=models.PROTECT)
    # A domain line's description is DOMAIN_MARK; the name is sealed in domain_name.
    domain_name = models.ForeignKey(
        DomainName, null=True, blank=True, on_delete=models.PROTECT, related_name="order_lines"
    )
    description = models.CharField(max_length=300)
    # The first period's price (a transfer's: the extension's transfer price).
    price_cents = models.PositiveIntegerField()
    period = models.CharField(max_length=5, choices=Period.choices)
    # A domain transferred to us (not registered anew), and what each later period
    # costs when that differs from the first (None: price_cents).
    transfer = models.BooleanField(default=False)
    renewal_price_cents = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="shop_line_position")
        ]

    def __str__(self) -> str:
        return self.description

    @property
    def recurring_price_cents(self) -> int:
        """What each period after the first costs, as ordered."""
        return self.price_cents if self.renewal_price_cents is None else self.renewal_price_cents


class VatCheck(SealedModel):
    """A VIES answer kept as evidence: valid or not, when, and its consultation number.

    VIES also returns the trader's name and address; those are not kept (a hash of
    the whole answer is, so the answer can be matched if it is ever produced again).
    """

    class Result(models.TextChoices):
        VALID = "valid", _("geldig")
        INVALID = "invalid", _("ongeldig")
        UNAVAILABLE = "unavailable", _("VIES niet bereikbaar")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="vat_checks")
    vat_number = SealedField(_("btw-nummer"), category="kluis.vat_number")
    country = models.CharField(max_length=2)
    result = models.CharField(max_length=12, choices=Result.choices)
    detail = models.CharField(max_length=60, blank=True)
    request_date = models.CharField(max_length=40, blank=True)
    request_identifier = models.CharField(max_length=60, blank=True)
    answer_sha256 = models.CharField(max_length=64, blank=True)
    checked_at = models.DateTimeField(default=timezone.now)
    # A manual check by finance, when VIES stays unavailable: who, and how (the
    # evidence, in their words: "VIES-website, raadplegingsnummer ...", "belastingdienst
    # België gebeld, ..."). Empty for VIES' own answers.
    checked_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    method = models.CharField(_("hoe gecontroleerd"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("btw-controle in VIES")
        verbose_name_plural = _("btw-controles in VIES")
        ordering = ["checked_at"]

    def __str__(self) -> str:
        return f"VIES {self.result} for {self.order_id}"

    @property
    def is_manual(self) -> bool:
        return self.checked_by_id is not None

    @property
    def explanation(self) -> str:
        """What the answer means, in a sentence staff can act on (never "URLError")."""
        if self.is_manual:
            verdict = (
                gettext("geldig") if self.result == self.Result.VALID else gettext("niet geldig")
            )
            return gettext("Met de hand gecontroleerd: %(verdict)s. Hoe: %(method)s") % {
                "verdict": verdict,
                "method": self.method,
            }
        if self.result == self.Result.VALID:
            return gettext("VIES bevestigt dat dit btw-nummer geldig is; de btw wordt verlegd.")
        if self.result == self.Result.INVALID:
            return gettext("Volgens VIES is dit btw-nummer niet geldig; de klant betaalt btw.")
        detail = self.detail
        if detail in ("MS_UNAVAILABLE", "MS_MAX_CONCURRENT_REQ", "GLOBAL_MAX_CONCURRENT_REQ"):
            reason = gettext("de belastingdienst van dat land gaf VIES geen antwoord")
        elif detail in ("TIMEOUT", "TimeoutError"):
            reason = gettext("VIES antwoordde niet op tijd")
        elif detail.startswith("HTTP"):
            reason = gettext("VIES had een storing (%(detail)s)") % {"detail": detail}
        elif detail in ("URLError", "OSError", "ConnectionError"):
            reason = gettext("we konden VIES niet bereiken")
        elif detail in ("NotJson", "NotAnObject", "AnswerTooLarge", "NoVerdict", "Error"):
            reason = gettext("VIES gaf een antwoord waar geen oordeel in stond")
        else:
            reason = gettext("VIES gaf geen oordeel")
        return gettext(
            "Nog geen oordeel: %(reason)s. We vragen het vanzelf opnieuw; blijft het uit,"
            " dan kan de financiële administratie het met de hand controleren."
        ) % {"reason": reason}

    def vault_subject(self) -> uuid.UUID:
        return self.order.customer_id

    @classmethod
    def vault_subject_q(cls, subject: uuid.UUID) -> models.Q:
        return models.Q(order__customer_id=subject)


class KvkExtract(SealedModel):
    """An uploaded Chamber of Commerce extract: re-encoded, stripped, sealed (base64);
    in the person's copy as a file of its own."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="kvk_extract")
    content = SealedFileField(
        _("uittreksel KvK"), category="kluis.kvk_extract", export_name="documenten/kvk-uittreksel"
    )
    mimetype = models.CharField(max_length=30)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("uittreksel KvK")
        verbose_name_plural = _("uittreksels KvK")

    def __str__(self) -> str:
        return f"KvK extract of {self.order_id}"

    def vault_subject(self) -> uuid.UUID:
        return self.order.customer_id

    @classmethod
    def vault_subject_q(cls, subject: uuid.UUID) -> models.Q:
        return models.Q(order__customer_id=subject)


class Acceptance(SealedModel):
    """Evidence that a customer accepted one version of one document (R10, R24, R27)."""

    class Document(models.TextChoices):
        AGREEMENT = "agreement", _("overeenkomst")
        PROCESSOR_AGREEMENT = "processor_agreement", _("verwerkersovereenkomst")
        WHOIS_NOTICE = "whois_notice", _("toestemming en WHOIS-melding (buiten de EU)")
        WITHDRAWAL_INFO = "withdrawal_info", _("informatie over het herroepingsrecht")
        START_REQUEST = "start_request", _("verzoek om direct te beginnen")

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="acceptances")
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="acceptances"
    )
    document = models.CharField(max_length=20, choices=Document.choices)
    version = models.CharField(max_length=20)
    language = models.CharField(max_length=2)
    # SHA-256 of the exact text the customer was shown and accepted.
    text_sha256 = models.CharField(max_length=64)
    # SHA-256 of the PDF made for the order, when there is one.
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    accepted_at = models.DateTimeField(default=timezone.now)
    ip_address = SealedField(_("IP-adres"), category="kluis.contract_evidence_ip")
    # How it was accepted: empty for the shop's checkout and the portal's page;
    # "api:<token id>" for an order through the REST API with that token.
    channel = models.CharField(max_length=48, blank=True, default="")

    vault_subject_field: ClassVar[str] = "customer_id"

    class Meta:
        verbose_name = _("aanvaarding van een document")
        verbose_name_plural = _("aanvaardingen van documenten")
        ordering = ["accepted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "order", "document", "version"], name="shop_acceptance_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.document} {self.version} by {self.customer_id}"


class SubscriptionQuerySet(models.QuerySet["Subscription"]):
    def for_customer(self, customer: Customer) -> SubscriptionQuerySet:
        return self.filter(customer=customer)

    def renewing(self) -> SubscriptionQuerySet:
        """Subscriptions nobody ended: each period is followed by the next."""
        return self.filter(ends_on__isnull=True)

    def due(self, until: dt.date) -> SubscriptionQuerySet:
        """Renewing subscriptions whose current period ends on or before `until`."""
        return self.renewing().filter(period_end__lte=until)


class Subscription(models.Model):
    """A running service of a delivered order line: a hosting package or a domain name.

    It runs in periods of a month or a year from the day the order was delivered.
    `period_start` to `period_end` is the last period invoiced: the order's at first,
    then each renewal's, claimed ahead of the period it pays for. Ending it stops the
    renewals: the service runs to the end of that period, which becomes `ends_on`.
    """

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="subscriptions")
    line = models.OneToOneField(OrderLine, on_delete=models.PROTECT, related_name="subscription")
    kind = models.CharField(max_length=8, choices=OrderLine.Kind.choices)
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.PROTECT)
    extension = models.ForeignKey(DomainExtension, null=True, blank=True, on_delete=models.PROTECT)
    domain_name = models.ForeignKey(
        DomainName, null=True, blank=True, on_delete=models.PROTECT, related_name="subscriptions"
    )
    period = models.CharField(max_length=5, choices=Period.choices)
    started_on = models.DateField()
    period_start = models.DateField()
    period_end = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    end_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["started_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")),
                name="shop_subscription_period",
            ),
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True)
                | models.Q(ends_on__gte=models.F("period_start")),
                name="shop_subscription_ends_in_period",
            ),
        ]

    def __str__(self) -> str:
        return f"subscription {self.pk} of {self.customer_id}"

    def name(self, language: str) -> str:
        """The product's name, or DOMAIN_MARK for a domain (see kluis.shop.domains)."""
        if self.product is not None:
            return self.product.name(language)
        return DOMAIN_MARK

    @property
    def is_ending(self) -> bool:
        return self.ends_on is not None

    def has_ended(self, today: dt.date | None = None) -> bool:
        return self.ends_on is not None and (today or timezone.localdate()) > self.ends_on

    @property
    def item(self) -> Product | DomainExtension:
        item = self.product if self.product is not None else self.extension
        assert item is not None
        return item

    def next_period(self) -> tuple[dt.date, dt.date]:
        """The first and last day of the period after the current one."""
        start = self.period_end + dt.timedelta(days=1)
        return start, period_after(start, self.period, self.started_on.day) - dt.timedelta(days=1)


def period_after(start: dt.date, period: str, anchor_day: int) -> dt.date:
    """The first day of the period after the one that opens on `start`.

    Periods keep to the day of the month the subscription started on (`anchor_day`),
    as far as a month has that day: started 31 January, the periods open on
    28 (or 29) February, 31 March, 30 April.
    """
    months = 12 if period == Period.YEAR else 1
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(anchor_day, last_day))


class SubscriptionRenewal(models.Model):
    """One period of a subscription that was invoiced.

    At most one row per subscription and period start (a unique constraint): a rerun
    of the renewal job, two runs at once or a run after a crash can never invoice the
    same period twice.
    """

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="renewals"
    )
    period_start = models.DateField()
    period_end = models.DateField()
    price_cents = models.PositiveIntegerField()
    # The invoice the period is on (billing's number; shop keeps no link to billing rows).
    invoice_number = models.CharField(max_length=24, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "period_start"], name="shop_renewal_once"
            )
        ]

    def __str__(self) -> str:
        return f"renewal of {self.subscription_id} from {self.period_start}"


class SubprocessorNotice(models.Model):
    """A list of sub-processors that customers with a processor agreement were told of.

    One row per list (its fingerprint is unique): the first row is the list the
    processor agreement named when this table was started; every later one was
    announced by mail 30 days before `takes_effect_on` (kluis/shop/subprocessors.py).
    """

    fingerprint = models.CharField(max_length=64, unique=True)
    names = models.TextField()
    takes_effect_on = models.DateField()
    announced = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"sub-processors {self.fingerprint[:12]}"


class PriceChange(models.Model):
    """A new catalogue price of a package or an extension, from a day on: the price history.

    New customers pay it from `effective_on`. An existing subscription pays it only
    for a period that starts after it was told (agreement 2.0, art. 4; the rules are
    in kluis/shop/pricing.py): each subscriber told has a PriceNotice.
    """

    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="price_changes"
    )
    extension = models.ForeignKey(
        DomainExtension,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="price_changes",
    )
    old_price_cents = models.PositiveIntegerField()
    new_price_cents = models.PositiveIntegerField(validators=[price_bound])
    effective_on = models.DateField()
    scheduled_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    scheduled_at = models.DateTimeField(default=timezone.now)
    # Written into the item's price_cents (by the daily job, or at once for today).
    applied = models.BooleanField(default=False)

    class Meta:
        ordering = ["effective_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(product__isnull=False, extension__isnull=True)
                | models.Q(product__isnull=True, extension__isnull=False),
                name="shop_price_change_one_item",
            ),
            models.CheckConstraint(
                condition=models.Q(new_price_cents__lte=MAX_PRICE_CENTS),
                name="shop_price_change_bound",
            ),
            models.CheckConstraint(
                condition=~models.Q(new_price_cents=models.F("old_price_cents")),
                name="shop_price_change_changes",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.item}: {self.old_price_cents} -> {self.new_price_cents} on {self.effective_on}"
        )

    @property
    def item(self) -> Product | DomainExtension:
        item = self.product if self.product is not None else self.extension
        assert item is not None
        return item

    @property
    def is_increase(self) -> bool:
        return self.new_price_cents > self.old_price_cents


class PriceNotice(models.Model):
    """One subscriber told, by mail, of one price change: the evidence of the notice.

    Written in the transaction that queues the mail (whose dedupe key is the same
    pair), so a subscriber is told once and a rise without this row never applies.
    `applies_from` is the first day of the first period of this subscription that
    pays the new price.
    """

    change = models.ForeignKey(PriceChange, on_delete=models.PROTECT, related_name="notices")
    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="price_notices"
    )
    old_price_cents = models.PositiveIntegerField()
    new_price_cents = models.PositiveIntegerField()
    notified_on = models.DateField()
    applies_from = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["notified_on", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["change", "subscription"], name="shop_price_notice_once"
            ),
            models.CheckConstraint(
                condition=models.Q(applies_from__gt=models.F("notified_on")),
                name="shop_price_notice_ahead",
            ),
        ]

    def __str__(self) -> str:
        return f"price notice {self.change_id} to subscription {self.subscription_id}"

    @property
    def is_increase(self) -> bool:
        return self.new_price_cents > self.old_price_cents


class WithdrawalRequest(SealedModel):
    """A withdrawal made on the public page, without a log-in, waiting for the worker.

    Art. 6:230oa BW asks for a withdrawal function; an account may be offered, not
    required (kluis/shop/consumer.py). The page does the same work whatever was typed:
    it seals the address under a subject of this request alone, keeps the order number
    and the moment, and writes one audit entry. The worker looks the pair up and mails
    the order's own address a link to finish the withdrawal, which counts from
    `created_at`; then it deletes the row and shreds its key.
    """

    order_number = models.CharField(max_length=32)
    email = SealedField(
        _("getypt e-mailadres"), category="user.contact.email", retention="contact_request"
    )
    language = models.CharField(max_length=2)
    created_at = models.DateTimeField(default=timezone.now)
    # Set by the worker that took it; another may take it over after a lease.
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"withdrawal request {self.pk}"
