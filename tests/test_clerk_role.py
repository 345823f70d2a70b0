"""The clerk role, on every route: a clerk receives and prints (receive scans, items, label
templates, label sheets, the print pages) and is refused every planning and admin route and
page (403), through the API with a token and through the pages with a session."""

from __future__ import annotations

import re

import pytest

from server.api import OPERATIONS
from tests.web.conftest import as_role, web_users  # noqa: F401 - fixtures

REFUSED = {"supervisor", "admin"}


def _path(rule: str) -> str:
    rule = re.sub(r"<int:\w+>", "1", rule)
    return re.sub(r"<(?:\w+:)?(\w+)>", "X1", rule)


def test_every_api_route_as_a_clerk(api, db):
    assert OPERATIONS
    for o in OPERATIONS:
        path = "/api" + _path(o.rule)
        resp = api.client.open(
            path,
            method=o.method.upper(),
            json={} if o.method != "get" else None,
            headers={"Authorization": f"Bearer {api.tokens['clerk']}"},
        )
        if o.role in REFUSED:
            assert resp.status_code == 403, (o.method, path, resp.status_code)
            assert resp.get_json()["error"] == "forbidden"
        else:
            assert resp.status_code not in (401, 403), (o.method, path, resp.status_code)
            assert resp.status_code < 500, (o.method, path, resp.get_data(as_text=True)[:200])


def test_every_page_as_a_clerk(app, as_role):  # noqa: F811
    browser = as_role("clerk")
    checked = 0
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        role = getattr(view, "required_role", None)
        if role is None:
            continue
        path = _path(rule.rule)
        for method in sorted(rule.methods & {"GET", "POST"}):
            resp = browser.get(path) if method == "GET" else browser.post(path)
            if role in REFUSED:
                assert resp.status_code == 403, (method, path, role, resp.status_code)
            else:
                assert resp.status_code != 403, (method, path, role)
                assert resp.status_code < 500, (method, path, resp.get_data(as_text=True)[:300])
            checked += 1
    assert checked > 30


def test_a_clerk_receives_and_prints_but_does_not_plan(plant, api, db):
    (code,) = api.post(
        "/api/items", {"product": "STEEL", "qty": 40, "lot": "L-3"}, as_="clerk", expected=201
    ).get_json()["items"]
    answer = plant.scan("sc-recv", code["code"], expected=201, as_="clerk")
    assert answer["stage"] == "raw"
    label = api.client.post(
        "/api/labels",
        json={"items": [code["code"]]},
        headers={"Authorization": f"Bearer {api.tokens['clerk']}"},
    )
    assert label.status_code == 200 and label.mimetype == "application/pdf"
    refused = api.post(
        "/api/orders", {"number": "WO-C", "product": "WIDGET", "qty": 1}, as_="clerk", expected=403
    )
    assert refused.get_json()["error"] == "forbidden"


@pytest.mark.parametrize("path", ["/labels/print", "/labels/templates", "/items"])
def test_a_clerk_opens_the_print_pages(as_role, path):  # noqa: F811
    resp = as_role("clerk").get(path)
    assert resp.status_code == 200 and "text/html" in resp.content_type


def test_a_clerk_lands_on_the_print_page(as_role):  # noqa: F811
    resp = as_role("clerk").get("/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/labels/print")
