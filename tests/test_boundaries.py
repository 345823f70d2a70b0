"""The written I/O boundary (server/core/README.md): the domain imports neither Flask nor
MQTT, and the scanner agent and the labels library import nothing of the server."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

RULES = [
    ("server/core", ("flask", "werkzeug", "paho", "amqtt", "server.api", "server.web")),
    ("labels", ("flask", "server", "peewee", "paho")),
    ("scanner_agent", ("flask", "server", "peewee", "labels")),
]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize(("package", "forbidden"), RULES, ids=[r[0] for r in RULES])
def test_package_does_not_import(package, forbidden):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    bad = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert not bad, bad
