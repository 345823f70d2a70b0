"""The role table of docs/api.md is the server's: every route it names needs exactly that
role, every other route is a GET for operators, and an import of master data needs admin."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import server.api
from server.api import OPERATIONS

for _module in pkgutil.iter_modules(server.api.__path__):
    importlib.import_module(f"server.api.{_module.name}")

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def documented_roles() -> dict[tuple[str, str], str]:
    """(METHOD, /api/path) -> role, from the table under "Auth and roles"."""
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("| role | routes") : text.index("No credentials:")]
    out: dict[tuple[str, str], str] = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2:
            continue
        role = cells[0]
        for method, path in re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/api/[^`]*)`", cells[1]):
            out.setdefault((method, path), role)  # the lowest role naming it first
    return out


def served_roles() -> dict[tuple[str, str], str | None]:
    return {
        (o.method.upper(), "/api" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", o.rule)): o.role
        for o in OPERATIONS
    }


def test_every_documented_route_needs_its_documented_role():
    served = served_roles()
    documented = documented_roles()
    assert len(documented) >= 18
    for route, role in documented.items():
        assert route in served, f"{route} is in docs/api.md but not served"
        assert served[route] == role, (route, served[route], role)


def test_every_other_route_is_an_operators_get():
    documented = documented_roles()
    for route, role in served_roles().items():
        if route not in documented:
            assert route[0] == "GET" and role == "operator", (route, role)


@pytest.mark.parametrize("kind", ["products", "bom", "routings", "stations", "locations"])
def test_master_data_imports_need_admin(api, kind):
    resp = api.call(
        "POST", f"/api/import/{kind}", as_="supervisor", data=b"x\n", content_type="text/csv"
    )
    assert resp.status_code == 403 and resp.get_json()["error"] == "forbidden"
