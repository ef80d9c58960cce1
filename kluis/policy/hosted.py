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
  purpose of our own follows from art. 4(7) GDPR ("'controller' means the natural or
  legal person ... which, alone or jointly with others, determines the purposes and
  means of the processing of personal data", same copies). Processor agreement 2.0,
  art. 4, cited only 28(10); 2.1 cites art. 4(7) where it sets out the roles (art. 1
  and 4), and states each use as prose (`HostedUse.prose`), the same sentences as the
  statement. 2.0 keeps its own words (`HostedUse.sentence`): a published version's text
  does not change under the customers who accepted it.
- Art. 32(1)(a)-(d) GDPR: encryption; confidentiality, integrity, availability and
  resilience; restoring availability and access in time; regular testing. Reference
  knowledge, not checked against the primary text.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import override

from kluis.policy.render import (
    LEGAL_BASIS,
    LEGAL_BASIS_ARTICLE,
    legal_basis_text,
    lower_first,
    retention_term,
)
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
    basis_name: str = ""  # "gerechtvaardigd belang"
    basis_article: str = ""  # "art. 6 lid 1 sub f AVG"
    interest: str = ""  # "om het e-mailverkeer te beveiligen ..."

    def prose(self) -> str:
        """The use as a lawyer writes it, in whole sentences (statement, agreement 2.1)."""
        said = [
            _("Voor %(use)s gebruiken we %(data)s.")
            % {"use": lower_first(self.label), "data": self.data},
            _("Doel en middelen bepalen we hier zelf.")
            + " "
            + _(
                "Daarom zijn we hiervoor verwerkingsverantwoordelijke (art. 4 onder 7 AVG), "
                "niet de verwerker van de klant."
            ),
        ]
        grounds = {"basis": self.basis_name, "article": self.basis_article}
        if self.interest:
            said.append(
                _("Onze grondslag is %(basis)s (%(article)s).") % grounds
                + " "
                + _("We doen dit %(interest)s.") % {"interest": self.interest}
            )
        else:
            said.append(_("Onze grondslag is %(basis)s (%(article)s).") % grounds)
        said.append(_("We bewaren ze %(term)s.") % {"term": self.retention})
        return " ".join(said)

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
                    basis_name=str(LEGAL_BASIS[purpose.legal_basis]).lower(),
                    basis_article=str(LEGAL_BASIS_ARTICLE[purpose.legal_basis]),
                    interest=use.interest.get(language) if use.interest else "",
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
