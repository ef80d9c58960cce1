from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from kluis.accounts.models import User


class Command(BaseCommand):
    help = "Print the current TOTP code of a demo staff user (development only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_totp only works in development (KLUIS_DEBUG=1)")
        user = User.objects.get_by_email(options["email"])
        device = TOTPDevice.objects.filter(user=user, name="demo").first() if user else None
        if device is None:
            raise CommandError(f"{options['email']} is not a demo staff user")
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
        self.stdout.write(f"{code:0{device.digits}d}")
