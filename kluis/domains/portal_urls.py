from django.urls import path

from kluis.domains import portal_views

app_name = "domains_portal"
urlpatterns = [
    path("", portal_views.domains, name="domains"),
    path("<int:registration_id>/", portal_views.domain, name="domain"),
    path("<int:registration_id>/naamservers/", portal_views.nameservers, name="nameservers"),
    path("<int:registration_id>/verhuiscode/", portal_views.auth_code, name="auth-code"),
]
