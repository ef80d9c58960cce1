"""Every write of the shop: placing an order, moving it, VIES checks, acceptances.

Services take clean input (the forms validated it) and raise ShopError when a
business rule refuses. Audit entries and mail are written here, in the same
transaction as the change that causes them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext, override

from kluis import uploads
from kluis.accounts import services as account_services
from kluis.accounts import validators
from kluis.accounts.models import Customer, User
from kluis.audit.chain import audit_append
from kluis.audit.disclosures import disclosure_record
from kluis.policy.enforce import Actor
from kluis.shop import availability, consumer, documents, emails, moves, pricing
from kluis.shop.cart import Cart, CartLine
from kluis.shop.domains import domain_name_create
from kluis.shop.models import (
    DOMAIN_MARK,
    Acceptance,
    DomainName,
    KvkExtract,
    Order,
    OrderLine,
    Subscription,
    SubscriptionRenewal,
    VatCheck,
    period_after,
)
from kluis.shop.vies import ViesAnswer, vies_check
from kluis.uploads import CleanFile
from kluis.vault.fields import BlindIndexField

SHOP = Actor.system("shop")
PAYMENTS = Actor.system("shop.payments")
HELD_ORDERS = Actor.system("shop.held_orders")
WITHDRAWALS = Actor.system("shop.withdrawals")
# An order placed with the address of an account waits this long for its owner.
HELD_ORDER_DAYS = 14
ORDER_DOCUMENTS = ("agreement", "processor_agreement")
CONSUMER_DOCUMENTS = ("withdrawal_info", "start_request")


class ShopError(Exception):
    """A business rule refused; `code` says which, for the view's message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class DocumentsNotAccepted(ShopError):
    """An order by script named not exactly the documents it must accept (each by its
    current version and the hash of its text): `due` are the ones it must accept."""

    def __init__(self, due: list[documents.DocumentText]) -> None:
        super().__init__("not_accepted")
        self.due = due


def order_documents(*, cart: Cart, customer: Customer, start_now: bool) -> list[str]:
    """The kinds of document an order of `cart` by `customer` records as accepted.

    The agreement and the processor agreement always; the WHOIS/RDAP notice with the
    consent when a name goes to a registry outside the EU; for a consumer the
    withdrawal information, and the request to start at once when they make it.
    """
    kinds = list(ORDER_DOCUMENTS) + (["whois_notice"] if cart.non_eu_domains else [])
    if consumer.is_consumer(customer):
        kinds.append("withdrawal_info")
        if start_now:
            kinds.append("start_request")
    return kinds


def documents_due(
    *, cart: Cart, customer: Customer, start_now: bool, language: str
) -> list[documents.DocumentText]:
    """The current texts of `order_documents`, in the order's language."""
    return [
        documents.current(kind, language)
        for kind in order_documents(cart=cart, customer=customer, start_now=start_now)
    ]


def acceptance_matches(
    due: list[documents.DocumentText], evidence: Mapping[str, tuple[str, str]]
) -> bool:
    """Whether `evidence` (kind -> (version, SHA-256 of the text)) names exactly the
    documents `due`, each by its current version and text."""
    return set(evidence) == {d.kind for d in due} and all(
        evidence[d.kind] == (d.version, d.sha256) for d in due
    )


@dataclass(frozen=True)
class NewCustomer:
    kind: str
    name: str
    company_name: str
    street: str
    postcode: str
    city: str
    country: str
    email: str
    phone: str


@dataclass(frozen=True)
class VatInput:
    country: str
    number: str  # without the country prefix
    answer: ViesAnswer


@dataclass(frozen=True)
class KvkInput:
    number: str
    extract: CleanFile | None
    legal_form: str = ""  # a LegalForm value; SIDN is sent it for a .nl name


def _new_order_number() -> str:
    year = timezone.localdate().year
    while True:
        number = f"B{year}-{secrets.randbelow(10**6):06d}"
        if not Order.objects.filter(number=number).exists():
            return number


def _vat_status(answer: ViesAnswer | None) -> str:
    if answer is None:
        return Order.Vat.NOT_ASKED
    return {
        "valid": Order.Vat.VALID,
        "invalid": Order.Vat.INVALID,
    }.get(answer.result, Order.Vat.PENDING)


def _customer_for_checkout(
    new: NewCustomer, *, language: str, client_address: str
) -> tuple[Customer, bool]:
    """The new customer, or (the address has an account) its owner with True: held.

    A known address gets the same answer as a new one: the order is placed for the
    account's owner and waits for them (awaiting_owner); accounts mailed them that
    someone used their address, and the confirmation mail says how to confirm. What
    the visitor typed about themselves is not written into the owner's record.
    """
    address = validators.clean_person_fields(
        {"street": new.street, "postcode": new.postcode, "city": new.city}, country=new.country
    )
    try:
        user = account_services.customer_sign_up(
            kind=new.kind,
            name=new.name,
            company_name=new.company_name,
            email=new.email,
            phone=new.phone,
            language=language,
            client_address=client_address,
        )
    except account_services.AccountError:
        raise ShopError("throttled") from None
    if user is None:
        owner = User.objects.get_by_email(new.email)
        if owner is None or owner.customer is None:
            raise ShopError("account_exists")  # a staff address: staff do not order
        return owner.customer, True
    customer = user.customer
    assert customer is not None
    customer.address_street = address["street"]
    customer.address_postcode = address["postcode"]
    customer.address_city = address["city"]
    customer.country = new.country
    customer.save()
    return customer, False


def order_place(
    *,
    cart: Cart,
    customer: Customer | None,
    new_customer: NewCustomer | None,
    language: str,
    notes: str,
    accepted: bool,
    non_eu_consent: bool,
    vat: VatInput | None,
    kvk: KvkInput | None,
    client_address: str,
    start_now: bool = False,
    evidence: Mapping[str, tuple[str, str]] | None = None,
    channel: str = "",
) -> Order:
    """Turn the cart into an order, with its evidence and its confirmation mail.

    An order by script (the REST API) names each document it accepts by version and
    the hash of its text (`evidence`); anything but exactly the current texts due for
    this order refuses it with DocumentsNotAccepted. `channel` is kept with each
    acceptance and in the audit entry ("api:<token id>"); the checkout's is empty.

    A consumer's order records the withdrawal information shown before it and whether
    the consumer expressly asked to start at once (kluis/shop/consumer.py); a
    business's request to start at once means nothing and is not kept.

    One cart makes one order: its token is the order's idempotency key (unique in the
    database), so a second checkout of the same cart, even a concurrent one, fails.
    """
    if cart.is_empty:
        raise ShopError("empty_cart")
    if not accepted:
        raise ShopError("not_accepted")
    if cart.non_eu_domains and not non_eu_consent:
        raise ShopError("no_consent")
    if evidence is not None:
        assert customer is not None, "an order by script is an existing customer's"
        due = documents_due(cart=cart, customer=customer, start_now=start_now, language=language)
        if not acceptance_matches(due, evidence):
            raise DocumentsNotAccepted(due)
    if Order.objects.filter(idempotency_key=cart.token).exists():
        raise ShopError("already_ordered")
    if kvk is not None and kvk.extract is not None:
        # Checked again here, so no caller stores a file the upload module did not clean.
        try:
            kvk = KvkInput(kvk.number, uploads.clean_upload(kvk.extract.content), kvk.legal_form)
        except uploads.UploadRefused:
            raise ShopError("kvk_extract") from None
    try:
        with transaction.atomic():
            return _order_place(
                cart=cart,
                customer=customer,
                new_customer=new_customer,
                language=language,
                notes=notes,
                non_eu_consent=non_eu_consent,
                vat=vat,
                kvk=kvk,
                client_address=client_address,
                start_now=start_now,
                channel=channel,
            )
    except IntegrityError:
        if Order.objects.filter(idempotency_key=cart.token).exists():
            raise ShopError("already_ordered") from None
        raise


def _order_place(
    *,
    cart: Cart,
    customer: Customer | None,
    new_customer: NewCustomer | None,
    language: str,
    notes: str,
    non_eu_consent: bool,
    vat: VatInput | None,
    kvk: KvkInput | None,
    client_address: str,
    start_now: bool,
    channel: str,
) -> Order:
    held = False
    if customer is None:
        assert new_customer is not None
        customer, held = _customer_for_checkout(
            new_customer, language=language, client_address=client_address
        )
    changed: list[str] = []
    if held:
        pass  # the owner's record is theirs to change, not the visitor's
    elif vat is not None and customer.vat_number is None:
        customer.vat_number = f"{vat.country}{vat.number}"
        changed += ["vat_number", "vat_index"]
    if not held and kvk is not None and customer.kvk_number is None:
        customer.kvk_number = kvk.number
        changed.append("kvk_number")
    if changed:
        customer.save(update_fields=changed)
    if not held and kvk is not None and kvk.legal_form and not customer.legal_form:
        # The form the checkout asked for (a Dutch company registering a name): as if
        # chosen on the portal's legal-form page, so SIDN contacts already live follow.
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        if not locked.legal_form and locked.kind == Customer.Kind.ORGANISATION:
            account_services.legal_form_apply(
                customer=locked, legal_form=kvk.legal_form, actor=Actor.subject(customer.pk)
            )
            customer.legal_form = locked.legal_form
    order = Order(
        number=_new_order_number(),
        customer=customer,
        idempotency_key=cart.token,
        language=language,
        total_cents=cart.total_cents,
        vat_status=_vat_status(vat.answer if vat else None),
        agreement_version=documents.current_version("agreement"),
        processor_agreement_version=documents.current_version("processor_agreement"),
        non_eu_consent=bool(cart.non_eu_domains) and non_eu_consent,
        whois_notice_version=documents.current_version("whois_notice")
        if cart.non_eu_domains
        else "",
        awaiting_owner=held,
    )
    if consumer.is_consumer(customer):
        order.consumer = True
        order.withdrawal_info_version = documents.current_version("withdrawal_info")
        order.start_now_requested = start_now
    if notes:
        order.notes = notes
    order.save(force_insert=True)
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            position=position,
            kind=line.kind,
            product=line.product,
            extension=line.extension,
            domain_name=domain_name_create(customer=customer, name=line.domain)
            if line.domain
            else None,
            description=_line_text(line, language),
            price_cents=line.price_cents,
            period=line.period,
            transfer=line.is_transfer,
            renewal_price_cents=line.renewal_cents,
        )
        for position, line in enumerate(cart.lines)
    )
    _transfer_codes_keep(order, cart)
    if vat is not None:
        _vat_check_record(order=order, country=vat.country, number=vat.number, answer=vat.answer)
    if kvk is not None and kvk.extract is not None:
        extract = KvkExtract(
            order=order,
            content=base64.b64encode(kvk.extract.content).decode(),
            mimetype=kvk.extract.mimetype,
            size=len(kvk.extract.content),
            sha256=hashlib.sha256(kvk.extract.content).hexdigest(),
        )
        extract.save(force_insert=True)
    kinds = order_documents(cart=cart, customer=customer, start_now=order.start_now_requested)
    for kind in kinds:
        doc = documents.current(kind, language)
        pdf = emails.order_pdf(order, kind) if kind in ORDER_DOCUMENTS else b""
        Acceptance(
            customer=customer,
            order=order,
            document=kind,
            version=doc.version,
            language=language,
            text_sha256=doc.sha256,
            pdf_sha256=hashlib.sha256(pdf).hexdigest() if pdf else "",
            ip_address=client_address,
            channel=channel,
        ).save(force_insert=True)
    audit_append(
        action="shop.order_placed",
        actor=f"subject:{customer.id}",
        subject=customer.id,
        data={
            "order": str(order.pk),
            "number": order.number,
            "documents": {k: documents.current_version(k) for k in kinds},
            "vat": order.vat_status,
            "awaiting_owner": held,
            **({"channel": channel} if channel else {}),
        },
    )
    emails.mail_order_confirmation(order)
    return order


def _vat_check_record(*, order: Order, country: str, number: str, answer: ViesAnswer) -> VatCheck:
    check = VatCheck(
        order=order,
        vat_number=f"{country}{number}",
        country=country,
        result=answer.result,
        detail=answer.detail,
        request_date=answer.request_date,
        request_identifier=answer.request_identifier,
        answer_sha256=answer.answer_sha256,
    )
    check.save(force_insert=True)
    if answer.answer_sha256 or answer.detail.startswith("HTTP"):
        # VIES answered, so the number reached it: a declared disclosure to VIES.
        disclosure_record(
            subject=order.customer_id,
            recipient="vies",
            purpose="invoicing",
            categories=["kluis.vat_number"],
            actor=SHOP,
            reference=answer.request_identifier,
        )
    audit_append(
        action="shop.vies_checked",
        actor=SHOP.ref,
        subject=order.customer_id,
        data={"order": str(order.pk), "result": answer.result, "detail": answer.detail},
    )
    return check


def order_vies_recheck(*, order: Order) -> Order:
    """Ask VIES again for an order that waits for it (the retry job)."""
    last = order.vat_checks.order_by("-checked_at").first()
    if not order.waits_for_vies or last is None:
        return order
    # Correct invoicing (R17) is the purpose the VAT number is read for.
    vat_number = last.vat_number.reveal(purpose="invoicing", actor=SHOP)
    answer = vies_check(country=vat_number[:2], number=vat_number[2:])
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if not locked.waits_for_vies:
            return locked
        _vat_check_record(
            order=locked, country=vat_number[:2], number=vat_number[2:], answer=answer
        )
        locked.vat_status = _vat_status(answer)
        locked.save(update_fields=["vat_status"])
    return locked


@transaction.atomic
def order_vat_check_by_hand(*, order: Order, valid: bool, method: str, by: User) -> VatCheck:
    """Finance records a VAT check made by hand, so an order never waits on VIES forever.

    The evidence is the check itself: who (`by`), when (now) and how (`method`, in their
    words). It settles the order's VAT as a VIES answer would.
    """
    locked = Order.objects.select_for_update().get(pk=order.pk)
    last = locked.vat_checks.order_by("-checked_at").first()
    if not locked.waits_for_vies or last is None:
        raise ShopError("not_waiting_for_vies")
    vat_number = last.vat_number.reveal(purpose="invoicing", actor=by.actor())
    check = VatCheck(
        order=locked,
        vat_number=vat_number,
        country=vat_number[:2],
        result=VatCheck.Result.VALID if valid else VatCheck.Result.INVALID,
        detail="manual",
        checked_by=by,
        method=" ".join(method.split()),
    )
    check.save(force_insert=True)
    locked.vat_status = Order.Vat.VALID if valid else Order.Vat.INVALID
    locked.save(update_fields=["vat_status"])
    audit_append(
        action="shop.vat_checked_by_hand",
        actor=by.actor().ref,
        subject=locked.customer_id,
        data={"order": str(locked.pk), "result": check.result, "check": str(check.pk)},
    )
    return check


def vat_number_recheck(*, order: Order, vat_number: str) -> VatCheck:
    """Ask VIES again about a VAT number on file and keep the answer as evidence on `order`
    (renewal invoices, when the last valid answer has grown old)."""
    answer = vies_check(country=vat_number[:2], number=vat_number[2:])
    return _vat_check_record(
        order=order, country=vat_number[:2], number=vat_number[2:], answer=answer
    )


def order_move(*, order: Order, to: str, by: User) -> Order:
    """Move an order along its states; refused when the state machine has no such move."""
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if not locked.can_move_to(to):
            raise ShopError("illegal_move")
        if locked.waits_for_vies and to != Order.Status.CANCELLED:
            raise ShopError("waits_for_vies")
        if to == Order.Status.DELIVERED and not consumer.delivery_allowed(locked):
            raise ShopError("withdrawal_period")
        if locked.awaiting_owner and to != Order.Status.CANCELLED:
            raise ShopError("awaiting_owner")
        _move(locked, to, actor=by.actor().ref, by=by)
    return locked


def held_orders_lapse(*, now: dt.datetime | None = None) -> int:
    """Cancel orders that waited HELD_ORDER_DAYS for their owner in vain; how many."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=HELD_ORDER_DAYS)
    lapsed = 0
    waiting = Order.objects.filter(awaiting_owner=True, created_at__lt=cutoff).exclude(
        status=Order.Status.CANCELLED
    )
    for order_id in waiting.values_list("pk", flat=True):
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=order_id)
            if not locked.awaiting_owner or not locked.can_move_to(Order.Status.CANCELLED):
                continue
            _move(locked, Order.Status.CANCELLED, actor=HELD_ORDERS.ref, by=None)
            lapsed += 1
    return lapsed


def order_confirm_by_owner(*, order: Order, user: User, client_address: str) -> Order:
    """The account's owner takes on an order placed with their address without logging in.

    Until now it was the visitor's; from now it is the owner's, who saw it and its
    documents in the portal: the acceptances are stamped with this moment and address.
    """
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if not locked.awaiting_owner or locked.customer_id != user.customer_id:
            raise ShopError("not_awaiting_owner")
        if locked.status == Order.Status.CANCELLED:
            raise ShopError("illegal_move")
        locked.awaiting_owner = False
        locked.save(update_fields=["awaiting_owner"])
        now = timezone.now()
        for acceptance in Acceptance.objects.filter(order=locked):
            acceptance.accepted_at = now
            acceptance.ip_address = client_address
            acceptance.save(update_fields=["accepted_at", "ip_address"])
        audit_append(
            action="shop.order_confirmed_by_owner",
            actor=f"subject:{locked.customer_id}",
            subject=locked.customer_id,
            data={"order": str(locked.pk), "number": locked.number},
        )
    return locked


def order_pay(*, order: Order, invoice_number: str) -> Order:
    """kluis's own move: an order that awaits payment is paid, because its invoice is.

    The one move kluis makes without a staff member; every other move stays with
    order_move. An order in any other status is left as it is.
    """
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != Order.Status.AWAITING_PAYMENT:
            return locked
        _move(locked, Order.Status.PAID, actor=PAYMENTS.ref, by=None, invoice=invoice_number)
    return locked


def _move(order: Order, to: str, *, actor: str, by: User | None, invoice: str = "") -> None:
    """Save the new status, tell the other apps, start services, mail the customer once."""
    before = order.status
    order.status = to
    order.status_changed_at = timezone.now()
    order.save(update_fields=["status", "status_changed_at"])
    data = {"order": str(order.pk), "from": before, "to": to}
    if invoice:
        data["invoice"] = invoice
    audit_append(action="shop.order_moved", actor=actor, subject=order.customer_id, data=data)
    if to == Order.Status.DELIVERED:
        subscriptions_start(order=order)
    if not moves.order_moved(order, before, by):
        emails.mail_order_status(order, to)


# --- subscriptions ----------------------------------------------------------------------


@transaction.atomic
def subscriptions_start(*, order: Order, started_on: dt.date | None = None) -> list[Subscription]:
    """One subscription per line of a delivered order; its first period is the order's.

    They start on the day of delivery (`started_on`, default today), not of payment:
    the period the order's invoice paid for is the period the service runs, however
    long delivery took.
    """
    today = started_on or timezone.localdate()
    made = []
    for line in order.lines.select_related("product", "extension"):
        if hasattr(line, "subscription"):
            continue
        subscription = Subscription(
            customer_id=order.customer_id,
            line=line,
            kind=line.kind,
            product=line.product,
            extension=line.extension,
            domain_name_id=line.domain_name_id,
            period=line.period,
            started_on=today,
            period_start=today,
            period_end=period_after(today, line.period, today.day) - dt.timedelta(days=1),
        )
        subscription.save(force_insert=True)
        made.append(subscription)
    if made:
        audit_append(
            action="shop.subscriptions_started",
            actor=SHOP.ref,
            subject=order.customer_id,
            data={"order": str(order.pk), "subscriptions": [s.pk for s in made]},
        )
        _contract_end_update(order.customer_id)
    return made


def _line_text(line: CartLine, language: str) -> str:
    """An order line's text; a domain's name stays sealed beside it (DOMAIN_MARK)."""
    if not line.domain:
        return line.description(language)
    if not line.is_transfer:
        return DOMAIN_MARK
    with override(language if language in ("nl", "en") else "nl"):
        return gettext("Verhuizing van %(domain)s") % {"domain": DOMAIN_MARK}


def _transfer_codes_keep(order: Order, cart: Cart) -> None:
    """Hand each transfer line's auth code to the domains app, sealed with its line."""
    transfers = [(p, line.auth_code) for p, line in enumerate(cart.lines) if line.is_transfer]
    desk = availability.transfers()
    if not transfers or desk is None:
        return
    ids = dict(order.lines.filter(kind=OrderLine.Kind.DOMAIN).values_list("position", "pk"))
    for position, code in transfers:
        desk.keep(ids[position], code)


def subscription_end_date(subscription: Subscription, today: dt.date | None = None) -> dt.date:
    """The last day a subscription ended today runs.

    A business's runs to the end of its last invoiced period (the agreement's term
    rule); a consumer's after its first term ends with one month's notice
    (kluis/shop/consumer.py). Either ends sooner, the day before a rise it was told of
    applies, when that rise is still to come.
    """
    day = today or timezone.localdate()
    if subscription.line.order.consumer:
        last_day = consumer.consumer_end_date(subscription, day)
    else:
        last_day = subscription.period_end
    # Told of a rise that is still to come: it may end, without costs, before it applies
    # (agreement 2.0, art. 4; kluis/shop/pricing.py).
    before_rise = pricing.rise_end_date(subscription, day)
    if before_rise is not None and before_rise < last_day:
        return before_rise
    return last_day


def subscription_end(*, subscription: Subscription, by: User) -> Subscription:
    """End a subscription for its customer or staff, from subscription_end_date on.

    Nothing is renewed after that day. What was invoiced for the days after it (a
    consumer's prepaid rest of a year) is credited by billing through
    moves.subscriptions_shortened. When it was the customer's last running
    subscription, its end is the end of their contract: the moment the retention of
    their customer record (trigger contract_end) starts counting.
    """
    if not by.is_staff_member and by.customer_id != subscription.customer_id:
        raise ShopError("not_yours")
    with transaction.atomic():
        locked = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("line__order")
            .get(pk=subscription.pk)
        )
        if locked.ends_on is not None:
            raise ShopError("already_ending")
        _stop(locked, subscription_end_date(locked), by=by, actor_ref=by.actor().ref)
    return locked


def subscription_stop(*, subscription_id: int, last_day: dt.date, actor_ref: str) -> Subscription:
    """End a subscription on the day its service itself ended (a domain the registry
    deleted because its renewal was not paid): what was invoiced after `last_day` is
    credited, as when a subscription is ended. Idempotent: one already ending by then
    is left as it is."""
    with transaction.atomic():
        locked = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("line__order")
            .get(pk=subscription_id)
        )
        if locked.ends_on is None or locked.ends_on > last_day:
            _stop(locked, last_day, by=None, actor_ref=actor_ref)
    return locked


def subscription_resume(
    *, subscription_id: int, invoice_number: str, actor_ref: str
) -> list[SubscriptionRenewal]:
    """Start again a subscription that subscription_stop ended because its service was
    gone (a domain deleted for non-payment) now that the service is back (the domain
    restored at its registry): it renews again, its current period is the last one
    invoiced, and the periods it had past its end are now on `invoice_number` (billing's
    invoice for the restored term). Call inside billing's transaction; the periods
    moved, none when it was not ended."""
    assert transaction.get_connection().in_atomic_block, "resume inside billing's transaction"
    locked = Subscription.objects.select_for_update(of=("self",)).get(pk=subscription_id)
    if locked.ends_on is None:
        return []
    periods = list(locked.renewals.filter(period_end__gt=locked.ends_on).order_by("period_start"))
    if periods:
        locked.period_start, locked.period_end = periods[-1].period_start, periods[-1].period_end
        SubscriptionRenewal.objects.filter(pk__in=[p.pk for p in periods]).update(
            invoice_number=invoice_number
        )
    ended = locked.ends_on
    locked.ends_on = None
    locked.end_requested_at = None
    locked.save(update_fields=["ends_on", "end_requested_at", "period_start", "period_end"])
    _contract_end_update(locked.customer_id)
    audit_append(
        action="shop.subscription_resumed",
        actor=actor_ref,
        subject=locked.customer_id,
        data={
            "subscription": locked.pk,
            "ended_on": ended.isoformat(),
            "periods": [p.period_start.isoformat() for p in periods],
            "invoice": invoice_number,
        },
    )
    for period in periods:
        period.invoice_number = invoice_number
    return periods


def _stop(locked: Subscription, last_day: dt.date, *, by: User | None, actor_ref: str) -> None:
    invoiced_until = locked.period_end
    _end_on(locked, last_day)
    if last_day < invoiced_until:
        moves.subscriptions_shortened([(locked, last_day + dt.timedelta(days=1))], by)
    contract_end = _contract_end_update(locked.customer_id)
    audit_append(
        action="shop.subscription_ended",
        actor=actor_ref,
        subject=locked.customer_id,
        data={
            "subscription": locked.pk,
            "ends_on": last_day.isoformat(),
            "consumer": locked.line.order.consumer,
            "contract_ends": contract_end.isoformat() if contract_end else None,
        },
    )


def _end_on(subscription: Subscription, day: dt.date) -> None:
    """Stop the subscription after `day`; its current period becomes the one holding it."""
    if subscription.ends_on is not None and subscription.ends_on <= day:
        return
    if day < subscription.period_start:
        periods = [(subscription.started_on, consumer.first_period_end(subscription))]
        periods += [(r.period_start, r.period_end) for r in subscription.renewals.all()]
        start, end = next(p for p in periods if p[0] <= day <= p[1])
        subscription.period_start, subscription.period_end = start, end
    subscription.ends_on = day
    subscription.end_requested_at = timezone.now()
    subscription.save(update_fields=["ends_on", "end_requested_at", "period_start", "period_end"])


def order_withdraw(*, order: Order, by: User) -> Order:
    """A consumer withdraws from an order within the period (art. 6:230o BW).

    The order moves to withdrawn and its subscriptions stop on the day of withdrawal.
    Billing credits what the consumer does not owe (kluis/shop/consumer.py,
    withdrawal_supplied): the order's invoice through the move, renewal invoices
    through moves.subscriptions_shortened; what was paid over what is owed becomes a
    refund proposal. Only the consumer withdraws, in the portal.
    """
    if by.is_staff_member or by.customer_id != order.customer_id:
        raise ShopError("not_yours")
    return _withdraw(order, at=timezone.now(), actor=by.actor().ref, by=by)


def order_withdraw_by_link(*, order: Order, requested_at: dt.datetime) -> Order:
    """The withdrawal finished from the link mailed to the order's own address, after
    the public form (kluis/shop/withdrawal.py). It counts from the moment the form was
    sent: the period is judged on that day, and services stop on it."""
    return _withdraw(order, at=requested_at, actor=WITHDRAWALS.ref, by=None)


def _withdraw(order: Order, *, at: dt.datetime, actor: str, by: User | None) -> Order:
    now = at
    day = timezone.localdate(now)
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if not consumer.can_withdraw(locked, day):
            raise ShopError("withdrawal_closed")
        locked.withdrawn_at = now
        locked.save(update_fields=["withdrawn_at"])
        owes = bool(locked.withdrawal_info_version) and locked.start_now_requested
        shortened = []
        for subscription in Subscription.objects.select_for_update().filter(line__order=locked):
            _end_on(subscription, day)
            # Renewals are owed for the days supplied only when the first period is.
            first_free = day + dt.timedelta(days=1) if owes else subscription.started_on
            shortened.append((subscription, first_free))
        _move(locked, Order.Status.WITHDRAWN, actor=actor, by=by)
        if shortened:
            moves.subscriptions_shortened(shortened, by)
            _contract_end_update(locked.customer_id)
    return locked


def _contract_end_update(customer_id: uuid.UUID) -> dt.datetime | None:
    """Keep Customer.contract_ended_at in step with the subscriptions.

    While one subscription renews, the contract runs (no end). When all of them are
    ending, the contract ends at the start of the day after the last one's last day:
    possibly a moment still to come, which is how everything that reads the field
    (the retention triggers, the list of active customers) already takes it.
    """
    subscriptions = Subscription.objects.filter(customer_id=customer_id)
    if subscriptions.renewing().exists():
        end = None
    else:
        last = subscriptions.aggregate(last=Max("ends_on"))["last"]
        if last is None:
            return None  # no subscriptions: nothing to say about the contract here
        end = timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time()))
    Customer.objects.filter(pk=customer_id).exclude(contract_ended_at=end).update(
        contract_ended_at=end
    )
    return end


@dataclass(frozen=True)
class RenewalClaim:
    """One period of one subscription, claimed for an invoice (see subscriptions_claim)."""

    renewal: SubscriptionRenewal
    subscription: Subscription


def subscriptions_claim(*, customer: Customer, until: dt.date) -> list[RenewalClaim]:
    """Claim every period, up to `until`, that the customer's renewing subscriptions need.

    Runs inside the caller's transaction (billing's renewal, which puts the claims on
    one invoice): the subscriptions are locked, each claimed period gets its renewal
    row (unique per subscription and period start) and the subscription moves on to
    it. A period that already has its row was invoiced before: it is skipped, never
    claimed twice. Rolled back with the invoice, nothing is claimed.
    """
    assert transaction.get_connection().in_atomic_block, "claim inside the invoice's transaction"
    claims = []
    due = (
        Subscription.objects.select_for_update(of=("self",))
        .filter(customer=customer)
        .due(until)
        .order_by("started_on", "id")
    )
    for subscription in due.select_related("product", "extension", "line__order"):
        while subscription.period_end <= until:
            start, end = subscription.next_period()
            try:
                with transaction.atomic():
                    renewal = SubscriptionRenewal.objects.create(
                        subscription=subscription,
                        period_start=start,
                        period_end=end,
                        price_cents=pricing.subscription_price_cents(subscription, start),
                    )
            except IntegrityError:
                renewal = None  # invoiced before; move on without a second claim
            subscription.period_start, subscription.period_end = start, end
            if renewal is not None:
                claims.append(RenewalClaim(renewal, subscription))
        subscription.save(update_fields=["period_start", "period_end"])
    return claims


def renewals_invoiced(*, claims: list[RenewalClaim], invoice_number: str) -> None:
    """Write on each claimed period which invoice it is on."""
    SubscriptionRenewal.objects.filter(pk__in=[c.renewal.pk for c in claims]).update(
        invoice_number=invoice_number
    )
    for claim in claims:
        claim.renewal.invoice_number = invoice_number


# --- acceptances in the portal ----------------------------------------------------------


def pending_documents(customer: Customer) -> list[documents.DocumentText]:
    """Newer versions of the order documents that an existing customer has not accepted."""
    accepted = set(Acceptance.objects.filter(customer=customer).values_list("document", "version"))
    if not accepted:
        return []  # not a customer with an agreement yet: the next order brings them
    language = customer.language if customer.language in documents.LANGUAGES else "nl"
    return [
        documents.current(kind, language)
        for kind in ORDER_DOCUMENTS
        if (kind, documents.current_version(kind)) not in accepted
    ]


@transaction.atomic
def documents_accept(*, customer: Customer, client_address: str) -> list[Acceptance]:
    made = []
    for doc in pending_documents(customer):
        acceptance = Acceptance(
            customer=customer,
            document=doc.kind,
            version=doc.version,
            language=doc.language,
            text_sha256=doc.sha256,
            ip_address=client_address,
        )
        acceptance.save(force_insert=True)
        made.append(acceptance)
    if made:
        audit_append(
            action="shop.documents_accepted",
            actor=f"subject:{customer.id}",
            subject=customer.id,
            data={"documents": {a.document: a.version for a in made}},
        )
    return made


def domain_lookup(*, domain: str, by: User) -> str:
    """The blind-index value of `domain`, to find its rows; the look-up is audited, as
    it tells staff whose domain it is without a reveal."""
    audit_append(action="shop.domain_looked_up", actor=by.actor().ref, data={})
    field = DomainName._meta.get_field("name_index")
    assert isinstance(field, BlindIndexField)
    return field.lookup_value(domain)
