"""How to pay us: the account holder, IBAN and BIC every invoice, mail and portal page shows.

The IBAN is the first of KLUIS_IBAN (checked at start-up); the holder defaults to the
controller's legal name in the privacy policy and the BIC to the one schwifty's bank
registry gives for the IBAN.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from schwifty import IBAN

from kluis.policy.loader import current_policy


@dataclass(frozen=True)
class Payee:
    holder: str
    iban: str  # printed in groups of four, as on a bank card
    bic: str


def payee() -> Payee:
    iban = IBAN(settings.KLUIS_IBANS[0])
    bic = settings.KLUIS_BIC or (str(iban.bic) if iban.bic is not None else "")
    holder = settings.KLUIS_ACCOUNT_HOLDER or current_policy().controller.name
    return Payee(holder=holder, iban=iban.formatted, bic=bic)
