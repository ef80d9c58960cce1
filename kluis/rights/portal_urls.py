"""The customer's own requests: /portaal/privacy/..."""

from django.urls import path

from kluis.rights import views

app_name = "rights_portal"
urlpatterns = [
    path("", views.portal_requests, name="requests"),
    path("verzoek/<uuid:request_id>/", views.portal_request, name="request"),
    path(
        "verzoek/<uuid:request_id>/export.<str:fmt>",
        views.portal_export,
        name="export",
    ),
    path("verwijderen/", views.portal_erase, name="erase"),
    path("corrigeren/", views.portal_rectify, name="rectify"),
]
