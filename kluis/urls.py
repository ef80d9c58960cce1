from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("privacy/", include("kluis.policy.urls")),
    path("", include("kluis.web.urls")),
]
