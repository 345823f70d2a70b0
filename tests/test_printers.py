"""Printers where the work is (issue 15): a printer's site, dpi and media over the API, ZPL
drawn in the printer's own dots, a label larger than the media failing its job with
`media_mismatch` (never cropped, never a 500), and the online state and last error of
the printer's last attempt. Against the raw-TCP printer stand-in, with the dispatcher."""

from __future__ import annotations

import re

import pytest

from server.dispatch import Dispatcher
from server.models import Printer, PrintJob
from tests.support.zplprinter import ZplPrinter
from tests.test_print_jobs import FAST, _decoded, _drain, _register, _rule, _scan
from tests.test_scans import _started

MEDIA_2X1 = {"width_mm": 50.8, "height_mm": 25.4, "kind": "gap"}


def _site(api, code="P2"):
    api.post("/api/sites", {"code": code, "name": f"Plant {code}"}, as_="admin", expected=201)


def _complete_at_end(plant, db):
    unit = _started(plant, qty=1)
    for scanner in ("sc-a2", "sc-qa"):
        assert _scan(db, scanner, unit).accepted
    done = _scan(db, "sc-end", unit)
    assert (done.status, done.action) == ("accepted", "complete"), done
    return unit


def _listed(api, name):
    (found,) = [
        p for p in api.get("/api/printers", as_="admin").get_json()["printers"] if p["name"] == name
    ]
    return found


def test_site_dpi_and_media_are_registered_changed_and_listed(plant, api, db):
    _site(api)
    body = {
        "name": "zebra-p2",
        "kind": "zpl-tcp",
        "address": "10.0.0.7",
        "station": "END",
        "site": "P2",
        "dpi": 300,
        "media": MEDIA_2X1,
    }
    made = api.post("/api/printers", body, as_="admin", expected=201).get_json()
    assert (made["site"], made["station"], made["dpi"]) == ("P2", "END", 300)
    assert made["media"] == MEDIA_2X1
    # continuous media: the width only, a height sent along is dropped
    changed = api.call(
        "PATCH",
        "/api/printers/zebra-p2",
        {"dpi": 600, "media": {"width_mm": 104, "height_mm": 30, "kind": "continuous"}},
        as_="admin",
        expected=200,
    ).get_json()
    assert changed["dpi"] == 600
    assert changed["media"] == {"width_mm": 104.0, "height_mm": None, "kind": "continuous"}
    assert (changed["site"], changed["station"]) == ("P2", "END")  # left out: unchanged
    # null leaves what cannot be cleared as it is (every PATCH here does)
    kept = {"dpi": None, "kind": None, "address": None, "active": None}
    same = api.call("PATCH", "/api/printers/zebra-p2", kept, as_="admin", expected=200)
    assert same.get_json() == changed
    cleared = api.call(
        "PATCH",
        "/api/printers/zebra-p2",
        {"site": None, "station": None, "media": None, "active": False},
        as_="admin",
        expected=200,
    ).get_json()
    assert (cleared["site"], cleared["station"], cleared["media"], cleared["active"]) == (
        None,
        None,
        None,
        False,
    )
    assert _listed(api, "zebra-p2")["dpi"] == 600
    row = Printer.get(Printer.name == "zebra-p2")
    assert (row.site_id, row.station_id, row.media_width_mm) == (None, None, None)
    assert row.active is False


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"dpi": 250}, 400, "bad_payload"),
        ({"media": {"width_mm": 50.8, "kind": "gap"}}, 400, "bad_media"),  # no height
        ({"media": {"width_mm": 5, "height_mm": 25, "kind": "gap"}}, 400, "bad_payload"),
        ({"media": {"width_mm": 50, "height_mm": 25, "kind": "fanfold"}}, 400, "bad_payload"),
        ({"media": {"height_mm": 25, "kind": "gap"}}, 400, "bad_payload"),
        ({"site": "NOWHERE"}, 404, "unknown_site"),
        ({"station": "NOPE"}, 404, "unknown_station"),
        ({"address": "host:99999"}, 400, "bad_payload"),
        ({"kind": "pdf-cups"}, 400, "bad_payload"),  # 10.0.0.7:9100 is no CUPS queue
    ],
)
def test_bad_fields_are_refused_with_a_reason_and_change_nothing(
    plant, api, db, change, status, error
):
    _register(api, "zebra-1", "10.0.0.7:9100", station="END")
    answer = api.call("PATCH", "/api/printers/zebra-1", change, as_="admin", expected=status)
    assert answer.get_json()["error"] == error, answer.get_json()
    body = {"name": "zebra-2", "kind": "zpl-tcp", "address": "10.0.0.8", **change}
    if change.get("address") or change.get("kind"):
        body["address"] = change.get("address", "10.0.0.8:9100")
    answer = api.call("POST", "/api/printers", body, as_="admin", expected=status)
    assert answer.get_json()["error"] == error
    listed = _listed(api, "zebra-1")
    assert {k: listed[k] for k in ("dpi", "media", "site", "station", "kind", "address")} == {
        "dpi": 203,
        "media": None,
        "site": None,
        "station": "END",
        "kind": "zpl-tcp",
        "address": "10.0.0.7:9100",
    }
    assert Printer.select().count() == 1
    api.call("PATCH", "/api/printers/nope", {"dpi": 300}, as_="admin", expected=404)
    for role in ("operator", "clerk", "supervisor"):
        api.call("PATCH", "/api/printers/zebra-1", {"dpi": 300}, as_=role, expected=403)


@pytest.mark.parametrize("dpi", [203, 300, 600])
def test_a_rule_label_is_drawn_in_the_printers_dots(plant, api, db, dpi):
    with ZplPrinter() as printer:
        body = {"name": "zebra-end", "kind": "zpl-tcp", "address": printer.address}
        body |= {"station": "END", "dpi": dpi, "media": MEDIA_2X1}
        api.post("/api/printers", body, as_="admin", expected=201)
        _rule(api, "END", "complete", "zebra-end")
        unit = _complete_at_end(plant, db)
        _drain(Dispatcher(db, FAST), lambda: len(printer.received()) == 1)
        zpl = printer.received()[0].decode()
        # the default template, 50.8 x 25.4 mm, in this printer's dots: 2 x 1 inch
        assert re.search(r"\^PW(\d+)", zpl)[1] == str(2 * dpi)
        assert re.search(r"\^LL(\d+)", zpl)[1] == str(dpi)
        assert _decoded(zpl) == unit
        # the test print too
        api.post("/api/printers/zebra-end/test", as_="clerk", expected=202)
        _drain(Dispatcher(db, FAST), lambda: len(printer.received()) == 2)
        assert re.search(r"\^PW(\d+)", printer.received()[1].decode())[1] == str(2 * dpi)


def test_a_label_larger_than_the_media_fails_its_job_and_is_never_cropped(plant, api, db):
    with ZplPrinter() as printer:
        body = {"name": "zebra-end", "kind": "zpl-tcp", "address": printer.address}
        body |= {"station": "END", "media": {"width_mm": 40, "height_mm": 20, "kind": "gap"}}
        api.post("/api/printers", body, as_="admin", expected=201)
        # a rule whose template does not fit is refused when it is set
        answer = api.call(
            "PUT",
            "/api/print-rules",
            {"station": "END", "event": "complete", "printer": "zebra-end"},
            as_="admin",
            expected=409,
        ).get_json()
        assert answer["error"] == "media_mismatch"
        assert "50.8 x 25.4 mm" in answer["message"] and "40 x 20 mm gap" in answer["message"]
        # a print of a 4 x 6 in template to it: refused too, nothing queued
        job = {"commands": ["CMD-DONE"], "printer": "zebra-end", "template": "thermal-4x6"}
        answer = api.call("POST", "/api/labels", job, as_="clerk", expected=409).get_json()
        assert answer["error"] == "media_mismatch"
        assert PrintJob.select().count() == 0

        # the media was wider when the rule was set, narrower labels were loaded since
        api.call("PATCH", "/api/printers/zebra-end", {"media": MEDIA_2X1}, as_="admin")
        _rule(api, "END", "complete", "zebra-end")
        narrow = {"width_mm": 40, "height_mm": 20, "kind": "gap"}
        api.call("PATCH", "/api/printers/zebra-end", {"media": narrow}, as_="admin", expected=200)
        _complete_at_end(plant, db)
        dispatcher = Dispatcher(db, FAST)
        _drain(dispatcher, lambda: PrintJob.get().state != "queued")
        job = PrintJob.get()
        assert job.state == "failed"
        assert job.last_error.startswith("media_mismatch: template default is 50.8 x 25.4 mm")
        assert printer.received() == []  # no cropped label
        listed = _listed(api, "zebra-end")
        assert listed["last_error"] == job.last_error and listed["last_error_at"]
        # continuous media as wide as the label: it fits, whatever its length
        roll = {"width_mm": 51, "kind": "continuous"}
        api.call("PATCH", "/api/printers/zebra-end", {"media": roll}, as_="admin", expected=200)
        api.post(f"/api/print-jobs/{job.id}/retry", as_="clerk", expected=200)
        _drain(dispatcher, lambda: len(printer.received()) == 1)
        assert PrintJob.get_by_id(job.id).state == "sent"
        assert _listed(api, "zebra-end")["last_error"] is None


def test_the_online_state_and_last_error_come_from_the_last_attempt(plant, api, db):
    printer = ZplPrinter(on=False)
    try:
        _register(api, "zebra-end", printer.address, station="END")
        assert (_listed(api, "zebra-end")["state"], _listed(api, "zebra-end")["last_error"]) == (
            "unknown",
            None,
        )
        api.post("/api/printers/zebra-end/test", as_="clerk", expected=202)
        dispatcher = Dispatcher(db, FAST)
        dispatcher.run_once()
        off = _listed(api, "zebra-end")
        assert (off["state"], off["online"]) == ("offline", False)
        assert off["last_error"] == "Printer zebra-end did not take the job"
        printer.switch_on()
        _drain(dispatcher, lambda: len(printer.received()) == 1)
        on = _listed(api, "zebra-end")
        assert (on["state"], on["online"], on["last_error"]) == ("online", True, None)
    finally:
        printer.switch_off()


def _history(api, code):
    return api.get(f"/api/items/{code}", as_="operator").get_json()["history"]


def test_an_items_history_shows_its_rule_label_queued_then_sent_or_failed(plant, api, db):
    printer = ZplPrinter(on=False)
    try:
        body = {"name": "zebra-end", "kind": "zpl-tcp", "address": printer.address}
        body |= {"station": "END", "media": MEDIA_2X1}
        api.post("/api/printers", body, as_="admin", expected=201)
        _rule(api, "END", "complete", "zebra-end")
        unit = _complete_at_end(plant, db)
        history = _history(api, unit)
        # queued in the scan's transaction: right after the complete entry, no outcome yet
        assert [e["action"] for e in history[-2:]] == ["complete", "label_queued"]
        queued = history[-1]
        assert queued["message"] == "Label queued at zebra-end"
        assert (queued["origin"], queued["printer"]) == ("print", "zebra-end")
        job = PrintJob.get()
        assert queued["job"] == job.id and history[-2]["printer"] is None
        # the printer is off: still queued, no outcome shown
        dispatcher = Dispatcher(db, FAST)
        dispatcher.run_once()
        assert _history(api, unit)[-1]["action"] == "label_queued"
        printer.switch_on()
        _drain(dispatcher, lambda: len(printer.received()) == 1)
        history = _history(api, unit)
        assert [e["action"] for e in history[-3:]] == ["complete", "label_queued", "label_sent"]
        sent = history[-1]
        assert sent["message"] == "Label sent to zebra-end" and sent["job"] == job.id
        assert sent["at"] == PrintJob.get_by_id(job.id).sent_at.isoformat() + "Z"

        # narrower labels loaded: the next unit's label fails, and its history says why
        narrow = {"width_mm": 40, "height_mm": 20, "kind": "gap"}
        api.call("PATCH", "/api/printers/zebra-end", {"media": narrow}, as_="admin", expected=200)
        second = _started(plant, order="WO-2", qty=1)
        for scanner in ("sc-a2", "sc-qa", "sc-end"):
            assert _scan(db, scanner, second).accepted
        _drain(dispatcher, lambda: PrintJob.select().where(PrintJob.state == "failed").count())
        history = _history(api, second)
        assert [e["action"] for e in history[-3:]] == ["complete", "label_queued", "label_failed"]
        failed = history[-1]
        assert failed["reason"] == "media_mismatch"
        assert failed["message"].startswith("Label failed at zebra-end: media_mismatch: template")
        # the first unit's history is its own
        assert [e["job"] for e in _history(api, unit) if e["job"]] == [job.id, job.id]
    finally:
        printer.switch_off()
