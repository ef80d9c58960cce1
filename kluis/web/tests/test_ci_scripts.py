"""CI fails loudly when it cannot run a part of the suite; outside CI it skips politely.

`.ci/run`, `scripts/ensure-chromium` and `scripts/ensure-nftables` run as CI runs them,
with a stand-in `make` (the suite itself is not re-run here) and a stand-in `id` that
says "not root", so nothing is installed.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# Port 9 (discard): nothing in the test environment serves PostgreSQL there.
NO_POSTGRES = "postgres://postgres@127.0.0.1:9/test"


def _stand_ins(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in {
        "make": f'echo "make $*" >> {tmp_path}/make.log\n',
        "id": "echo 1000\n",
    }.items():
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\n{body}")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def _run(tmp_path: Path, command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "CI"}
    environment["PATH"] = f"{_stand_ins(tmp_path)}:{environment['PATH']}"
    environment.update(env)
    return subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("ci", ["true", "1"])
def test_ci_run_fails_without_postgresql_under_ci(tmp_path, ci):
    result = _run(tmp_path, ["bash", ".ci/run"], CI=ci, KLUIS_CI_DATABASE_URL=NO_POSTGRES)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "under CI the PostgreSQL pass must run" in result.stderr
    assert (tmp_path / "make.log").read_text() == "make test\n"


def test_ci_run_skips_the_postgresql_pass_with_a_notice_outside_ci(tmp_path):
    result = _run(tmp_path, ["bash", ".ci/run"], KLUIS_CI_DATABASE_URL=NO_POSTGRES)
    assert result.returncode == 0, result.stderr
    assert "skipping the PostgreSQL run" in result.stdout
    assert (tmp_path / "make.log").read_text() == "make test\n"


def test_ci_run_fails_when_the_sqlite_pass_fails(tmp_path):
    bin_dir = _stand_ins(tmp_path)
    (bin_dir / "make").write_text("#!/bin/sh\nexit 2\n")
    environment = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CI": "true"}
    result = subprocess.run(
        ["bash", ".ci/run"], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 2


def test_ensure_chromium_fails_without_the_browser_under_ci(tmp_path):
    result = _run(
        tmp_path,
        ["sh", "scripts/ensure-chromium"],
        CI="true",
        KLUIS_CHROMIUM=str(tmp_path / "no-chromium"),
    )
    assert result.returncode == 1
    assert "under CI the browser tests must run" in result.stderr


def test_ensure_chromium_skips_with_a_notice_outside_ci(tmp_path):
    result = _run(
        tmp_path, ["sh", "scripts/ensure-chromium"], KLUIS_CHROMIUM=str(tmp_path / "none")
    )
    assert result.returncode == 0
    assert "the browser tests will skip" in result.stderr


def test_ensure_chromium_is_quiet_when_the_browser_is_there(tmp_path):
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    result = _run(
        tmp_path, ["sh", "scripts/ensure-chromium"], CI="true", KLUIS_CHROMIUM=str(browser)
    )
    assert result.returncode == 0 and result.stderr == ""


def test_ensure_nftables_fails_without_nft_under_ci(tmp_path):
    result = _run(
        tmp_path, ["sh", "scripts/ensure-nftables"], CI="true", KLUIS_NFT=str(tmp_path / "none")
    )
    assert result.returncode == 1
    assert "under CI the firewall tests must run" in result.stderr


def test_ensure_nftables_skips_with_a_notice_outside_ci(tmp_path):
    result = _run(tmp_path, ["sh", "scripts/ensure-nftables"], KLUIS_NFT=str(tmp_path / "none"))
    assert result.returncode == 0
    assert "the nftables tests will skip" in result.stderr
