from django.urls import path

from kluis.web import health, views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("contact/", views.contact, name="contact"),
    path("contact/verstuurd/", views.contact_sent, name="contact-sent"),
    path("cookies/", views.cookies, name="cookies"),
    path("healthz", health.healthz, name="healthz"),
]
