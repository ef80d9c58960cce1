from django.conf import settings
from django.urls import path, register_converter

from kluis.policy import views


class LanguageConverter:
    regex = "|".join(code for code, _name in settings.LANGUAGES)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class VersionConverter:
    regex = r"\d+(?:\.\d+)*"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(LanguageConverter, "lang")
register_converter(VersionConverter, "version")

app_name = "policy"
urlpatterns = [
    path("", views.statement, name="statement"),
    path("<lang:lang>/", views.statement, name="statement"),
    path("versions/", views.versions, name="versions"),
    path("v/<version:version>/", views.version, name="version"),
    path("v/<version:version>/<lang:lang>/", views.version, name="version"),
    path("v/<version:version>/<lang:lang>/pdf", views.pdf, name="pdf"),
    path("register/", views.register, name="register"),
    path("register.csv", views.register_csv, name="register_csv"),
    path("dataflow.svg", views.dataflow, name="dataflow"),
]
