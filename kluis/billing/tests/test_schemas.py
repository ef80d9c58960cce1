"""The vendored XML schemas: byte-exact upstream copies that compile, and ship with the code."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

import pytest
from django.conf import settings
from lxml import etree  # type: ignore[import-untyped]

SCHEMAS = Path(settings.BASE_DIR) / "kluis" / "schemas"
ROW = re.compile(r"^\| (?P<file>[\w.-]+\.xsd) \|.*\| (?P<blob>[0-9a-f]{40}) \|$", re.M)


def _blob(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _rows() -> list[tuple[Path, str]]:
    readme = (SCHEMAS / "README.md").read_text()
    rows: list[tuple[Path, str]] = []
    for section in ("iso20022", "epp"):
        part = readme.split(f"## {section}/", 1)[1].split("\n## ", 1)[0]
        rows += [(SCHEMAS / section / m["file"], m["blob"]) for m in ROW.finditer(part)]
    return rows


def test_every_vendored_schema_is_in_the_provenance_table_and_nothing_else_is():
    listed = {path for path, _ in _rows()}
    on_disk = set(SCHEMAS.glob("*/*.xsd"))
    assert listed == on_disk
    assert {p.name for p in on_disk} >= {
        "camt.053.001.02.xsd",
        "camt.053.001.03.xsd",
        "camt.053.001.04.xsd",
        "camt.053.001.08.xsd",
        "pain.001.001.03.xsd",
        "epp-1.0.xsd",
    }


@pytest.mark.parametrize("path,blob", _rows(), ids=lambda v: getattr(v, "name", ""))
def test_each_schema_is_the_upstream_blob_and_compiles(path, blob):
    assert _blob(path) == blob, f"{path.name} differs from the upstream blob named in README"
    etree.XMLSchema(etree.parse(str(path), etree.XMLParser(resolve_entities=False)))


def test_the_statement_schemas_are_read_from_the_package_by_default():
    directory = Path(settings.KLUIS_ISO20022_DIR).resolve()
    assert directory == (SCHEMAS / "iso20022").resolve()


def test_the_package_data_ships_every_schema():
    config = tomllib.loads((Path(settings.BASE_DIR) / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["kluis.schemas"]
    shipped = {p for pattern in globs for p in SCHEMAS.glob(pattern)}
    assert set(SCHEMAS.glob("*/*.xsd")) | {SCHEMAS / "README.md"} <= shipped
    assert (SCHEMAS / "__init__.py").is_file()


def test_nothing_outside_the_tests_reads_outside_the_project():
    """The product and the demo read no ../shared: a clone of kluis alone must run."""
    root = Path(settings.BASE_DIR)
    offenders = []
    for path in [*root.glob("kluis/**/*.py"), *root.glob("bench/**/*.py"), root / "Makefile"]:
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        text = path.read_text()
        if re.search(r"""["'/]shared["'/]|\.\./shared""", text):
            offenders.append(str(path.relative_to(root)))
    assert offenders == []
