"""Debian's nginx on loopback for tests that need the real server (usage logs, allowlists)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
IN_CI = os.environ.get("CI", "") in {"true", "1"}


def nginx_or_skip() -> str:
    """The nginx binary; without one the test skips, except under CI where it fails."""
    if NGINX is None:
        if IN_CI:
            pytest.fail("no nginx under CI: `make browser` installs Debian's nginx-light")
        pytest.skip("no nginx here (Debian: apt-get install nginx-light)")
    return NGINX


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def preamble(prefix: Path) -> str:
    """The main-context lines of a private nginx under `prefix`, in the foreground."""
    return (
        "user root;\n" if os.geteuid() == 0 else ""
    ) + f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\ndaemon off;\nevents {{}}\n"


@contextmanager
def nginx_running(prefix: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Run nginx with `prefix`/nginx.conf until it listens on `port`; stop it after."""
    proc = subprocess.Popen(
        [nginx_or_skip(), "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
