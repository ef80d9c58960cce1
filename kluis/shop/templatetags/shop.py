from django import template

from kluis.shop.emails import euro as _euro

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
