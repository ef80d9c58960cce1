from django.urls import path

from kluis.usage import views

app_name = "usage_backoffice"
urlpatterns = [
    path("site/<int:site_id>/", views.backoffice_site, name="site"),
]
