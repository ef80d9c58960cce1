from django.urls import path

from kluis.shop import portal_views

app_name = "shop_portal"
urlpatterns = [
    path("bestellingen/", portal_views.orders, name="orders"),
    path("bestellingen/<uuid:order_id>/", portal_views.order, name="order"),
    path(
        "bestellingen/<uuid:order_id>/bevestigen/",
        portal_views.order_confirm,
        name="order-confirm",
    ),
    path("bestellingen/<uuid:order_id>/<slug:kind>.pdf", portal_views.order_pdf, name="order-pdf"),
    path(
        "bestellingen/<uuid:order_id>/herroepen/",
        portal_views.order_withdraw,
        name="order-withdraw",
    ),
    path("abonnementen/", portal_views.subscriptions, name="subscriptions"),
    path(
        "abonnementen/<int:subscription_id>/opzeggen/",
        portal_views.subscription_end,
        name="subscription-end",
    ),
    path("documenten/", portal_views.documents_pending, name="documents"),
    path("documenten/accepteren/", portal_views.documents_accept, name="documents-accept"),
]
