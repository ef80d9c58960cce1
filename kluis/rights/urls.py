"""The public form and its links: /privacy/verzoek/..."""

from django.urls import path

from kluis.rights import views

app_name = "rights"
urlpatterns = [
    path("", views.public_request, name="request"),
    path("verstuurd/", views.public_sent, name="sent"),
    path("bevestig/<str:token>/", views.confirm, name="confirm"),
    path("identiteit/<str:token>/", views.id_upload, name="id-upload"),
]
