"""Floor exceptions end to end through the real scanner agent: a pseudo-terminal as its
serial port, a real broker, the real ingest process and a real database. A worker scraps a
part with a reason label, a QC station holds a unit until a supervisor releases it over the
API, and a bare-GTIN issue takes the earliest-expiring lot; each answer is the one the agent
printed and beeped back."""

from __future__ import annotations

import datetime as dt
import re

from server.models import Item, LedgerEntry, Station
from tests.conftest import GTIN_BOLT
from tests.ingest.conftest import agent_ready, wait_for

ANSWER = re.compile(r"^\S+  (ACCEPTED|REJECTED)  ", re.M)


class Floor:
    """The agent at one scanner and its pseudo-terminal: scan a code, get the printed line."""

    def __init__(self, broker, make_ingest, make_agent, pty_factory, scanner: str) -> None:
        self.ingest = make_ingest(broker).start()
        self.pty = pty_factory(scanner)
        self.agent = make_agent(broker, scanner, self.pty).start()
        agent_ready(self.agent)

    def scan(self, code: str) -> str:
        seen = len(ANSWER.findall(self.agent.stdout()))
        self.pty.scan(code)
        done = wait_for(lambda: len(ANSWER.findall(self.agent.stdout())) > seen, 20)
        assert done, (self.agent.stderr()[-2000:], self.ingest.log()[-2000:])
        self.pty.read_until(b"\x06GOOD", 0.05)  # drain the feedback bytes
        return self.agent.stdout().splitlines()[-1]


def test_operator_scraps_a_part_with_a_reason_label(
    plant, broker, make_ingest, make_agent, pty_factory
):
    Station.update(policy={"scrap_by": "operator"}).where(Station.code == "LINE").execute()
    (steel,) = plant.items("STEEL", qty=3, lot="L-S")
    plant.scan("sc-recv", steel, expected=201)
    floor = Floor(broker, make_ingest, make_agent, pty_factory, "sc-line")
    for label in ("CMD-OP-B-OPERATOR", "CMD-ACT-SCRAP", "CMD-WHY-DAMAGED"):
        assert "ACCEPTED" in floor.scan(label)
    line = floor.scan(steel)
    assert f"ACCEPTED  {steel}" in line and "-> scrapped)" in line, line
    assert Item.get(Item.code == steel).stage == "scrapped"
    rows = LedgerEntry.select().where(LedgerEntry.raw_code == steel).order_by(LedgerEntry.id)
    row = list(rows)[-1]  # after the receipt at the dock
    assert (row.status, row.why) == ("accepted", "DAMAGED")
    assert row.operator.username == "operator1"


def test_qc_fail_holds_a_unit_until_a_supervisor_releases_it(
    plant, api, broker, make_ingest, make_agent, pty_factory
):
    plant.order("WO-Q", "WIDGET", 1)
    (widget,) = plant.items("WIDGET")
    plant.scan("sc-a1", widget, expected=201)
    plant.scan("sc-a2", widget, expected=201)
    floor = Floor(broker, make_ingest, make_agent, pty_factory, "sc-qa")
    for label in ("CMD-OP-B-OPERATOR", "CMD-QC-FAIL", "CMD-WHY-DIMENSION"):
        assert "ACCEPTED" in floor.scan(label)
    assert f"ACCEPTED  {widget}" in floor.scan(widget)
    item = Item.get(Item.code == widget)
    assert (item.held, item.held_why) == (True, "DIMENSION")
    assert "ACCEPTED" in floor.scan("CMD-QC-PASS")
    assert f"REJECTED  {widget}  [on_hold]" in floor.scan(widget)
    assert "ACCEPTED" in floor.scan("CMD-ACT-MOVE")
    assert f"REJECTED  {widget}  [on_hold]" in floor.scan(widget)
    api.post(f"/api/items/{widget}/release", {"reason": "QC_OK"}, as_="supervisor", expected=200)
    assert "ACCEPTED" in floor.scan("CMD-QC-PASS")
    line = floor.scan(widget)
    assert f"ACCEPTED  {widget}" in line, line
    assert Item.get(Item.code == widget).held is False


def test_bare_gtin_issue_takes_the_earliest_expiring_lot(
    plant, broker, make_ingest, make_agent, pty_factory
):
    today = dt.datetime.now(dt.UTC).date()
    received = {}
    for lot, days in (("LATE", 60), ("SOON", 10)):
        label = f"]C101{GTIN_BOLT}17{today + dt.timedelta(days=days):%y%m%d}10{lot}\x1d3710"
        received[lot] = plant.scan("sc-recv", label, expected=201)["item"]
    plant.order("WO-1", "WIDGET", 100)
    floor = Floor(broker, make_ingest, make_agent, pty_factory, "sc-line")
    first = floor.scan(f"]C101{GTIN_BOLT}")
    assert f"({received['SOON']} -> wip)" in first and "ACCEPTED" in first, first
    second = floor.scan(f"]C101{GTIN_BOLT}")
    assert f"({received['LATE']} -> wip)" in second, second
    stages = {lot: Item.get(Item.code == code).stage for lot, code in received.items()}
    assert stages == {"LATE": "wip", "SOON": "wip"}
