from django.urls import path

from kluis.domains import backoffice_views

app_name = "domains_backoffice"
urlpatterns = [
    path("", backoffice_views.desk, name="desk"),
    path("<int:registration_id>/opnieuw/", backoffice_views.retry, name="retry"),
]
