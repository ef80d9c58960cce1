"""kluis served the production way: gunicorn with KLUIS_DEBUG=0, as `make serve` and
deploy/kluis-web.service run it, and the deploy files checked by their own tools.

The server runs in a process of its own against this test run's databases, so what
is fetched went through gunicorn, WhiteNoise and every middleware as in production.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from kluis.mail.tests.conftest import database_url
from kluis.policy.filled import policy_dir_filled

ROOT = Path(settings.BASE_DIR)
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def production_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KLUIS_", "DJANGO_")) and k not in ("DATABASE_URL", "EMAIL_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="kluis.settings",
        KLUIS_DEBUG="0",
        KLUIS_SECRET_KEY="t" * 64,
        KLUIS_ALLOWED_HOSTS="127.0.0.1,localhost",
        KLUIS_SSL_REDIRECT="0",
        KLUIS_HSTS_SECONDS="3600",
        KLUIS_KVK_NUMBER="12345678",
        KLUIS_VAT_NUMBER="NL000099998B57",
        KLUIS_IBAN="NL91ABNA0417164300",
        KLUIS_VAR_DIR=str(settings.VAR_DIR),
        KLUIS_STATIC_ROOT=str(settings.STATIC_ROOT),
        KLUIS_MASTER_KEY_FILE=str(settings.KLUIS_MASTER_KEY_FILE),
        # The shipped policy names the server supplier by a placeholder, which production
        # start-up refuses; a copy with an example name stands in (kluis/policy/filled.py).
        KLUIS_POLICY_DIR=str(policy_dir_filled(Path(tempfile.mkdtemp()) / "policy")),
        KLUIS_AUDIT_WITNESS_DIR=str(settings.KLUIS_AUDIT_WITNESS_DIR),
        DATABASE_URL=database_url("default"),
        KLUIS_KEYSTORE_URL=database_url("keystore"),
        EMAIL_URL="locmem://",
    )
    env.update(extra)
    return env


def start_gunicorn(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**env, "KLUIS_BIND": f"127.0.0.1:{port}", "KLUIS_WEB_WORKERS": "1"}
    proc = subprocess.Popen(
        [
            str(GUNICORN),
            "--config",
            "deploy/gunicorn.conf.py",
            "--no-control-socket",
            "kluis.wsgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"gunicorn stopped at start-up:\n{out}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("gunicorn did not listen within 60 s")


def stop(proc: subprocess.Popen[bytes]) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.decode() if out else ""


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - local
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


@pytest.fixture
def served(transactional_db: None, django_db_blocker: object) -> Iterator[str]:
    proc, base = start_gunicorn(production_env())
    try:
        yield base
    finally:
        stop(proc)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_gunicorn_serves_a_page_and_a_hashed_static_file(served: str) -> None:
    # As behind nginx: the proxy says the request came over https.
    status, headers, body = fetch(f"{served}/", {"X-Forwarded-Proto": "https"})
    assert status == 200, body[:500]
    assert b"<html" in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Strict-Transport-Security"].startswith("max-age=3600")
    assert headers["X-Frame-Options"] == "DENY"
    assert "Secure" in headers["Set-Cookie"]
    assert "Traceback" not in body.decode()

    manifest = json.loads((Path(settings.STATIC_ROOT) / "staticfiles.json").read_text())
    hashed = manifest["paths"]["web/kluis.css"]
    assert hashed != "web/kluis.css"
    status, headers, body = fetch(f"{served}/static/{hashed}", {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert "immutable" in headers["Cache-Control"]
    assert "max-age=315360000" in headers["Cache-Control"]
    assert headers.get("Content-Encoding") == "gzip"
    # The unhashed name may change content, so it is not cached for a year.
    status, headers, _ = fetch(f"{served}/static/web/kluis.css")
    assert status == 200
    assert "immutable" not in headers.get("Cache-Control", "")


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_production_start_up_refuses_a_missing_secret_key() -> None:
    env = production_env()
    del env["KLUIS_SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "KLUIS_SECRET_KEY is required" in result.stderr


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze here")
def test_systemd_units_verify(tmp_path: Path) -> None:
    """The units pass `systemd-analyze verify` with the install path set to this tree."""
    for name in ("kluis-web.service", "kluis-worker.service"):
        text = (ROOT / "deploy" / name).read_text().replace("/opt/kluis", str(ROOT))
        for needed in ("ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes"):
            assert needed in text, f"{name} lacks {needed}"
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / n) for n in os.listdir(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "kluis-" in line and "EnvironmentFile" not in line
    ]
    # An unknown or misspelt key is only a warning (exit status 0): any line fails.
    assert result.returncode == 0, result.stderr
    assert not problems, problems


NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def _nginx_config(
    tmp_path: Path, upstream: str = "127.0.0.1:8001", hosted: str = ""
) -> tuple[Path, int, int]:
    """The site file with a fresh certificate, this tree's paths and free ports.

    `hosted`: server blocks of hosted sites (`_hosted_sites`), joined into the same
    http block, as a hosting node's nginx would hold them.
    """
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kluis.example.nl")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    http_port, https_port = _free_port(), _free_port()
    while https_port == http_port:
        https_port = _free_port()
    site = (
        (ROOT / "deploy" / "nginx-kluis.conf")
        .read_text()
        .replace("/etc/ssl/kluis", str(tmp_path))
        # The tests' collected static files, not a checkout's staticfiles/ (conftest.py).
        .replace("/opt/kluis/staticfiles/", f"{settings.STATIC_ROOT}/")
        .replace("/opt/kluis", str(ROOT))
        .replace("/var/lib/kluis", str(tmp_path))
        .replace("/var/log/nginx", str(tmp_path))
        .replace("127.0.0.1:8001", upstream)
        .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
        .replace("listen [::]:80;", "")
        .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
        .replace("listen [::]:443 ssl http2;", "")
    )
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        # As root, nginx's workers would drop to "nobody", who cannot read the tests'
        # private temporary directories (the static files, the certificate).
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "daemon off;\nevents {}\n"
        f"http {{ include /etc/nginx/mime.types; include {tmp_path}/site.conf;\n"
        f"{hosted}}}\n"
    )
    return tmp_path / "nginx.conf", http_port, https_port


def _hosted_sites(tmp_path: Path, upstream: str) -> tuple[str, int, dict[str, int]]:
    """deploy/nginx-hosted-site.conf for two sites, with the firewall export's includes.

    Site "localhost" has 127.0.0.1 on its allowlist, site "127.0.0.1" has no entry;
    both proxy to `upstream` and have `/healthz` as their admin path. The includes are
    what `firewall_export` wrote into `tmp_path/allowlists` (KLUIS_FIREWALL_DIR in
    production), so nginx checks the files kluis writes, where the template includes
    them. Returns the server blocks, their port and site id by host name.
    """
    from kluis.sites.firewall import firewall_export
    from kluis.sites.testing import make_entry, make_site
    from kluis.testing import make_personas

    personas = make_personas()
    open_site, closed_site = make_site(personas.customer_a), make_site(personas.customer_b)
    with override_settings(KLUIS_ALLOWLIST_LOCAL=True):
        make_entry(open_site, personas.alice, "127.0.0.1")
    firewall_export(directory=tmp_path / "allowlists")
    port = _free_port()
    template = (ROOT / "deploy" / "nginx-hosted-site.conf").read_text()
    blocks = ""
    for site, host in ((open_site, "localhost"), (closed_site, "127.0.0.1")):
        blocks += (
            template.replace("/etc/ssl/sites/site-SITE_ID", str(tmp_path))
            .replace("/var/lib/kluis", str(tmp_path))
            .replace("SITE_ID", str(site.pk))
            .replace("HOST_NAMES", host)
            .replace("ADMIN_PATH", "/healthz")
            .replace("BACKEND", upstream)
            .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;")
            .replace("listen [::]:443 ssl http2;", "")
        )
    return blocks, port, {"localhost": open_site.pk, "127.0.0.1": closed_site.pk}


@pytest.mark.skipif(NGINX is None, reason="no nginx here (Debian: apt-get install nginx-light)")
@pytest.mark.django_db(databases="__all__")
def test_nginx_site_passes_nginx_t(tmp_path: Path) -> None:
    """The site file and a hosted site's server block including the allowlist that the
    firewall export wrote, with certificates and paths of this tree, pass `nginx -t`."""
    hosted, _port, sites = _hosted_sites(tmp_path, "127.0.0.1:8001")
    _nginx_config(tmp_path, hosted=hosted)
    for site_id in sites.values():  # the include is the export's file, at location level
        assert f"include {tmp_path}/allowlists/nginx/site-{site_id}.conf;" in hosted
        assert (tmp_path / "allowlists" / "nginx" / f"site-{site_id}.conf").exists()
    result = subprocess.run(
        [str(NGINX), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.mark.skipif(NGINX is None, reason="no nginx here (Debian: apt-get install nginx-light)")
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_nginx_in_front_of_gunicorn_serves_kluis_over_tls(served: str, tmp_path: Path) -> None:
    """As production runs it: TLS at nginx, static files from nginx, the rest proxied."""
    import ssl

    upstream = served.split("//")[1]
    hosted, hosted_port, _sites = _hosted_sites(tmp_path, upstream)
    config, http_port, https_port = _nginx_config(tmp_path, upstream=upstream, hosted=hosted)
    proc = subprocess.Popen(
        [str(NGINX), "-p", str(tmp_path), "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    context = ssl.create_default_context(cafile=str(tmp_path / "fullchain.pem"))
    context.check_hostname = False
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", https_port), timeout=0.5):
                    break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.05)
        base = f"https://127.0.0.1:{https_port}"
        with opener.open(f"{base}/", timeout=30) as response:
            assert response.status == 200
            # Django saw https (X-Forwarded-Proto from nginx): HSTS and Secure cookies.
            assert response.headers["Strict-Transport-Security"].startswith("max-age=3600")
            assert "Secure" in response.headers["Set-Cookie"]
        manifest = json.loads((Path(settings.STATIC_ROOT) / "staticfiles.json").read_text())
        hashed = manifest["paths"]["web/kluis.css"]
        with opener.open(f"{base}/static/{hashed}", timeout=30) as response:
            assert response.status == 200
            assert response.headers["Server"].startswith("nginx")
            # One Cache-Control header, a year and immutable (not two that disagree).
            assert response.headers.get_all("Cache-Control") == [
                "public, max-age=31536000, immutable"
            ]
        plain = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        plain.request("GET", "/winkel/")
        redirect = plain.getresponse()
        assert redirect.status == 301
        assert redirect.headers["Location"] == "https://127.0.0.1/winkel/"
        plain.close()
        # A hosted site's admin location: open to the address on its allowlist (the
        # request reaches the backend), closed (403 from nginx) where it is not.
        hosted_base = f"https://127.0.0.1:{hosted_port}/healthz"
        allowed = urllib.request.Request(hosted_base, headers={"Host": "localhost"})  # noqa: S310
        with opener.open(allowed, timeout=30) as response:
            assert response.status == 200 and response.read().strip() == b"ok"
        with pytest.raises(urllib.error.HTTPError) as denied:
            opener.open(
                urllib.request.Request(hosted_base, headers={"Host": "127.0.0.1"}),  # noqa: S310
                timeout=30,
            )
        assert denied.value.code == 403
    finally:
        proc.terminate()
        proc.wait(timeout=20)
