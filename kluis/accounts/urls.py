from django.urls import path

from kluis.accounts import passkey_views, views

app_name = "accounts"
urlpatterns = [
    path("inloggen/", views.login_view, name="login"),
    path("inloggen/verificatie/", views.login_mfa, name="login-mfa"),
    path("inloggen/passkey/", passkey_views.login_passkey, name="login-passkey"),
    path("uitloggen/", views.logout_view, name="logout"),
    path("aanmelden/", views.signup, name="signup"),
    path("aanmelden/verstuurd/", views.signup_done, name="signup-done"),
    path("activeren/<str:uidb64>/<str:token>/", views.activate, name="activate"),
    path("wachtwoord-vergeten/", views.password_reset, name="password-reset"),
    path("wachtwoord-vergeten/verstuurd/", views.password_reset_sent, name="password-reset-sent"),
    path(
        "wachtwoord-herstellen/<str:uidb64>/<str:token>/",
        views.password_reset_confirm,
        name="password-reset-confirm",
    ),
    path("instellingen/", views.account_settings, name="settings"),
    path("wachtwoord-wijzigen/", views.password_change, name="password-change"),
    path("e-mailadres-wijzigen/", views.email_change, name="email-change"),
    path("rechtsvorm/", views.legal_form, name="legal-form"),
    path("e-mailadres-bevestigen/<str:token>/", views.email_confirm, name="email-confirm"),
    path("tweestapsverificatie/", views.mfa_overview, name="mfa"),
    path("tweestapsverificatie/app/", views.mfa_totp, name="mfa-totp"),
    path("tweestapsverificatie/herstelcodes/", views.mfa_recovery, name="mfa-recovery"),
    path("tweestapsverificatie/uitzetten/", views.mfa_disable, name="mfa-disable"),
    path("tweestapsverificatie/passkeys/", passkey_views.passkey_list, name="passkeys"),
    path(
        "tweestapsverificatie/passkeys/<uuid:passkey_id>/verwijderen/",
        passkey_views.passkey_remove,
        name="passkey-remove",
    ),
]
