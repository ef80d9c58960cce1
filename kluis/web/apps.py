from django.apps import AppConfig, apps


class WebConfig(AppConfig):
    name = "kluis.web"
    label = "web"
    verbose_name = "Public site"

    def ready(self) -> None:
        if apps.is_installed("kluis.rights"):
            from kluis.policy.schema import Trigger
            from kluis.rights.linked import register_address_finder
            from kluis.rights.retention import register_trigger
            from kluis.web.retention import questions_by_address, questions_closed

            register_trigger(Trigger.REQUEST_CLOSED, questions_closed)
            register_address_finder(questions_by_address)
