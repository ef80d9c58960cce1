"""A copy of the policy directory with its placeholders filled in, for production-like runs.

The shipped policy still names the server supplier and the debt
collector by placeholders, so kluis refuses to start with KLUIS_DEBUG=0
(kluis/policy/loader.py, refuse_placeholders). Tests of the production start and the
benchmarks, which run with KLUIS_DEBUG=0, point KLUIS_POLICY_DIR at such a copy. Plain
file work: usable before Django is set up.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "data"
EXAMPLE_NAME = "Voorbeeld Datacenter B.V."


def policy_dir_filled(target: Path) -> Path:
    """Copy the policy directory to `target` with every placeholder name replaced."""
    shutil.copytree(SOURCE, target, dirs_exist_ok=True)
    current = target / "privacy-policy.yaml"
    text = current.read_text(encoding="utf-8")
    text = re.sub(
        r"legal_name: [^\n]*\n(\s*)placeholder: true\n",
        lambda m: f"legal_name: {EXAMPLE_NAME}\n",
        text,
    )
    # Recipients named by a placeholder (the debt collector).
    count = iter(range(1, 100))
    text = re.sub(
        r"(\n\s*)name: [^\n]*\n\s*placeholder: true\n",
        lambda m: f"{m[1]}name: Voorbeeld Partij {next(count)} B.V.\n",
        text,
    )
    current.write_text(text, encoding="utf-8")
    return target
