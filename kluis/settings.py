"""kluis settings: one module, read from the environment.

Every variable is optional in development (`make run`); production sets
KLUIS_DEBUG=0 and then must give KLUIS_SECRET_KEY and KLUIS_ALLOWED_HOSTS.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from kluis.env import (
    env_bool,
    env_database,
    env_days,
    env_ibans,
    env_int,
    env_kvk,
    env_list,
    env_str,
    env_vat,
)
from kluis.mail.config import env_email

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("KLUIS_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("KLUIS_DEBUG", True)


def _secret_key() -> str:
    key = env_str("KLUIS_SECRET_KEY", "")
    if key:
        if len(key) < 50:
            raise ImproperlyConfigured("KLUIS_SECRET_KEY must be at least 50 characters long.")
        return key
    if not DEBUG:
        raise ImproperlyConfigured("KLUIS_SECRET_KEY is required when KLUIS_DEBUG is off.")
    # Development: a key generated once per checkout, outside git.
    path = VAR_DIR / "secret.key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(64))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("KLUIS_ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("KLUIS_ALLOWED_HOSTS is required when KLUIS_DEBUG is off.")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",  # runserver too serves static files through WhiteNoise
    "django.contrib.staticfiles",
    "django.forms",  # the form renderer finds Django's widget templates beside ours
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "kluis.policy",
    "kluis.vault",
    "kluis.audit",
    "kluis.mail",
    "kluis.jobs",
    "kluis.accounts",
    "kluis.shop",
    "kluis.rights",
    "kluis.billing",
    "kluis.domains",
    "kluis.web",
    "kluis.sites",
    "kluis.api",
    "kluis.usage",
]

if env_bool("KLUIS_BENCH", False):
    INSTALLED_APPS.append("bench")  # plain-table floors for `make bench`

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "kluis.api.middleware.ApiMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "kluis.accounts.middleware.StaffSessionMiddleware",
    "kluis.web.consent.ConsentMiddleware",
    "kluis.web.statistics.StatisticsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "kluis.vault.middleware.VaultScopeMiddleware",
    "kluis.web.errors.RevealRefusedMiddleware",
]

ROOT_URLCONF = "kluis.urls"
WSGI_APPLICATION = "kluis.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- databases -------------------------------------------------------------------
# The keystore is a database of its own, so that it is backed up (and destroyed)
# apart from the main database: shredding a key there makes old copies of the main
# database unreadable for that person.
DATABASES = {
    "default": env_database("DATABASE_URL", VAR_DIR / "kluis.sqlite3"),
    "keystore": env_database("KLUIS_KEYSTORE_URL", VAR_DIR / "keystore.sqlite3"),
}
if DATABASES["default"].get("NAME") == DATABASES["keystore"].get("NAME"):
    raise ImproperlyConfigured("KLUIS_KEYSTORE_URL must name another database than DATABASE_URL.")
DATABASE_ROUTERS = ["kluis.vault.routers.KeystoreRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- the vault ---------------------------------------------------------------------
# The master key wraps every data key. It comes from KLUIS_MASTER_KEY (base64 of 32
# bytes) or from a key file that `manage.py vault_init` creates with mode 0600.
KLUIS_MASTER_KEY_FILE = Path(env_str("KLUIS_MASTER_KEY_FILE", str(VAR_DIR / "master.key")))
KLUIS_POLICY_DIR = Path(env_str("KLUIS_POLICY_DIR", str(BASE_DIR / "kluis" / "policy" / "data")))

# --- the audit chain's witness -----------------------------------------------------
# Signed checkpoints of the audit chain leave the database: one file each in this
# directory (keep it on other storage than the database, append-only), and, when an
# address is set, a mail to the privacy officer, who also hears of a failed daily check.
KLUIS_AUDIT_WITNESS_DIR = Path(
    env_str("KLUIS_AUDIT_WITNESS_DIR", str(VAR_DIR / "audit-witness"))
).resolve()
KLUIS_PRIVACY_OFFICER_EMAIL = env_str("KLUIS_PRIVACY_OFFICER_EMAIL", "")
# Every shredded key is appended here before it is shredded; `manage.py restore`
# shreds them again in a restored keystore. Keep it beside the witness, not the keystore.
KLUIS_SHRED_JOURNAL = Path(
    env_str("KLUIS_SHRED_JOURNAL", str(VAR_DIR / "shred-journal.jsonl"))
).resolve()

# --- sites: the admin allowlists exported to the firewall (kluis/sites) ----------------
# Where the nftables ruleset and the nginx includes are written for the hosting nodes.
KLUIS_FIREWALL_DIR = Path(env_str("KLUIS_FIREWALL_DIR", str(VAR_DIR / "firewall"))).resolve()
# Run after a changed export (e.g. "nft -f /etc/kluis/kluis-allowlist.nft"); empty: none.
KLUIS_FIREWALL_RELOAD = env_str("KLUIS_FIREWALL_RELOAD", "")
# The proxies whose X-Forwarded-For kluis believes (CIDR list); empty: REMOTE_ADDR only.
KLUIS_TRUSTED_PROXIES = env_list("KLUIS_TRUSTED_PROXIES", [])
# Allow private and loopback addresses on an allowlist: only for a demo on one machine.
KLUIS_ALLOWLIST_LOCAL = env_bool("KLUIS_ALLOWLIST_LOCAL", False)

# --- auth --------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["kluis.accounts.backends.BlindIndexEmailBackend"]
PASSWORD_HASHERS = ["kluis.accounts.hashers.Argon2idHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {
        "NAME": "kluis.accounts.validators.StaffMinimumLengthValidator",
        "OPTIONS": {"min_length": 15},
    },
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "portal:home"
# A reset link is single use (its hash covers the password) and lives one hour;
# an activation link lives a week, since it arrives with a new service.
PASSWORD_RESET_TIMEOUT = 3600
KLUIS_ACTIVATION_TIMEOUT = env_int("KLUIS_ACTIVATION_TIMEOUT", 7 * 24 * 3600, minimum=3600)
# Staff sessions end after this many idle seconds; customer sessions after two weeks.
KLUIS_STAFF_IDLE_SECONDS = env_int("KLUIS_STAFF_IDLE_SECONDS", 30 * 60, minimum=60)
SESSION_COOKIE_AGE = env_int("KLUIS_SESSION_SECONDS", 14 * 24 * 3600, minimum=60)
OTP_TOTP_ISSUER = "winkeltjes.net"
# Links in emails are built on this address, never on the request's Host header.
KLUIS_BASE_URL = env_str(
    "KLUIS_BASE_URL",
    "http://127.0.0.1:8000" if DEBUG else f"https://{ALLOWED_HOSTS[0]}",
).rstrip("/")

# --- email -------------------------------------------------------------------------
# EMAIL_URL says where mail goes (kluis/mail/config.py): smtp://user:pass@host:587?starttls=1,
# smtps://…, file:///path, console:// or locmem://. Unset, each message is written to a
# file in VAR_DIR/mail. The outbox worker (`manage.py mail_worker`) and any direct send
# use this one backend; tests get memory from pytest-django.
_email = env_email("EMAIL_URL", default=(VAR_DIR / "mail").as_uri())
EMAIL_BACKEND = _email.backend
EMAIL_HOST = _email.host
EMAIL_PORT = _email.port
EMAIL_HOST_USER = _email.user
EMAIL_HOST_PASSWORD = _email.password
EMAIL_USE_TLS = _email.use_tls
EMAIL_USE_SSL = _email.use_ssl
EMAIL_TIMEOUT = _email.timeout
EMAIL_FILE_PATH = _email.file_path or VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env_str("KLUIS_FROM_EMAIL", "winkeltjes.net <noreply@winkeltjes.net>")

# --- i18n --------------------------------------------------------------------------
LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", "Nederlands"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "kluis" / "locale"]
USE_I18N = True
TIME_ZONE = "Europe/Amsterdam"
USE_TZ = True

# --- static files and the design ---------------------------------------------------------
# WhiteNoise serves the stylesheet from the app itself, under a name that carries its
# content hash (so browsers may cache it for a year) and compressed. `collectstatic`
# writes the hashed copies and their manifest to STATIC_ROOT; `make run`, `make pytest`
# and the test set-up run it. In development (KLUIS_DEBUG=1) files are served as they are.
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("KLUIS_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
# Every Django form renders through one form-row component (kluis/web/design.py).
FORM_RENDERER = "kluis.web.design.KluisFormRenderer"
CSRF_FAILURE_VIEW = "kluis.web.errors.csrf_failure"

# --- security ----------------------------------------------------------------------
SESSION_COOKIE_NAME = "kluis_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# No inline script or style anywhere: QR codes are inline SVG, everything else is a file.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("KLUIS_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("KLUIS_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- billing -------------------------------------------------------------------------
# Above the EU-wide OSS threshold (EUR 10,000 a year), EU consumers pay their own
# country's VAT rate; below it, Dutch VAT. The KvK and VAT numbers printed on invoices
# default to the controller's in the privacy policy.
KLUIS_OSS_ABOVE_THRESHOLD = env_bool("KLUIS_OSS_ABOVE_THRESHOLD", False)
# In production a missing or invalid KvK number, VAT number or IBAN stops start-up.
KLUIS_KVK_NUMBER = env_kvk("KLUIS_KVK_NUMBER", required=not DEBUG)
KLUIS_VAT_NUMBER = env_vat("KLUIS_VAT_NUMBER", required=not DEBUG)
# A renewal invoice asks VIES again when the customer's last valid answer is older.
KLUIS_VIES_MAX_AGE_DAYS = env_int("KLUIS_VIES_MAX_AGE_DAYS", 90, minimum=1)
KLUIS_INVOICE_SERIES = env_str("KLUIS_INVOICE_SERIES", "F")
KLUIS_PAYMENT_TERM_DAYS = env_int("KLUIS_PAYMENT_TERM_DAYS", 14, minimum=1)
# Renewal invoices go out this many days before a subscription's period ends. At most
# 28, the shortest month: a monthly subscription gets one period per invoice.
KLUIS_RENEWAL_LEAD_DAYS = env_int("KLUIS_RENEWAL_LEAD_DAYS", 14, minimum=0, maximum=28)
# Reminders of an unpaid invoice go out this many days after its due date, in order;
# after the last one consumers get the statutory 14-day letter (kluis/billing/dunning.py).
KLUIS_REMINDER_DAYS = env_days("KLUIS_REMINDER_DAYS", [7, 21])
# Bank statements (CAMT.053) are accepted only for this account, and validated against
# the ISO 20022 schemas vendored in the package (kluis/schemas/iso20022, see its README).
KLUIS_IBAN = env_str("KLUIS_IBAN", "NL91ABNA0417164300")
KLUIS_IBANS = env_ibans("KLUIS_IBAN", "NL91ABNA0417164300", required=not DEBUG)
# How invoices say to pay: to the first of our accounts, in the name of this holder
# (default: the controller's name in the privacy policy), with this BIC (default: the
# one schwifty's bank registry gives for the IBAN).
# iDEAL through the payment service provider (Mollie's Payments API). In development
# kluis talks to the local provider `make run` starts (manage.py mollie_local) with a
# fixed test key; in production iDEAL is off until KLUIS_MOLLIE_API_KEY is set.
KLUIS_MOLLIE_API_URL = env_str(
    "KLUIS_MOLLIE_API_URL", "http://127.0.0.1:8765" if DEBUG else "https://api.mollie.com"
).rstrip("/")
KLUIS_MOLLIE_API_KEY = env_str(
    "KLUIS_MOLLIE_API_KEY", "test_kluislocalprovider0000000000000" if DEBUG else ""
)
if KLUIS_MOLLIE_API_KEY and not (
    KLUIS_MOLLIE_API_KEY.startswith(("test_", "live_")) and KLUIS_MOLLIE_API_KEY[5:].isalnum()
):
    raise ImproperlyConfigured("KLUIS_MOLLIE_API_KEY must start with test_ or live_.")
# Mollie's Settlements API (checking a payout against its payments) wants an
# organisation access token (access_…); without one the API key is tried.
KLUIS_MOLLIE_ORGANISATION_TOKEN = env_str("KLUIS_MOLLIE_ORGANISATION_TOKEN", "")
# Where the provider's hosted checkout lives: the pay page's form may send the payer
# there (CSP form-action). Mollie's is www.mollie.com; the local provider's is itself.
KLUIS_MOLLIE_CHECKOUT_ORIGIN = env_str(
    "KLUIS_MOLLIE_CHECKOUT_ORIGIN",
    KLUIS_MOLLIE_API_URL if DEBUG else "https://www.mollie.com",
).rstrip("/")
# How long the "Betalen met iDEAL" link in a mail and the portal works.
KLUIS_IDEAL_LINK_DAYS = env_int("KLUIS_IDEAL_LINK_DAYS", 60, minimum=1, maximum=365)
KLUIS_ACCOUNT_HOLDER = env_str("KLUIS_ACCOUNT_HOLDER", "")
KLUIS_BIC = env_str("KLUIS_BIC", "")
KLUIS_ISO20022_DIR = Path(
    env_str("KLUIS_ISO20022_DIR", str(BASE_DIR / "kluis" / "schemas" / "iso20022"))
)

# --- domains: the registries over EPP (kluis/domains/registries.py) ---------------
# One URL per registry, epp://CLIENT-ID:PASSWORD@host:port. In development every
# registry is the local EPP server (manage.py epp_local); in production a registry
# without a URL registers nothing, and its orders wait on the domains desk.
KLUIS_EPP_LOCAL_PORT = env_int("KLUIS_EPP_LOCAL_PORT", 8700, minimum=1, maximum=65535)
KLUIS_EPP_LOCAL_PASSWORD = "kluis-local-epp"  # noqa: S105 - only the local registry takes it
KLUIS_EPP_ENDPOINTS = {
    key: env_str(
        f"KLUIS_EPP_{key.upper()}_URL",
        f"epp://kluis-{key}:{KLUIS_EPP_LOCAL_PASSWORD}@127.0.0.1:{KLUIS_EPP_LOCAL_PORT}"
        if DEBUG
        else "",
    )
    for key in ("sidn", "eurid", "dnsbelgium", "denic", "verisign", "pir")
}
# The local server writes its certificate here at start; clients trust only that one.
KLUIS_EPP_CAFILE = env_str(
    "KLUIS_EPP_CAFILE", str(VAR_DIR / "epp-local" / "cert.pem") if DEBUG else ""
)
KLUIS_EPP_CERTFILE = env_str("KLUIS_EPP_CERTFILE", "")  # the registrar's client certificate
KLUIS_EPP_KEYFILE = env_str("KLUIS_EPP_KEYFILE", "")
KLUIS_EPP_TIMEOUT = env_int("KLUIS_EPP_TIMEOUT", 30, minimum=1, maximum=600)
KLUIS_EPP_MAX_FRAME = env_int(
    "KLUIS_EPP_MAX_FRAME", 1024 * 1024, minimum=4096, maximum=64 * 1024 * 1024
)
KLUIS_EPP_NAMESERVERS = env_list(
    "KLUIS_EPP_NAMESERVERS", ["ns1.winkeltjes.net", "ns2.winkeltjes.net"]
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("KLUIS_LOG_LEVEL", "INFO")},
}

# --- REST API (kluis/api) ----------------------------------------------------------------
# Requests per token per minute; a body larger than this is refused unread (413).
KLUIS_API_RATE_PER_MINUTE = env_int("KLUIS_API_RATE_PER_MINUTE", 600, minimum=1)
KLUIS_API_MAX_BODY = env_int("KLUIS_API_MAX_BODY", 1024 * 1024, minimum=1024)

# Usage statistics (README "Usage statistics"): the logs the worker reads, as
# "nginx@host:/var/log/nginx/shop.log* postfix:/var/log/mail.log*", and this node's name.
KLUIS_USAGE_LOGS = env_str("KLUIS_USAGE_LOGS", "")
KLUIS_USAGE_NODE = env_str("KLUIS_USAGE_NODE", "local")
