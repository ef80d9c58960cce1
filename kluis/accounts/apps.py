from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kluis.accounts"
    label = "accounts"
    verbose_name = "Accounts"
