"""The audit log's events in words, for the person's own copy.

The log records events by code ("rights.police_decided", "vault.reveal"); the person
reads what happened. An event without its own words is named by its area, and never
by its code. The table is data in both languages, like the policy's texts.
"""

from __future__ import annotations

EVENTS: dict[str, tuple[str, str]] = {
    "accounts.deactivated": ("je account is opgeheven", "your account was closed"),
    "accounts.email_change_requested": (
        "je vroeg een nieuw e-mailadres aan",
        "you asked for a new email address",
    ),
    "accounts.email_changed": ("je e-mailadres is gewijzigd", "your email address was changed"),
    "accounts.login": ("je logde in", "you logged in"),
    "accounts.login_failed": ("een mislukte inlogpoging", "a failed login attempt"),
    "accounts.login_throttled": (
        "inloggen tijdelijk geblokkeerd na te veel pogingen",
        "logging in blocked for a while after too many attempts",
    ),
    "accounts.logout": ("je logde uit", "you logged out"),
    "accounts.mfa_disabled": (
        "de tweede stap bij inloggen is uitgezet",
        "two-step login was turned off",
    ),
    "accounts.mfa_failed": ("een mislukte tweede stap bij inloggen", "a failed second login step"),
    "accounts.mfa_recovery_code_used": ("een herstelcode is gebruikt", "a recovery code was used"),
    "accounts.mfa_recovery_codes_generated": (
        "nieuwe herstelcodes gemaakt",
        "new recovery codes were made",
    ),
    "accounts.mfa_totp_confirmed": (
        "een authenticator-app ingesteld als tweede stap",
        "an authenticator app was set up as second step",
    ),
    "accounts.passkey_failed": ("een mislukte poging met een passkey", "a failed passkey attempt"),
    "accounts.passkey_used": ("je logde in met een passkey", "you logged in with a passkey"),
    "accounts.passkey_removed": ("een passkey is verwijderd", "a passkey was removed"),
    "accounts.password_reset_requested": (
        "je vroeg een nieuw wachtwoord aan",
        "you asked for a new password",
    ),
    "accounts.password_reset_sent": (
        "we stuurden een link voor een nieuw wachtwoord",
        "we sent a link for a new password",
    ),
    "accounts.password_set": ("je wachtwoord is ingesteld", "your password was set"),
    "accounts.signup": ("je account is aangemaakt", "your account was created"),
    "accounts.signup_existing": (
        "iemand probeerde een account te maken met je e-mailadres",
        "someone tried to create an account with your email address",
    ),
    "billing.handover_approved": (
        "een factuur is overgedragen aan het incassobureau",
        "an invoice was handed to the debt collector",
    ),
    "billing.handover_collector_told": (
        "het incassobureau is ingelicht over je betaling",
        "the debt collector was told of your payment",
    ),
    "billing.handover_paid": (
        "betaald na de overdracht aan het incassobureau",
        "paid after the hand-over to the debt collector",
    ),
    "billing.handover_charged_back": (
        "je betaling na de overdracht aan het incassobureau is teruggeboekt; de vordering "
        "ligt weer bij het incassobureau",
        "your payment after the hand-over to the debt collector was charged back; the "
        "claim is with the debt collector again",
    ),
    "billing.handover_proposed": (
        "een overdracht aan het incassobureau is voorgesteld",
        "a hand-over to the debt collector was proposed",
    ),
    "billing.handover_rejected": (
        "een overdracht aan het incassobureau is afgewezen",
        "a hand-over to the debt collector was rejected",
    ),
    "billing.invoice_issued": ("een factuur is gemaakt", "an invoice was issued"),
    "billing.credit_note_issued": ("een creditnota is gemaakt", "a credit note was issued"),
    "billing.chargeback_received": (
        "je bank heeft een online betaling teruggeboekt",
        "your bank took an online payment back",
    ),
    "billing.chargeback_reversed": (
        "je bank heeft een terugboeking ingetrokken",
        "your bank withdrew a chargeback",
    ),
    "billing.chargeback_mail_held": (
        "we mailden je niet over een terugboeking: we mochten of konden je e-mailadres niet "
        "gebruiken",
        "we did not email you about a chargeback: we were not allowed or able to use your "
        "email address",
    ),
    "billing.refund_cancelled": (
        "een voorgestelde terugbetaling is vervallen door een terugboeking",
        "a proposed refund lapsed because of a chargeback",
    ),
    "billing.refund_reproposed": (
        "na een terugboeking is een terugbetaling opnieuw voorgesteld voor wat nog gedekt is",
        "after a chargeback a refund was proposed again for what is still covered",
    ),
    "billing.refund_rejected": (
        "een terugbetaling is afgewezen",
        "a refund was rejected",
    ),
    "billing.refund_held": (
        "een terugbetaling is tegengehouden door een terugboeking",
        "a refund was held back because of a chargeback",
    ),
    "billing.refund_flagged": (
        "een terugbetaling is na een terugboeking aan de financiële administratie gemeld",
        "a refund was reported to finance after a chargeback",
    ),
    "billing.online_payment_paid": ("je betaalde online", "you paid online"),
    "billing.payment_linked": (
        "een betaling is aan een factuur gekoppeld",
        "a payment was matched to an invoice",
    ),
    "billing.refund_payee_entered": (
        "het rekeningnummer voor een terugbetaling is ingevuld",
        "the account for a refund was entered",
    ),
    "billing.refund_sent_to_provider": (
        "een terugbetaling is via de betaaldienst verstuurd",
        "a refund was sent through the payment service",
    ),
    "billing.reminder_sent": ("we stuurden een betalingsherinnering", "we sent a payment reminder"),
    "disclosure": ("gegevens gegeven aan een ontvanger", "data given to a recipient"),
    "mail.queued": ("een e-mail aan je klaargezet", "an email to you was queued"),
    "mail.sent": ("een e-mail aan je verstuurd", "an email to you was sent"),
    "mail.failed": (
        "een e-mail aan je kon niet worden bezorgd",
        "an email to you could not be delivered",
    ),
    "rights.request_received": ("je verzoek is ontvangen", "your request was received"),
    "rights.request_confirmed": ("je verzoek is bevestigd", "your request was confirmed"),
    "rights.request_closed": ("je verzoek is afgehandeld", "your request was answered"),
    "rights.erasure_held": (
        "het wissen wacht tot iets is afgerond",
        "the erasure waits until something is finished",
    ),
    "rights.erasure_done": ("je gegevens zijn gewist", "your data was erased"),
    "rights.rectified": ("je gegevens zijn verbeterd", "your data was corrected"),
    "rights.restriction_started": ("de verwerking is beperkt", "processing was restricted"),
    "rights.restriction_end_announced": (
        "het einde van de beperking is vastgesteld",
        "the end of the restriction was set",
    ),
    "rights.restriction_end_noticed": (
        "je hebt bericht gekregen dat de beperking eindigt",
        "you were told that the restriction ends",
    ),
    "rights.restriction_ended": ("de beperking is beëindigd", "the restriction ended"),
    "rights.objection_upheld": ("je bezwaar is toegewezen", "your objection was upheld"),
    "rights.objection_ended": ("het toegewezen bezwaar is beëindigd", "the upheld objection ended"),
    "rights.police_registered": (
        "een verzoek van politie of justitie is geregistreerd",
        "a request from the police or judicial authorities was registered",
    ),
    "rights.police_decided": (
        "over een verzoek van politie of justitie is beslist",
        "a request from the police or judicial authorities was decided",
    ),
    "rights.police_confidentiality_ended": (
        "de geheimhouding van een verzoek van politie of justitie is geëindigd",
        "the secrecy of a request from the police or judicial authorities ended",
    ),
    "rights.id_copy_asked": (
        "we vroegen een kopie van je identiteitsbewijs",
        "we asked for a copy of your identity document",
    ),
    "rights.id_copy_received": (
        "de kopie van je identiteitsbewijs is ontvangen",
        "the copy of your identity document was received",
    ),
    "rights.verification_decided": (
        "er is beslist of vaststaat dat het verzoek van jou komt",
        "it was decided whether the request comes from you",
    ),
    "rights.id_copy_destroyed": (
        "de kopie van je identiteitsbewijs is vernietigd",
        "the copy of your identity document was destroyed",
    ),
    "shop.documents_accepted": (
        "je aanvaardde de overeenkomst of een ander document",
        "you accepted the agreement or another document",
    ),
    "shop.order_confirmed_by_owner": ("je bevestigde een bestelling", "you confirmed an order"),
    "shop.order_moved": (
        "de stand van een bestelling is gewijzigd",
        "the status of an order changed",
    ),
    "shop.order_placed": ("je plaatste een bestelling", "you placed an order"),
    "shop.subscription_ended": ("een abonnement is opgezegd", "a subscription was ended"),
    "shop.subscriptions_started": ("abonnementen zijn gestart", "subscriptions started"),
    "shop.withdrawal_requested": (
        "iemand herroepte een bestelling op de website, zonder in te loggen",
        "someone withdrew an order on the website, without logging in",
    ),
    "shop.withdrawal_request_handled": (
        "we mailden je een link om je herroeping af te ronden",
        "we mailed you a link to finish your withdrawal",
    ),
    "shop.vies_checked": (
        "je btw-nummer is gecontroleerd in VIES",
        "your VAT number was checked in VIES",
    ),
    "vault.reveal": ("je gegevens zijn geopend", "your data was opened"),
    "vault.reveal_refused": (
        "het openen van je gegevens is geweigerd",
        "opening your data was refused",
    ),
    "vault.shred": ("sleutels van je gegevens zijn vernietigd", "keys of your data were destroyed"),
    "vault.shredded": (
        "sleutels van je gegevens zijn vernietigd",
        "keys of your data were destroyed",
    ),
    "web.question.received": ("je vraag is ontvangen", "your question was received"),
    "web.question.answered": ("je vraag is beantwoord", "your question was answered"),
    "web.question.closed": ("je vraag is afgesloten", "your question was closed"),
}

AREAS: dict[str, tuple[str, str]] = {
    "accounts": ("iets met je account", "something about your account"),
    "billing": ("iets met je facturen of betalingen", "something about your invoices or payments"),
    "shop": ("iets met je bestellingen", "something about your orders"),
    "rights": ("iets met je privacyverzoeken", "something about your privacy requests"),
    "vault": ("iets met je beveiligde gegevens", "something about your protected data"),
    "mail": ("een e-mail aan je", "an email to you"),
    "web": ("iets met je vragen", "something about your questions"),
}

OTHER = ("een andere gebeurtenis", "another event")


def event_label(action: str, language: str) -> str:
    """The event in words; never the code itself."""
    pair = EVENTS.get(action) or AREAS.get(action.split(".", 1)[0]) or OTHER
    return pair[1] if language.startswith("en") else pair[0]
