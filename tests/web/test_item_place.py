"""Where an item is: an item still in the plant shows its station; a shipped, consumed or
scrapped one has no station as its place and shows where it left from (the ledger row that
took it there), in GET /api/items/{code} and on the item page."""

from __future__ import annotations

import re

import pytest

from tests.conftest import GTIN_BOLT


def _widget_through(plant, last: str) -> str:
    plant.order("WO-1", "WIDGET", 1)
    (w,) = plant.items("WIDGET")
    for sc in ("sc-a1", "sc-a2", "sc-qa", "sc-end", "sc-ship"):
        plant.scan(sc, w, expected=201)
        if sc == last:
            break
    return w


def shipped(plant):
    return _widget_through(plant, "sc-ship")


def in_work(plant):
    return _widget_through(plant, "sc-a2")


def used(plant):
    (gloves,) = plant.items("GLOVES", qty=1)
    plant.scan("sc-recv", gloves, expected=201)
    plant.scan("sc-stores", gloves, expected=201)
    return gloves


def scrapped(plant):
    (steel,) = plant.items("STEEL", qty=1)
    plant.scan("sc-recv", steel, expected=201)
    plant.scan("sc-line", "CMD-ACT-SCRAP", expected=201)
    plant.scan("sc-line", steel, as_="supervisor", note="rust", expected=201)
    return steel


def built_in(plant):
    """Steel issued to WO-1 and consumed when its widget is completed at END."""
    (steel,) = plant.items("STEEL", qty=2)
    plant.scan("sc-recv", steel, expected=201)
    plant.scan("sc-recv", f"]C101{GTIN_BOLT}10B-1\x1d374", expected=201)
    plant.order("WO-1", "WIDGET", 1)
    (w,) = plant.items("WIDGET")
    plant.scan("sc-a1", w, expected=201)
    plant.scan("sc-line", steel, expected=201)
    plant.scan("sc-line", f"]C101{GTIN_BOLT}10B-1", expected=201)
    for sc in ("sc-a2", "sc-qa", "sc-end"):
        plant.scan(sc, w, expected=201)
    return steel


# (how the item gets there, its stage, its station, where it left from and by what action)
PLACES = [
    (shipped, "shipped", None, ("SHIP", "ship")),
    (used, "consumed", None, ("STORES", "use")),
    (scrapped, "scrapped", None, ("LINE", "scrap")),
    (built_in, "consumed", None, ("END", "consume")),
    (in_work, "wip", "A2", None),
]


@pytest.mark.parametrize(
    ("make", "stage", "station", "left"), PLACES, ids=[p[0].__name__ for p in PLACES]
)
def test_item_place(plant, api, as_role, make, stage, station, left):
    code = make(plant)
    shown = api.get(f"/api/items/{code}", as_="operator", expected=200).get_json()
    assert (shown["stage"], shown["station"]) == (stage, station)
    if left is None:
        assert shown["left_from"] is None
    else:
        assert (shown["left_from"]["station"], shown["left_from"]["action"]) == left
        assert shown["left_from"]["at"] == shown["stage_at"]
    # nor does the stock by station count it at the station it passed last
    stock = api.get("/api/stock", as_="operator", expected=200).get_json()
    at_stations = {(r["station"], r["stage"]) for r in stock["by_station"]}
    assert not {st for _sta, st in at_stations} & {"shipped", "consumed", "scrapped"}
    assert {r["stage"]: r["count"] for r in stock["by_stage"]}[stage] >= 1
    html = as_role("operator").get(f"/items/{code}").get_data(as_text=True)
    facts = re.search(r'<dl class="facts">(.*?)</dl>', html, re.S).group(1)
    place = re.search(r"<dt>(Station|Left from)</dt><dd>(.*?)</dd>", facts, re.S)
    if left is None:
        assert place.group(1) == "Station" and place.group(2).startswith(station)
    else:
        # no current station: where it left from, never the station it passed last
        assert place.group(1) == "Left from" and place.group(2).startswith(left[0]), facts
        assert "<dt>Station</dt>" not in facts
    # the items list: a gone item is at no station (where it left from: its page)
    listed = as_role("operator").get(f"/items?stage={stage}").get_data(as_text=True)
    row = re.search(rf"<tr>\s*<td><a class=\"code\"[^>]*>{code}</a>(.*?)</tr>", listed, re.S)
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    assert cells[3] == (station if left is None else "—"), cells


def test_left_from_in_bahasa(plant, as_role):
    from server.models import User

    code = shipped(plant)
    User.update(language="id").where(User.username == "operator1").execute()
    html = as_role("operator").get(f"/items/{code}").get_data(as_text=True)
    assert "<dt>Keluar dari</dt><dd>SHIP" in html
