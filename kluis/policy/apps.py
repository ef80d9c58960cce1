from django.apps import AppConfig


class PolicyConfig(AppConfig):
    name = "kluis.policy"
    label = "policy"
    verbose_name = "Privacy policy"

    def ready(self) -> None:
        # A bad policy file must stop start-up, not surface at the first reveal.
        from kluis.policy.loader import current_policy

        current_policy()
