from django.urls import path

from kluis.usage import backoffice_views, views

app_name = "usage_backoffice"
urlpatterns = [
    path("site/<int:site_id>/", views.backoffice_site, name="site"),
    path(
        "klant/<uuid:customer_id>/mailboxen/",
        backoffice_views.customer_mailboxes,
        name="mailboxes",
    ),
    path(
        "klant/<uuid:customer_id>/mailboxen/<uuid:mailbox_id>/inzien/",
        backoffice_views.mailbox_reveal,
        name="mailbox-reveal",
    ),
    path(
        "klant/<uuid:customer_id>/mailboxen/<uuid:mailbox_id>/beeindigen/",
        backoffice_views.mailbox_end,
        name="mailbox-end",
    ),
]
