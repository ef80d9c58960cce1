from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kluis.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from kluis.accounts.records import account_records
        from kluis.rights.records import register_record_finder

        register_record_finder(account_records)
