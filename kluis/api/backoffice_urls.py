from django.urls import path

from kluis.api import views

urlpatterns = [
    path("", views.service_tokens, name="api-service-tokens"),
    path("<uuid:token_id>/intrekken/", views.service_token_revoke, name="api-service-token-revoke"),
]
