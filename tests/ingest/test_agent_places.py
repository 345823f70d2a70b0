"""Transfer through the real scanner agent: a pseudo-terminal as its serial port, a real
broker, the real ingest process and a real database. A worker scans the line side's
location label, then two lots: both are moved there, their stage stays, and the answers
the agent printed carry the location."""

from __future__ import annotations

from server.models import Item, LedgerEntry, Location
from tests.ingest.test_agent_floor_exceptions import Floor


def test_a_worker_moves_two_lots_to_line_side_through_the_agent(
    plant, api, broker, make_ingest, make_agent, pty_factory
):
    api.post("/api/locations", {"code": "STORE", "kind": "area"}, expected=201)
    api.post("/api/locations", {"code": "A-01-03", "kind": "bin", "parent": "STORE"},
             expected=201)  # fmt: skip
    lots = plant.items("STEEL", count=2, qty=40, lot="H-3")
    plant.scan("sc-recv", "LOC-A-01-03", expected=201)
    for lot in lots:
        plant.scan("sc-recv", lot, expected=201)
    floor = Floor(broker, make_ingest, make_agent, pty_factory, "sc-stores")
    assert "REJECTED" in floor.scan("LOC-NOWHERE")
    assert "ACCEPTED" in floor.scan("CMD-ACT-TRANSFER")
    line = floor.scan(lots[0])
    assert f"REJECTED  {lots[0]}  [no_location]" in line, line
    assert "ACCEPTED" in floor.scan("LOC-LINE")
    for lot in lots:
        line = floor.scan(lot)
        assert f"ACCEPTED  {lot}" in line and "LINE" in line, line
    line_side = Location.get(Location.code == "LINE")
    for lot in lots:
        item = Item.get(Item.code == lot)
        assert (item.stage, item.location_id) == ("raw", line_side.id)
        row = (
            LedgerEntry.select()
            .where((LedgerEntry.item == item.id) & (LedgerEntry.action == "transfer"))
            .where(LedgerEntry.status == "accepted")
            .get()
        )
        assert row.result["location"] == "LINE"
        assert row.scanner_id == "sc-stores"
