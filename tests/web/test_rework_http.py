"""Rework and unissue end to end over a real HTTP socket: a station set up by the API, a
finished unit reworked and completed again, a lot returned to stock, the figures read back."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from tests.conftest import new_scan_id


class Http:
    def __init__(self, url: str, token: str):
        self.url = url
        self.token = token

    def __call__(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        req = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def scan(self, scanner: str, code: str, **extra) -> tuple[int, dict]:
        return self(
            "POST",
            "/api/scans",
            {"scan_id": new_scan_id(), "scanner_id": scanner, "code": code, **extra},
        )


def test_rework_and_unissue_over_http(plant, api, live_server):
    admin = Http(live_server.url, api.tokens["admin"])
    http = Http(live_server.url, api.tokens["operator"])
    assert (
        admin(
            "POST",
            "/api/stations",
            {"code": "RW", "name": "Rework", "default_action": "rework", "rework_to": "QA"},
        )[0]
        == 201
    )
    assert (
        admin(
            "POST", "/api/stations", {"code": "RET", "name": "Returns", "default_action": "unissue"}
        )[0]
        == 201
    )
    for code in ("RW", "RET"):
        assert (
            admin("POST", "/api/scanners", {"id": f"sc-{code.lower()}", "station": code})[0] == 201
        )

    (steel,) = plant.items("STEEL", qty=10, lot="S-1")
    (bolts,) = plant.items("BOLT", qty=10, lot="B-1")
    (w,) = plant.items("WIDGET")
    plant.order("WO-1", "WIDGET", 2)  # one unit made today: 4 kg of steel needed, 3 issued
    for scanner, code, extra in [
        ("sc-recv", steel, {}),
        ("sc-recv", bolts, {}),
        ("sc-a1", w, {}),
        ("sc-line", steel, {"qty": 3}),
        ("sc-line", bolts, {"qty": 4}),
        ("sc-a2", w, {}),
        ("sc-qa", w, {}),
        ("sc-end", w, {}),
    ]:
        status, answer = http.scan(scanner, code, **extra)
        assert status == 201, answer
        if scanner == "sc-line" and code == steel:
            issued = answer["item"]
    assert admin("GET", "/api/orders/WO-1")[1]["completed"] == 1

    status, answer = http.scan("sc-rw", w)  # no reason: nothing moves
    assert (status, answer["reason"]) == (422, "reason_required")
    assert http.scan("sc-rw", "CMD-WHY-DIMENSION")[0] == 201
    status, answer = http.scan("sc-rw", w)
    assert (status, answer["action"], answer["stage"]) == (201, "rework", "wip")
    history = admin("GET", f"/api/items/{w}")[1]["history"]
    assert history[-1]["action"] == "rework" and history[-1]["why"] == "DIMENSION", history[-1]
    order = admin("GET", "/api/orders/WO-1")[1]
    assert order["completed"] == 0
    status, answer = http.scan("sc-end", w)
    assert (status, answer["reason"]) == (422, "routing_incomplete")
    assert "move it to QA next" in answer["message"]
    assert http.scan("sc-qa", w)[0] == 201
    assert http.scan("sc-end", w)[0] == 201
    assert admin("GET", "/api/orders/WO-1")[1]["completed"] == 1

    # the kilo of steel left over goes back to stock with its lot
    status, answer = http.scan("sc-ret", issued)
    assert (status, answer["action"], answer["stage"]) == (201, "unissue", "raw")
    item = admin("GET", f"/api/items/{issued}")[1]
    assert (item["stage"], item["qty"], item["lot"], item["order"]) == ("raw", 1, "S-1", None)
    mats = {m["material"]: m for m in admin("GET", "/api/orders/WO-1")[1]["materials"]}
    assert (mats["STEEL"]["issued"], mats["STEEL"]["consumed"]) == (2, 2)

    # a shipped unit cannot be reworked
    assert http.scan("sc-ship", w)[0] == 201
    status, answer = http.scan("sc-rw", w, reason="REPAIR")
    assert (status, answer["reason"]) == (422, "illegal_transition")
    assert answer["message"] == "This item is already shipped: only a supervisor can return it"
