from django.urls import path

from kluis.shop import views

app_name = "shop"
urlpatterns = [
    path("", views.catalogue, name="catalogue"),
    path("mandje/", views.cart, name="cart"),
    path("prijzen/", views.prices_choose, name="prices"),
    path("mandje/pakket/", views.cart_add, name="cart-add"),
    path("mandje/domein/", views.cart_add_domain, name="cart-add-domain"),
    path("mandje/verwijderen/", views.cart_remove, name="cart-remove"),
    path("bestellen/", views.checkout, name="checkout"),
    path("bestellen/ontvangen/", views.confirmation, name="confirmation"),
    path("herroepen/", views.withdraw, name="withdraw"),
    path("herroepen/verstuurd/", views.withdraw_sent, name="withdraw-sent"),
    path("herroepen/afronden/<str:token>/", views.withdraw_link, name="withdraw-link"),
    path("documenten/<slug:kind>/<str:version>/<str:lang>/", views.document, name="document"),
]
