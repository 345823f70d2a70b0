"""Print jobs through the one dispatcher, against a raw-TCP printer stand-in on a free
port: a station's print rule queues the label in the scan's transaction, the printer
sink delivers it, the ZPL received is parsed field by field and its barcode decoded; a
printer switched off gets every queued label once when it returns; `kill -9` of the
dispatcher mid-queue prints no label twice outside the documented window."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from labels.render import render_design_png
from server.core import labeltemplates, printjobs
from server.core.scans import ScanIn, apply_scan
from server.dispatch import Dispatcher, DispatchSettings
from server.models import DeliveryAttempt, Event, Item, PrintJob, Sink
from tests.conftest import GTIN_BOLT
from tests.support.zplprinter import ZplPrinter, barcode_data, zpl_fields
from tests.test_dispatch import _dispatch_process, _until
from tests.test_scans import _started

sys.path.insert(0, str(Path(__file__).resolve().parent / "labels"))
from label_helpers import decode_image, decode_png, pdf_pages  # noqa: E402
from test_label_zpl import bars_image, printer_bars, unhex  # noqa: E402

FAST = DispatchSettings(
    poll_s=0.02, backoff_base_s=0.05, backoff_max_s=0.2, timeout_s=0.5, flags=False
)


def _register(api, name, address, station=None, kind="zpl-tcp"):
    body = {"name": name, "kind": kind, "address": address}
    if station:
        body["station"] = station
    return api.post("/api/printers", body, as_="admin", expected=201).get_json()


def _rule(api, station, event, printer, template=None):
    body = {"station": station, "event": event, "printer": printer}
    if template:
        body["template"] = template
    return api.put("/api/print-rules", body, as_="admin", expected=200).get_json()


def _drain(dispatcher, check, timeout=20.0):
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, [
            (a.event_id, a.attempt, a.ok, a.detail) for a in DeliveryAttempt.select()
        ]
        if not dispatcher.run_once():
            time.sleep(0.02)


def _scan(db, scanner, code, **kw):
    return apply_scan(db, ScanIn(f"pj-{uuid.uuid4().hex}", scanner, code, **kw))


def _decoded(zpl: str) -> str:
    """The ^BC field drawn as a printer draws it, decoded by zxing-cpp."""
    reads = decode_image(bars_image(printer_bars(unhex(barcode_data(zpl)))))
    assert len(reads) == 1, reads
    return reads[0].text


def test_a_unit_completed_at_a_station_prints_there_and_decodes(plant, api, db):
    with ZplPrinter() as printer, ZplPrinter() as elsewhere:
        _register(api, "zebra-end", printer.address, station="END")
        _register(api, "zebra-a1", elsewhere.address, station="A1")
        _rule(api, "END", "complete", "zebra-end")
        _rule(api, "A1", "receive", "zebra-a1")  # another station's rule: not this scan's
        unit = _started(plant, qty=1)
        for scanner in ("sc-a2", "sc-qa"):
            assert _scan(db, scanner, unit).accepted
        before = PrintJob.select().count()
        done = _scan(db, "sc-end", unit)
        assert (done.status, done.action) == ("accepted", "complete"), done
        # the answer says where the label prints; the job is in the scan's transaction
        assert done.message.endswith("- label printing at zebra-end"), done.message
        assert {"code": "label_printing", "message": "Label printing at zebra-end",
                "printer": "zebra-end"} in done.warnings  # fmt: skip
        job = PrintJob.get(PrintJob.scan_id == done.scan_id)
        assert (job.state, job.source, job.item.code) == ("queued", "complete", unit)
        assert PrintJob.select().count() == before + 1
        assert Event.get(Event.type == "print.job").payload["job"] == job.id

        dispatcher = Dispatcher(db, FAST)
        _drain(dispatcher, lambda: len(printer.received()) == 1)
        assert elsewhere.received() == []
        zpl = printer.received()[0].decode("utf-8")
        assert zpl.count("^XA") == 1 and zpl.rstrip().endswith("^XZ")
        data = {unhex(d) for _cmds, d in zpl_fields(zpl)}
        assert unit in data and "Widget" in data  # the code line and the product name
        assert not any("finished" in d.lower() for d in data)  # never the stage
        # the ^FD of the symbol is the unit's code (less the Code 128 code-set invocations)
        assert re.sub(r">[5-7:;9]", "", unhex(barcode_data(zpl))) == unit
        assert _decoded(zpl) == unit
        # the PNG of the same layout decodes to the code too
        row = labeltemplates.get(labeltemplates.DEFAULT)
        item = Item.get(Item.code == unit)
        values = labeltemplates.item_values(item, item.product, item.order)
        png = render_design_png(labeltemplates.design_of(row), values)
        assert [r.text for r in decode_png(png)] == [unit]

        job = PrintJob.get_by_id(job.id)
        assert (job.state, job.attempts, job.version) == ("sent", 1, row.version)
        state = api.get("/api/printers", as_="admin").get_json()["printers"]
        assert {p["name"]: p["state"] for p in state} == {
            "zebra-a1": "unknown",
            "zebra-end": "online",
        }


def test_no_rule_no_job_and_a_rejected_scan_prints_nothing(plant, api, db):
    with ZplPrinter() as printer:
        _register(api, "zebra-end", printer.address, station="END")
        _rule(api, "END", "complete", "zebra-end")
        unit = _started(plant, qty=1)
        # completing before the routing is done is refused: the job rolls back with it
        refused = _scan(db, "sc-end", unit)
        assert refused.status == "rejected", refused
        moved = _scan(db, "sc-a2", unit)  # a move: no rule for it
        assert moved.accepted and "label printing" not in moved.message
        assert PrintJob.select().count() == 0
        assert Event.select().where(Event.type == "print.job").count() == 0


def test_split_and_receive_rules_label_the_part_split_off_and_the_lot(plant, api, db):
    with ZplPrinter() as dock, ZplPrinter() as line:
        _register(api, "zebra-recv", dock.address, station="RECV")
        _register(api, "zebra-line", line.address, station="LINE")
        _rule(api, "RECV", "receive", "zebra-recv")
        _rule(api, "LINE", "split", "zebra-line")
        # a supplier's GS1 lot received: the internal label of the item it became
        received = _scan(db, "sc-recv", f"]C101{GTIN_BOLT}10B-2\x1d3720")
        assert received.accepted and received.message.endswith("label printing at zebra-recv")
        lot = received.item
        (steel,) = plant.items("STEEL", qty=10, lot="L-77")
        assert _scan(db, "sc-recv", steel).accepted
        _started(plant, qty=2)  # an order that needs steel at the line
        taken = _scan(db, "sc-line", steel, qty=3)
        assert taken.accepted, taken
        part = taken.item
        assert part != steel and "label printing at zebra-line" in taken.message
        dispatcher = Dispatcher(db, FAST)
        _drain(dispatcher, lambda: len(dock.received()) == 2 and line.received())
        assert [_decoded(j.decode()) for j in dock.received()] == [lot, steel]
        assert "LOT B-2" in {unhex(d) for _c, d in zpl_fields(dock.received()[0].decode())}
        got = line.received()[0].decode()
        assert _decoded(got) == part
        assert "LOT L-77" in {unhex(d) for _c, d in zpl_fields(got)}


def test_a_printer_off_gets_every_queued_label_once_when_it_returns(plant, api, db):
    printer = ZplPrinter(on=False)  # refuses: nothing listens on its port
    try:
        _register(api, "zebra-recv", printer.address, station="RECV")
        _rule(api, "RECV", "receive", "zebra-recv")
        dispatcher = Dispatcher(db, FAST).start()
        try:
            codes = plant.items("GLOVES", count=6)
            for code in codes:
                assert _scan(db, "sc-recv", code).accepted
            # the sink retries the first job with the backoff; the others wait
            assert _until(lambda: DeliveryAttempt.select().where(~DeliveryAttempt.ok).count() >= 3)
            state = api.get("/api/printers", as_="admin").get_json()["printers"][0]
            assert (state["state"], state["queued"]) == ("offline", 6)
            jobs = api.get("/api/print-jobs?state=queued", as_="clerk").get_json()["jobs"]
            assert len(jobs) == 6 and jobs[-1]["attempts"] >= 3 and jobs[-1]["last_error"]
            time.sleep(1.0)  # off for a while (a minute on the floor)
            printer.switch_on()
            assert _until(lambda: len(printer.received()) >= 6, 20)
            time.sleep(0.5)  # a second copy would arrive now
        finally:
            dispatcher.stop()
        printed = [_decoded(job.decode()) for job in printer.received()]
        assert printed == codes  # each once, in the order scanned
        assert PrintJob.select().where(PrintJob.state == "sent").count() == 6
        assert api.get("/api/printers", as_="admin").get_json()["printers"][0]["state"] == (
            "online"
        )
    finally:
        printer.switch_off()


def test_kill_9_mid_queue_prints_no_label_twice_but_the_window(plant, api, db, db_url, tmp_path):
    with ZplPrinter(delay=0.02) as printer:
        _register(api, "zebra-recv", printer.address, station="RECV")
        _rule(api, "RECV", "receive", "zebra-recv")
        codes = plant.items("GLOVES", count=40)
        for code in codes:
            assert _scan(db, "sc-recv", code).accepted
        log = tmp_path / "dispatch.log"
        kills = 0
        proc = _dispatch_process(db_url, log)
        try:
            for threshold in (8, 20):
                assert _until(lambda t=threshold: len(printer.received()) >= t), log.read_text()
                proc.kill()  # SIGKILL, mid-queue
                proc.wait()
                kills += 1
                proc = _dispatch_process(db_url, log)
            assert _until(lambda: len({j for j in printer.received()}) >= 40, 60)
            assert _until(lambda: PrintJob.select().where(PrintJob.state == "sent").count() == 40)
            time.sleep(0.5)
        finally:
            proc.kill()
            proc.wait()
        printed = [_decoded(job.decode()) for job in printer.received()]
        assert set(printed) == set(codes)
        twice = len(printed) - len(set(printed))
        # the one window: the printer took the bytes, the process died before `sent`
        # committed; at most one label per kill, and only the one in hand
        assert twice <= kills, (twice, kills)
        first = list(dict.fromkeys(printed))
        assert first == codes


def test_a_clerk_retries_cancels_and_test_prints(plant, api, db):
    printer = ZplPrinter(on=False)
    try:
        _register(api, "zebra-1", printer.address)
        dispatcher = Dispatcher(db, FAST)
        a = api.post("/api/printers/zebra-1/test", as_="clerk", expected=202).get_json()
        body = {"receive": {"product": "GLOVES", "count": 2}, "printer": "zebra-1"}
        b = api.post("/api/labels", body, as_="clerk", expected=202).get_json()
        assert (b["printer"], b["state"], b["labels"]) == ("zebra-1", "queued", 2)
        dispatcher.run_once()  # refused: the test print waits, the labels behind it
        assert Sink.get(Sink.name == printjobs.sink_name(1)).failures == 1
        cancelled = api.post(f"/api/print-jobs/{a['id']}/cancel", as_="clerk", expected=200)
        assert cancelled.get_json()["state"] == "cancelled"
        printer.switch_on()
        _drain(dispatcher, lambda: len(printer.received()) == 1)
        zpl = printer.received()[0].decode()
        assert zpl.count("^XA") == 2 and all(c in zpl for c in b["items"])
        jobs = {j["id"]: j for j in api.get("/api/print-jobs", as_="clerk").get_json()["jobs"]}
        assert (jobs[a["id"]]["state"], jobs[b["job"]]["state"]) == ("cancelled", "sent")
        # a sent job cannot be cancelled; retried, it prints again (a reprint)
        resp = api.call("POST", f"/api/print-jobs/{b['job']}/cancel", as_="clerk", expected=409)
        assert resp.get_json()["error"] == "print_job_sent"
        again = api.post(f"/api/print-jobs/{b['job']}/retry", as_="clerk", expected=200)
        assert again.get_json()["state"] == "queued"
        _drain(dispatcher, lambda: len(printer.received()) == 2)
        assert printer.received()[1] == printer.received()[0]
        api.post("/api/print-jobs/99999/retry", as_="clerk", expected=404)
        api.post(f"/api/print-jobs/{a['id']}/retry", as_="operator", expected=403)
        # the test print, retried, arrives too: TEST-<id> in Code 128
        api.post(f"/api/print-jobs/{a['id']}/retry", as_="clerk", expected=200)
        _drain(dispatcher, lambda: len(printer.received()) == 3)
        assert _decoded(printer.received()[2].decode()) == "TEST-1"
    finally:
        printer.switch_off()


def test_print_rules_api(plant, api, db):
    _register(api, "zebra-1", "127.0.0.1:9")
    rule = _rule(api, "END", "complete", "zebra-1")
    assert rule == {"station": "END", "event": "complete", "printer": "zebra-1",
                    "template": None}  # fmt: skip
    assert _rule(api, "END", "complete", "zebra-1", "default")["template"] == "default"
    assert len(api.get("/api/print-rules", as_="admin").get_json()["rules"]) == 1
    for body, status in [
        ({"station": "NOPE", "event": "complete", "printer": "zebra-1"}, 404),
        ({"station": "END", "event": "complete", "printer": "nope"}, 404),
        ({"station": "END", "event": "complete", "printer": "zebra-1", "template": "x"}, 404),
        ({"station": "END", "event": "ship", "printer": "zebra-1"}, 400),
    ]:
        api.call("PUT", "/api/print-rules", body, as_="admin", expected=status)
    api.call("PUT", "/api/print-rules", {"station": "END", "event": "complete",
             "printer": "zebra-1"}, as_="clerk", expected=403)  # fmt: skip
    api.call("DELETE", "/api/print-rules/END/complete", as_="admin", expected=200)
    api.call("DELETE", "/api/print-rules/END/complete", as_="admin", expected=404)


def _threads_left():
    return [t for t in threading.enumerate() if t.name == "dispatcher"]


@pytest.fixture(autouse=True)
def _no_dispatcher_left():
    yield
    assert not _threads_left()


CUPS_QUEUE = os.environ.get("KZ_CUPS_PDF_QUEUE", "KZ_PDF")
CUPS_OUT = Path(os.environ.get("KZ_CUPS_PDF_DIR", Path.home() / "PDF"))


def _cups_pdf_queue() -> bool:
    lpstat = shutil.which("lpstat")
    if lpstat is None or shutil.which("lp") is None:
        return False
    done = subprocess.run([lpstat, "-p", CUPS_QUEUE], capture_output=True, check=False)
    return done.returncode == 0


def _cups_pdfs() -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in CUPS_OUT.glob("*.pdf")} if CUPS_OUT.exists() else {}


def test_a_pdf_cups_job_lands_as_a_pdf_that_decodes(plant, api, db):
    """Real CUPS with cups-pdf (docs/labels.md "Testing with CUPS"): the queue KZ_PDF writes
    each job as a PDF into ~/PDF, named by the job's title (so a second job overwrites the
    first). The queue and the directory are the machine's: the test holds a lock file
    while it prints and reads, so `make test`'s other half, or another checkout's run,
    waits instead of printing over it. Skipped where CUPS is not set up."""
    if not _cups_pdf_queue():
        pytest.skip(f"no CUPS queue {CUPS_QUEUE} (cups + printer-driver-cups-pdf)")
    _register(api, "office-pdf", CUPS_QUEUE, station="END", kind="pdf-cups")
    _rule(api, "END", "complete", "office-pdf")
    unit = _started(plant, qty=1)
    for scanner in ("sc-a2", "sc-qa"):
        assert _scan(db, scanner, unit).accepted
    lock = Path(tempfile.gettempdir()) / f"koordinator-cups-{CUPS_QUEUE}.lock"
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # released when the file is closed
        before = _cups_pdfs()

        def landed() -> list[Path]:  # new, or written again since (the same title)
            return [p for p, mtime in _cups_pdfs().items() if before.get(p) != mtime]

        done = _scan(db, "sc-end", unit)
        assert done.message.endswith("label printing at office-pdf"), done.message
        _drain(Dispatcher(db, FAST), lambda: PrintJob.get().state == "sent")
        assert _until(landed, 30)
        (pdf,) = landed()
        assert _until(lambda: pdf.stat().st_size > 0 and pdf.read_bytes().rstrip().endswith(
            b"%%EOF"), 10)  # fmt: skip
        pages = pdf_pages(pdf.read_bytes(), dpi=300)
        assert [r.text for r in decode_image(pages[0])] == [unit]
        pdf.unlink()
