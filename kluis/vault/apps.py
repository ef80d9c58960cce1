from django.apps import AppConfig


class VaultConfig(AppConfig):
    name = "kluis.vault"
    label = "vault"
    verbose_name = "Vault"

    def ready(self) -> None:
        from kluis.vault import fields

        fields.connect_blind_indexes()
