from django import template

from kluis.accounts.models import User
from kluis.accounts.selectors import CUSTOMER_ROLES

register = template.Library()


@register.filter
def handles_customers(user: object) -> bool:
    return isinstance(user, User) and bool(user.role_set & CUSTOMER_ROLES)


@register.filter
def has_role(user: object, role: str) -> bool:
    return isinstance(user, User) and role in user.role_set
