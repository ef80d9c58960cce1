from django.urls import path

from kluis.api import views
from kluis.api.api import api

urlpatterns = [
    path("docs/", views.reference, name="api-reference"),
    path("", api.urls),
]
