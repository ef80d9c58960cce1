from django import template

from kluis.shop.emails import euro as _euro
from kluis.shop.prices import PriceDisplay

register = template.Library()


@register.filter
def euro(cents: int) -> str:
    return _euro(int(cents))


@register.filter
def localized(item: object, language: str) -> str:
    """A catalogue item's name in the page's language."""
    return str(item.name(language))  # type: ignore[attr-defined]


@register.filter
def described(item: object, language: str) -> str:
    return str(item.description(language))  # type: ignore[attr-defined]


@register.filter
def localized_line(line: object, language: str) -> str:
    return str(line.description(language))  # type: ignore[attr-defined]


@register.filter
def price(net_cents: int, display: PriceDisplay) -> str:
    """A net catalogue amount as this visitor is shown it: incl. or excl. btw."""
    return _euro(display.amount(int(net_cents)))
