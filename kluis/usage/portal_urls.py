from django.urls import path

from kluis.usage import views

app_name = "usage_portal"
urlpatterns = [
    path("site/<int:site_id>/", views.site, name="site"),
    path("site/<int:site_id>/csv/", views.site_csv, name="site-csv"),
    path("mail/", views.mail, name="mail"),
    path("mail/csv/", views.mail_csv, name="mail-csv"),
    path("mail/package/<int:subscription_id>/add/", views.mailbox_add, name="mailbox-add"),
    path("mail/<uuid:mailbox_id>/remove/", views.mailbox_remove, name="mailbox-remove"),
]
