from django.urls import path

from kluis.api import views

urlpatterns = [
    path("", views.personal_tokens, name="api-tokens"),
    path("<uuid:token_id>/intrekken/", views.personal_token_revoke, name="api-token-revoke"),
]
