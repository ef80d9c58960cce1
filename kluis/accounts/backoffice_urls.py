from django.urls import path

from kluis.accounts import backoffice_views as views

app_name = "backoffice"
urlpatterns = [
    path("", views.home, name="home"),
    path("klanten/", views.customers, name="customers"),
    path("klanten/<uuid:customer_id>/", views.customer, name="customer"),
    path("klanten/<uuid:customer_id>/inzien/", views.customer_reveal, name="customer-reveal"),
    path(
        "klanten/<uuid:customer_id>/wachtwoord-herstel/",
        views.customer_password_reset,
        name="customer-password-reset",
    ),
    path("medewerkers/", views.staff, name="staff"),
    path("medewerkers/<uuid:user_id>/rollen/", views.staff_roles, name="staff-roles"),
    path("medewerkers/<uuid:user_id>/uitzetten/", views.staff_deactivate, name="staff-deactivate"),
    path(
        "medewerkers/rollen/<int:grant_id>/besluit/",
        views.role_grant_decide,
        name="role-grant-decide",
    ),
]
