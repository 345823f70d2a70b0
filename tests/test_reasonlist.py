"""The plant's reason list (server/core/reasonlist.py): seeded on a new database, managed
through /api/reasons, CSV import/export and the admin page, and checked for an action by
`check_reason` (unknown_reason, reason_not_applicable)."""

from __future__ import annotations

import pytest

from server.core import reasonlist
from server.core.errors import Rejected
from server.models import Reason
from tests.test_import import export, post_csv


def test_a_new_database_has_the_default_list(db):
    codes = {r.code for r in Reason.select()}
    assert codes == {d[0] for d in reasonlist.DEFAULTS}
    damaged = reasonlist.lookup("damaged")
    assert damaged.text_id == "Rusak" and "scrap" in damaged.applies_to


def test_the_list_is_the_plants_once_seeded(db):
    """create_schema again (init-db on an existing database) neither restores an edited
    default nor brings back a changed text."""
    from server.db import create_schema

    Reason.update(text_en="Broken").where(Reason.code == "DAMAGED").execute()
    Reason.update(active=False).where(Reason.code == "SETUP").execute()
    create_schema(db)
    assert reasonlist.lookup("DAMAGED").text_en == "Broken"
    assert not reasonlist.lookup("SETUP").active


@pytest.mark.parametrize(
    "code, use, reason",
    [
        ("DAMAGED", "scrap", None),
        ("damaged", "scrap", None),  # labels arrive in any case
        (" DAMAGED ", None, None),
        ("DAMAGED", "adjust", "reason_not_applicable"),
        ("QC_OK", "scrap", "reason_not_applicable"),
        ("NOPE", "scrap", "unknown_reason"),
        ("SETUP", "scrap", "unknown_reason"),  # deactivated below
        ("", "scrap", "unknown_reason"),
        ("A" * 40, "scrap", "unknown_reason"),
        ("CMD-OP-1", "scrap", "unknown_reason"),
    ],
)
def test_check_reason(db, code, use, reason):
    Reason.update(active=False).where(Reason.code == "SETUP").execute()
    if reason is None:
        assert reasonlist.check_reason(code, use).code == "DAMAGED"
    else:
        with pytest.raises(Rejected) as exc:
            reasonlist.check_reason(code, use)
        assert exc.value.code == reason


def test_check_reason_uses_the_lookup_it_is_given(db):
    asked = []

    def find(code):
        asked.append(code)
        return None

    with pytest.raises(Rejected):
        reasonlist.check_reason("burr", "scrap", find)
    assert asked == ["BURR"]


def test_api_create_list_edit(api):
    body = {"code": "burr", "text_en": "Burr on edge", "applies_to": ["hold", "scrap"]}
    created = api.post("/api/reasons", body, expected=201).get_json()
    assert created == {
        "code": "BURR",
        "text_en": "Burr on edge",
        "text_id": "",
        "applies_to": ["scrap", "hold"],
        "active": True,
    }
    api.post("/api/reasons", body, expected=409)
    listed = api.get("/api/reasons", as_="operator", expected=200).get_json()["reasons"]
    assert "BURR" in [r["code"] for r in listed]
    edited = api.call(
        "PATCH",
        "/api/reasons/burr",
        {"text_id": "Gerinda", "active": False, "text_en": None},
        expected=200,
    ).get_json()
    assert edited["text_id"] == "Gerinda" and edited["active"] is False
    assert edited["text_en"] == "Burr on edge"  # null leaves what cannot be emptied
    with pytest.raises(Rejected) as exc:
        reasonlist.check_reason("BURR", "scrap")
    assert exc.value.code == "unknown_reason"


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"code": "X1", "text_en": "x", "applies_to": []}, 400, "bad_payload"),
        ({"code": "X1", "text_en": "x", "applies_to": ["fly"]}, 400, "bad_payload"),
        ({"code": "X 1", "text_en": "x", "applies_to": ["scrap"]}, 400, "bad_payload"),
        ({"code": "X-1", "text_en": "x", "applies_to": ["scrap"]}, 400, "bad_payload"),
        ({"code": "X1", "text_en": "", "applies_to": ["scrap"]}, 400, "bad_payload"),
        ({"code": "X1", "text_en": "x", "applies_to": ["scrap"], "y": 1}, 400, "bad_payload"),
    ],
)
def test_api_refuses(api, body, status, code):
    resp = api.post("/api/reasons", body, expected=status).get_json()
    assert resp["error"] == code, resp


def test_api_roles_and_unknown(api):
    body = {"code": "X1", "text_en": "x", "applies_to": ["scrap"]}
    api.post("/api/reasons", body, as_="supervisor", expected=403)
    api.call("PATCH", "/api/reasons/NOPE", {"active": False}, expected=404)
    api.call("PATCH", "/api/reasons/DAMAGED", {"applies_to": []}, expected=400)


def test_csv_round_trip_and_bad_rows(api):
    text = export(api, "reasons")
    assert text.splitlines()[0] == "code,text_en,text_id,applies_to,active"
    assert "DAMAGED,Damaged,Rusak,scrap;hold;return,true" in text.splitlines()
    again = post_csv(api, "reasons", text)
    assert again["unchanged"] == len(reasonlist.DEFAULTS) and again["created"] == 0
    new = "code,text_en,applies_to,active\nburr,Burr,scrap;hold,true\nSETUP,Setup,scrap,false\n"
    result = post_csv(api, "reasons", new)
    assert (result["created"], result["updated"]) == (1, 1)
    assert not reasonlist.lookup("SETUP").active
    bad = "code,text_en,applies_to\nOK1,Fine,scrap\nBAD,Bad,fly\nOK1,Again,scrap\n"
    refused = post_csv(api, "reasons", bad, expected=400)
    assert [e["line"] for e in refused["details"]] == [3, 4]
    assert reasonlist.lookup("OK1") is None  # nothing written
    post_csv(api, "reasons", new, as_="supervisor", expected=403)
