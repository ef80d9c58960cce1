from django.apps import AppConfig


class DomainsConfig(AppConfig):
    name = "kluis.domains"
    label = "domains"
    verbose_name = "Domeinnamen"

    def ready(self) -> None:
        from kluis.accounts.services import register_legal_form_follower
        from kluis.domains import renewals, shop_link
        from kluis.domains.follow import legal_form_follow_ups, running_domains
        from kluis.rights.erasure import register_erasure_blocker

        shop_link.connect()
        renewals.connect()
        register_erasure_blocker(running_domains)
        register_legal_form_follower(legal_form_follow_ups)
