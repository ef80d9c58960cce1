from django.urls import path

from kluis.api import views
from kluis.api.api import api

urlpatterns = [
    path("docs/", views.reference, name="api-reference"),
    # Before ninja's own root (`api:api-root`), which answers 404 without its docs page.
    path("", views.home, name="api-home"),
    path("", api.urls),
]
