"""The policy in Fides form (fideslang): custom data categories and one system.

Each purpose becomes a privacy declaration of the `kluis` system. Our own categories
(keys starting with "kluis.") become custom data categories under the fideslang
category they refine. fideslang requires a key to extend its parent's key, so
`kluis.kvk_number` refining `user.government_id` is exported as
`user.government_id.kluis_kvk_number` with that parent.

The document is validated with fideslang's own models before it is returned, so an
export that Fides would refuse never leaves kluis.
"""

from __future__ import annotations

from typing import Any

import yaml
from fideslang.default_taxonomy import DEFAULT_TAXONOMY
from fideslang.models import Taxonomy

from kluis.policy.render import country_name, retention_term, web_url
from kluis.policy.schema import Category, LegalBasis, Location, Policy

ORGANIZATION = "default_organization"
SYSTEM = "kluis"
OWN_PREFIX = "kluis."
LEGAL_BASIS = {
    LegalBasis.CONSENT: "Consent",
    LegalBasis.CONTRACT: "Contract",
    LegalBasis.LEGAL_OBLIGATION: "Legal obligations",
    LegalBasis.VITAL_INTERESTS: "Vital interests",
    LegalBasis.PUBLIC_TASK: "Public interest",
    LegalBasis.LEGITIMATE_INTEREST: "Legitimate interests",
}


def category_fides_key(key: str, category: Category) -> str:
    if key.startswith(OWN_PREFIX):
        return f"{category.fides_key}.{key.replace('.', '_')}"
    return category.fides_key


def fides_document(policy: Policy, language: str = "en") -> dict[str, Any]:
    c = policy.controller
    a = c.address
    address = f"{a.street}, {a.postcode} {a.city}, {country_name(a.country)}"
    default_subjects = {s.fides_key for s in DEFAULT_TAXONOMY.data_subject}
    declarations = []
    for key, purpose in policy.purposes.items():
        categories = [policy.categories[k] for k in purpose.categories]
        recipients = [r for r in policy.recipients.values() if key in r.purposes]
        shared = dict.fromkeys(
            category_fides_key(k, policy.categories[k]) for r in recipients for k in r.categories
        )
        declarations.append(
            {
                "name": purpose.label.get(language),
                "data_use": purpose.fides_use,
                "data_categories": list(
                    dict.fromkeys(
                        category_fides_key(k, policy.categories[k]) for k in purpose.categories
                    )
                ),
                "data_subjects": list(
                    dict.fromkeys(
                        policy.data_subjects[s].fides_key
                        for cat in categories
                        for s in cat.subjects
                    )
                ),
                "legal_basis_for_processing": LEGAL_BASIS[purpose.legal_basis],
                "flexible_legal_basis_for_processing": False,
                "retention_period": "; ".join(
                    dict.fromkeys(
                        retention_term(policy.retention[cat.retention], language)
                        for cat in categories
                    )
                ),
                "data_shared_with_third_parties": bool(recipients),
                "third_parties": ", ".join(r.label.get(language) for r in recipients) or None,
                "shared_categories": list(shared),
            }
        )
    transfers = [r for r in policy.recipients.values() if r.location is Location.NON_EU]
    measures = [
        *policy.security.organisational,
        *policy.security.technical,
        *policy.security.management,
    ]
    system: dict[str, Any] = {
        "fides_key": SYSTEM,
        "organization_fides_key": ORGANIZATION,
        "name": f"kluis ({c.trade_name})",
        "description": policy.intro.get(language),
        "system_type": "Application",
        "responsibility": ["Controller"],
        "legal_name": c.name,
        "legal_address": address,
        "processes_personal_data": True,
        "uses_cookies": bool(policy.cookies),
        "does_international_transfers": bool(transfers),
        # Transfers rest on the customer's explicit consent (art. 49(1)(a) GDPR), which
        # fideslang's list of transfer bases calls "Other".
        "legal_basis_for_transfers": ["Other"] if transfers else [],
        "data_security_practices": "; ".join(m.label.get(language) for m in measures),
        "privacy_declarations": declarations,
    }
    if site := web_url(c.website):
        system["privacy_policy"] = site.rstrip("/") + "/privacy/"
    return {
        "organization": [
            {
                "fides_key": ORGANIZATION,
                "name": c.name,
                "controller": {
                    "name": c.name,
                    "address": address,
                    "email": c.email,
                    "phone": c.phone,
                },
            }
        ],
        "data_category": [
            {
                "fides_key": category_fides_key(key, category),
                "organization_fides_key": ORGANIZATION,
                "name": category.label.get(language),
                "description": category.description.get(language),
                "parent_key": category.fides_key,
            }
            for key, category in policy.categories.items()
            if key.startswith(OWN_PREFIX)
        ],
        "data_subject": [
            {
                "fides_key": subject.fides_key,
                "organization_fides_key": ORGANIZATION,
                "name": subject.label.get(language),
            }
            for subject in policy.data_subjects.values()
            if subject.fides_key not in default_subjects
        ],
        "system": [system],
    }


def fides_taxonomy(policy: Policy, language: str = "en") -> Taxonomy:
    return Taxonomy.model_validate(fides_document(policy, language))


def fides_yaml(policy: Policy, language: str = "en") -> str:
    document = fides_document(policy, language)
    Taxonomy.model_validate(document)  # refuse to write what Fides would refuse
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
