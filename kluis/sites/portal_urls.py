from django.urls import path

from kluis.sites import portal_views

app_name = "sites_portal"
urlpatterns = [
    path("", portal_views.sites, name="sites"),
    path("<int:site_id>/", portal_views.site, name="site"),
    path("<int:site_id>/toevoegen/", portal_views.entry_add, name="entry-add"),
    path("<int:site_id>/dit-adres/", portal_views.entry_add_current, name="entry-add-current"),
    path("adres/<uuid:entry_id>/weghalen/", portal_views.entry_remove, name="entry-remove"),
    path("toegang/<int:grant_id>/beeindigen/", portal_views.grant_end, name="grant-end"),
    path("hulp/", portal_views.help_requests, name="help-requests"),
    path("hulp/nieuw/", portal_views.help_request_new, name="help-request-new"),
    path("hulp/<uuid:request_id>/", portal_views.help_request, name="help-request"),
    path("hulp/<uuid:request_id>/bijlagen/", portal_views.help_attach, name="help-attach"),
    path(
        "hulp/bijlage/<uuid:attachment_id>/",
        portal_views.help_attachment,
        name="help-attachment",
    ),
]
