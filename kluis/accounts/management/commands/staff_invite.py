from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from kluis.accounts import services
from kluis.accounts.validators import validate_email_address
from kluis.policy.schema import ROLE_KEYS


class Command(BaseCommand):
    help = (
        "Invite a staff member: they get an activation link to choose their own password "
        "and set up two-step verification at first login. Use it for the first admin."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="", help="the name colleagues see")
        parser.add_argument(
            "--roles", required=True, help=f"comma-separated: {','.join(ROLE_KEYS)}"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        roles = [r.strip() for r in options["roles"].split(",") if r.strip()]
        unknown = sorted(set(roles) - set(ROLE_KEYS))
        if unknown or not roles:
            raise CommandError(
                f"unknown or no roles: {unknown}; choose from {', '.join(ROLE_KEYS)}"
            )
        try:
            validate_email_address(options["email"])
            services.staff_invite(
                email=options["email"], roles=roles, by=None, name=options["name"]
            )
        except (ValidationError, services.AccountError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("Invitation sent; the activation link is in the email.")
