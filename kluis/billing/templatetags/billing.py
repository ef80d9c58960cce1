from django import template

from kluis.billing.pdf import euro

register = template.Library()


@register.filter
def money(cents: int) -> str:
    """Euro from cents, negative amounts (credit notes) included."""
    return euro(int(cents))
