"""What the processor agreement and the statement say from the same policy entries.

Our own use of hosted data (`hosted_data`), the sub-processors (recipients with a
`subprocessor`) and the security measures by point of art. 32(1) GDPR. The
statement (render.py) and the processor agreement (kluis/shop/documents.py) both take
their sentences from here, so the two cannot say different things.

Legal notes (written here, where the text is made):
- Art. 28(10) GDPR: "Without prejudice to Articles 82, 83 and 84, if a processor
  infringes this Regulation by determining the purposes and means of processing, the
  processor shall be considered to be a controller in respect of that processing."
  Checked (2nd pass, 2026-12-04) against that text as quoted verbatim from EUR-Lex
  02016R0679-20160504 in several public copies; EUR-Lex's own page was not in the
  corpus. Result: the role we state (controller for our own use of hosted data) holds,
  but 28(10) is the rule for a processor that oversteps; that we are controller for a
  purpose of our own follows from art. 4(7) GDPR. Processor agreement 2.0, art. 4,
  cites only 28(10): its next version should cite art. 4(7) as well. Not changed now,
  since a new version asks every customer to accept again for a citation.
- Art. 32(1)(a)-(d) GDPR: encryption; confidentiality, integrity, availability and
  resilience; restoring availability and access in time; regular testing. Reference
  knowledge, not checked against the primary text.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import override

from kluis.policy.render import legal_basis_text, retention_term
from kluis.policy.schema import Art32, Policy

ART32_TITLES = {
    Art32.ENCRYPTION: ("versleuteling en pseudonimisering", "encryption and pseudonymisation"),
    Art32.CONFIDENTIALITY: (
        "vertrouwelijkheid, integriteit, beschikbaarheid en veerkracht",
        "confidentiality, integrity, availability and resilience",
    ),
    Art32.RESTORE: (
        "tijdig herstel van de beschikbaarheid van en de toegang tot de gegevens na een incident",
        "restoring the availability of and access to the data in time after an incident",
    ),
    Art32.TESTING: (
        "regelmatig testen, beoordelen en evalueren van de maatregelen",
        "regularly testing, assessing and evaluating the measures",
    ),
}


@dataclass(frozen=True)
class HostedUse:
    """One own use of hosted data, in one language: the facts both texts state."""

    key: str
    label: str
    data: str
    purpose: str
    basis: str
    retention: str

    def sentence(self) -> str:
        return _(
            "%(label)s: %(data)s. Doel: %(purpose)s. Hiervoor zijn wij zelf "
            "verwerkingsverantwoordelijke, niet de verwerker van de klant. Grondslag: %(basis)s. "
            "Bewaartermijn: %(retention)s."
        ) % {
            "label": self.label,
            "data": self.data,
            "purpose": self.purpose,
            "basis": self.basis,
            "retention": self.retention,
        }


def hosted_uses(policy: Policy, language: str) -> list[HostedUse]:
    uses = []
    with override(language):
        for key, use in policy.hosted_data.items():
            purpose = policy.purposes[use.purpose]
            uses.append(
                HostedUse(
                    key=key,
                    label=use.label.get(language),
                    data=use.data.get(language),
                    purpose=purpose.label.get(language),
                    basis=legal_basis_text(
                        purpose.legal_basis, purpose.legal_basis_detail.get(language)
                    ),
                    retention=retention_term(policy.retention[use.retention], language),
                )
            )
    return uses


def subprocessor_lines(policy: Policy, language: str) -> list[str]:
    from kluis.policy.render import country_name

    lines = []
    with override(language):
        for _key, _recipient, sub in policy.subprocessors():
            where = f"{sub.city}, {country_name(_recipient.country)}"
            lines.append(f"{sub.legal_name} ({where}): {sub.activities.get(language)}")
    return lines


def art32_lines(policy: Policy, language: str) -> list[str]:
    """Per point of art. 32(1), the measures that serve it."""
    measures = (
        *policy.security.organisational,
        *policy.security.technical,
        *policy.security.management,
    )
    lines = []
    for point in Art32:
        title = ART32_TITLES[point][0 if language == "nl" else 1]
        labels = [m.label.get(language) for m in measures if point in m.art32]
        lines.append(f"({point.value}) {title}: " + "; ".join(labels) + ".")
    return lines
