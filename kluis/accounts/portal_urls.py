from django.urls import path

from kluis.accounts import portal_views

app_name = "portal"
urlpatterns = [
    path("", portal_views.home, name="home"),
    path("mijn-gegevens/", portal_views.my_data, name="my-data"),
]
