from django.urls import path

from kluis.sites import backoffice_views

app_name = "sites_backoffice"
urlpatterns = [
    path("", backoffice_views.desk, name="desk"),
    path("<int:site_id>/", backoffice_views.site_edit, name="site"),
    path("<int:site_id>/poort/", backoffice_views.site_port, name="site-port"),
    path("<int:site_id>/node/", backoffice_views.site_node, name="site-node"),
    path("nodes/", backoffice_views.nodes, name="nodes"),
    path("nodes/<int:node_id>/", backoffice_views.node_edit, name="node"),
    path("nodes/<int:node_id>/overgezet/", backoffice_views.node_switched, name="node-switched"),
    path("<int:site_id>/update/", backoffice_views.update_grant, name="update-grant"),
    path("<int:site_id>/status/", backoffice_views.site_status, name="site-status"),
    path("hulp/", backoffice_views.help_desk, name="help-desk"),
    path("hulp/<uuid:request_id>/", backoffice_views.help_request, name="help-request"),
    path("hulp/<uuid:request_id>/antwoord/", backoffice_views.help_answer, name="help-answer"),
    path("hulp/<uuid:request_id>/sluiten/", backoffice_views.help_close, name="help-close"),
    path("hulp/<uuid:request_id>/toegang/", backoffice_views.grant_open, name="grant-open"),
    path(
        "hulp/bijlage/<uuid:attachment_id>/",
        backoffice_views.help_attachment,
        name="help-attachment",
    ),
    path("toegang/<int:grant_id>/beeindigen/", backoffice_views.grant_end, name="grant-end"),
]
