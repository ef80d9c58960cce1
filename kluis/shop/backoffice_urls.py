from django.urls import path

from kluis.shop import backoffice_views

app_name = "shop_backoffice"
urlpatterns = [
    path("bestellingen/", backoffice_views.orders, name="orders"),
    path("bestellingen/<uuid:order_id>/", backoffice_views.order, name="order"),
    path("bestellingen/<uuid:order_id>/status/", backoffice_views.order_move, name="order-move"),
    path("btw-controle/", backoffice_views.vat_checks, name="vat-checks"),
    path(
        "btw-controle/<uuid:order_id>/",
        backoffice_views.vat_check_by_hand,
        name="vat-check-by-hand",
    ),
    path("abonnementen/", backoffice_views.subscriptions, name="subscriptions"),
    path(
        "abonnementen/<int:subscription_id>/opzeggen/",
        backoffice_views.subscription_end,
        name="subscription-end",
    ),
    path("catalogus/", backoffice_views.catalogue, name="catalogue"),
    path("catalogus/pakket/<int:product_id>/", backoffice_views.product, name="product"),
    path("catalogus/extensie/<int:extension_id>/", backoffice_views.extension, name="extension"),
    path(
        "catalogus/pakket/<int:product_id>/prijs/",
        backoffice_views.product_price,
        name="product-price",
    ),
    path(
        "catalogus/extensie/<int:extension_id>/prijs/",
        backoffice_views.extension_price,
        name="extension-price",
    ),
]
