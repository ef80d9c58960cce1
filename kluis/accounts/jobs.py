"""The accounts app's work for the worker: the password resets asked for on the site."""

from kluis.accounts.services import password_reset_requests_handle
from kluis.jobs.registry import queue


@queue("password_reset_requests")
def password_reset_requests() -> int:
    return password_reset_requests_handle()
