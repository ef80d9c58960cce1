from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class MailConfig(AppConfig):
    name = "kluis.mail"
    label = "mail"
    verbose_name = "Mail"

    def ready(self) -> None:
        # Every app declares its kinds of mail in its `emails` module; import them all
        # now, so a worker can render any mail that any app queued.
        autodiscover_modules("emails")
