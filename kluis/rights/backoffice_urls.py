"""The privacy officer's pages: /backoffice/privacy/..."""

from django.urls import path

from kluis.rights import views

app_name = "rights_backoffice"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("archief/", views.archive, name="archive"),
    path("registreren/", views.register, name="register"),
    path("verzoek/<uuid:request_id>/", views.request_detail, name="request"),
    path("verzoek/<uuid:request_id>/antwoorden/", views.respond, name="respond"),
    path("verzoek/<uuid:request_id>/verlengen/", views.extend, name="extend"),
    path("verzoek/<uuid:request_id>/id-vragen/", views.ask_id, name="ask-id"),
    path("verzoek/<uuid:request_id>/id-kopie/", views.id_copy, name="id-copy"),
    path("verzoek/<uuid:request_id>/id-kopie/beeld.png", views.id_copy_image, name="id-copy-image"),
    path("verzoek/<uuid:request_id>/id-besluit/", views.decide, name="decide"),
    path("verzoek/<uuid:request_id>/export.<str:fmt>", views.officer_export, name="export"),
    path("verzoek/<uuid:request_id>/corrigeren/", views.officer_rectify, name="rectify"),
    path("opvolging/<int:follow_up_id>/klaar/", views.follow_up_done, name="follow-up-done"),
    path("beperking/<int:limit_id>/beeindigen/", views.limit_end, name="limit-end"),
    path("politie-justitie/", views.police, name="police"),
    path("politie-justitie/<int:police_id>/", views.police_request, name="police-request"),
    path("politie-justitie/<int:police_id>/besluit/", views.police_decide, name="police-decide"),
    path("politie-justitie/<int:police_id>/antwoord/", views.police_answer, name="police-answer"),
    path(
        "politie-justitie/<int:police_id>/geheimhouding-opheffen/",
        views.police_confidentiality_end,
        name="police-confidentiality-end",
    ),
]
