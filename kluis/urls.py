from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("kluis.api.urls")),
    path("privacy/verzoek/", include("kluis.rights.urls")),
    path("privacy/", include("kluis.policy.urls")),
    path("account/api-tokens/", include("kluis.api.account_urls")),
    path("account/", include("kluis.accounts.urls")),
    path("winkel/", include("kluis.shop.urls")),
    path("portaal/winkel/", include("kluis.shop.portal_urls")),
    path("backoffice/winkel/", include("kluis.shop.backoffice_urls")),
    path("portaal/privacy/", include("kluis.rights.portal_urls")),
    path("portaal/facturen/", include("kluis.billing.portal_urls")),
    path("betalen/", include("kluis.billing.pay_urls")),
    path("portaal/sites/", include("kluis.sites.portal_urls")),
    path("portaal/domeinen/", include("kluis.domains.portal_urls")),
    path("portaal/statistieken/", include("kluis.usage.portal_urls")),
    path("portaal/", include("kluis.accounts.portal_urls")),
    path("backoffice/privacy/", include("kluis.rights.backoffice_urls")),
    path("backoffice/facturen/", include("kluis.billing.backoffice_urls")),
    path("backoffice/domeinen/", include("kluis.domains.backoffice_urls")),
    path("backoffice/sites/", include("kluis.sites.backoffice_urls")),
    path("backoffice/api-tokens/", include("kluis.api.backoffice_urls")),
    path("backoffice/statistieken/", include("kluis.usage.backoffice_urls")),
    path("backoffice/", include("kluis.accounts.backoffice_urls")),
    path("backoffice/", include("kluis.web.backoffice_urls")),
    path("", include("kluis.web.urls")),
]

handler500 = "kluis.web.errors.server_error"
