from django.urls import path

from kluis.policy import views

app_name = "policy"
urlpatterns = [
    path("", views.statement, name="statement"),
]
