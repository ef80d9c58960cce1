"""kluis's URLs plus one view that fails, to see the 500 page as a visitor does."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from kluis.urls import urlpatterns as kluis_urlpatterns


def fails(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a fault in a view")


urlpatterns = [path("kapot/", fails), *kluis_urlpatterns]
