from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class PolicyConfig(AppConfig):
    name = "kluis.policy"
    label = "policy"
    verbose_name = "Privacy policy"

    def ready(self) -> None:
        # A bad policy file must stop start-up, not surface at the first reveal.
        from django.conf import settings

        from kluis.policy.loader import current_policy, refuse_placeholders

        policy = current_policy()
        if not settings.DEBUG:
            refuse_placeholders(policy)
        # Every app that owns cases (orders, requests, hand-overs) declares their kinds
        # in its `cases` module (kluis/policy/cases.py).
        autodiscover_modules("cases")
