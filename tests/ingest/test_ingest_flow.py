"""The whole path with real processes: pseudo-terminal -> agent -> broker -> ingest ->
database -> result -> agent. Stopping the broker, kill -9 of the ingest and of the agent:
every scan applied exactly once."""

from __future__ import annotations

import time

import pytest

from tests.ingest.conftest import (
    HAVE_MOSQUITTO,
    agent_ready,
    assert_each_applied_once,
    outbox_pending,
    scan_rows_by_code,
    stages,
    wait_for,
)

GOOD, BAD = b"\x06GOOD", b"\x15BAD"


def test_scan_through_agent_broker_ingest_database_and_back(
    plant, broker, make_ingest, make_agent, pty_factory
):
    (lot,) = plant.items("STEEL", qty=50, lot="L-7")
    make_ingest(broker).start()
    pty = pty_factory("recv")
    agent = make_agent(broker, "sc-recv", pty).start()
    agent_ready(agent)

    pty.scan(lot)
    assert GOOD in pty.read_until(GOOD, 15), agent.stderr()[-2000:]
    assert wait_for(lambda: outbox_pending(agent.outbox_path) == [])
    assert_each_applied_once([lot], "raw")
    pty.scan(lot)  # received again: a new scan, rejected and recorded
    assert BAD in pty.read_until(BAD, 15)
    assert "illegal_transition" in agent.stdout() or wait_for(
        lambda: "illegal_transition" in agent.stdout(), 5
    )
    rows = scan_rows_by_code([lot])[lot]
    assert sorted(r.status for r in rows) == ["accepted", "rejected"]
    assert wait_for(lambda: outbox_pending(agent.outbox_path) == [])


def test_broker_stopped_while_the_agent_keeps_scanning(
    plant, broker, make_ingest, make_agent, pty_factory
):
    codes = plant.items("STEEL", count=12, qty=5)
    make_ingest(broker).start()
    pty = pty_factory("recv")
    agent = make_agent(broker, "sc-recv", pty).start()
    agent_ready(agent)
    for code in codes[:4]:
        pty.scan(code)
    assert wait_for(lambda: set(stages(codes[:4]).values()) == {"raw"})
    assert wait_for(lambda: outbox_pending(agent.outbox_path) == [])
    broker.stop()
    for code in codes[4:]:
        pty.scan(code)
        time.sleep(0.05)
    pending = lambda: len(outbox_pending(agent.outbox_path))  # noqa: E731
    assert wait_for(lambda: pending() == 8), (pending(), agent.stderr()[-3000:])  # all stored
    broker.start()
    assert wait_for(lambda: outbox_pending(agent.outbox_path) == [], 30), agent.stderr()[-3000:]
    assert_each_applied_once(codes)


def test_ingest_killed_mid_stream_and_restarted(
    plant, broker, make_ingest, make_agent, pty_factory
):
    codes = plant.items("STEEL", count=40, qty=5)
    ingest = make_ingest(broker, "--batch", "5").start()
    pty = pty_factory("recv")
    agent = make_agent(broker, "sc-recv", pty).start()
    agent_ready(agent)
    for code in codes[:25]:
        pty.scan(code)
    # kill -9 once part of the stream is in, and go on scanning while it is dead
    assert wait_for(lambda: sum(1 for s in stages(codes).values() if s == "raw") >= 3, 20)
    ingest.kill()
    for code in codes[25:]:
        pty.scan(code)
    assert wait_for(lambda: len(outbox_pending(agent.outbox_path)) >= 15)
    ingest.start()
    if HAVE_MOSQUITTO:  # the broker kept the session and the scans for the worker
        assert "session present: True" in ingest.log()
    assert wait_for(lambda: outbox_pending(agent.outbox_path) == [], 40), ingest.all_logs()[-3000:]
    assert_each_applied_once(codes)
    assert ingest.alive()


def test_agent_killed_with_scans_in_its_outbox(plant, broker, make_ingest, make_agent, pty_factory):
    codes = plant.items("STEEL", count=6, qty=5)
    pty = pty_factory("recv")
    agent = make_agent(broker, "sc-recv", pty).start()
    agent_ready(agent)
    for code in codes:  # no ingest yet: nobody answers
        pty.scan(code)
    assert wait_for(lambda: len(outbox_pending(agent.outbox_path)) == 6)
    agent.kill()
    ingest = make_ingest(broker).start()
    # The broker may already hold some of them for the ingest; that is fine too.
    agent.start()
    assert wait_for(lambda: outbox_pending(agent.outbox_path) == [], 30), (
        agent.all_stderr()[-3000:] + ingest.all_logs()[-2000:]
    )
    assert_each_applied_once(codes)


def test_scans_nobody_heard_are_resent_when_a_worker_comes_online(
    plant, broker, make_ingest, make_agent, pty_factory
):
    """A broker that lost its sessions drops scans published before any worker has
    subscribed again. The worker's retained `server/<id>/status` online message makes the
    agent resend them at once, not after its resend timeout (60 s here)."""
    codes = plant.items("STEEL", count=3, qty=5)
    pty = pty_factory("recv")
    agent = make_agent(broker, "sc-recv", pty, resend_after=60).start()
    agent_ready(agent)
    for code in codes:  # no worker has ever subscribed: the broker drops these
        pty.scan(code)
    assert wait_for(lambda: len(outbox_pending(agent.outbox_path)) == 3)
    time.sleep(0.5)
    make_ingest(broker).start()
    assert wait_for(lambda: outbox_pending(agent.outbox_path) == [], 15), agent.stderr()[-2000:]
    assert "a server worker is online" in agent.stderr()
    assert_each_applied_once(codes)


def test_repeated_kill_9_of_broker_ingest_and_agent(
    plant, broker, make_ingest, make_agent, pty_factory
):
    """docs/design.md: "repeated kill -9 of broker, server and agent mid-stream": every scan
    the agent read is applied exactly once. (Scans made while the *agent* is dead never
    leave the scanner, so those are made after it is back.)"""
    codes = plant.items("STEEL", count=30, qty=5)
    ingest = make_ingest(broker, "--batch", "5").start()
    pty = pty_factory("recv")
    agent = make_agent(broker, "sc-recv", pty).start()
    agent_ready(agent)
    victims = ["broker", "ingest", "agent", "broker", "ingest"]
    for round_, victim in enumerate(victims):
        chunk = codes[round_ * 6 : round_ * 6 + 6]
        for code in chunk[:3]:
            pty.scan(code)
        time.sleep(0.2)  # mid-stream: some of these are in flight when the kill lands
        if victim == "broker":
            broker.kill()
            for code in chunk[3:]:
                pty.scan(code)
            time.sleep(0.5)
            broker.start()
        elif victim == "ingest":
            ingest.kill()
            for code in chunk[3:]:
                pty.scan(code)
            time.sleep(0.5)
            ingest.start()
        else:
            agent.kill()
            agent.start()
            agent_ready(agent)
            for code in chunk[3:]:
                pty.scan(code)
    assert wait_for(lambda: outbox_pending(agent.outbox_path) == [], 60), (
        agent.all_stderr()[-3000:] + ingest.all_logs()[-2000:]
    )
    assert_each_applied_once(codes)
    assert ingest.alive()


@pytest.mark.skipif(not HAVE_MOSQUITTO, reason="the embedded broker has no MQTT 5 $share")
def test_two_workers_share_the_scans_without_applying_twice(plant, broker, make_ingest, peer):
    codes = plant.items("STEEL", count=120, qty=5)
    workers = [
        make_ingest(broker, "--shared-group", "ingest", "--batch", "20").start() for _ in range(2)
    ]
    for n, code in enumerate(codes):
        body = {"scan_id": f"s-{n}", "code": code, "scanned_at": "2026-11-26T08:00:00Z"}
        peer.publish("sc-recv", body, wait=False)
        if n % 3 == 0:  # an agent's resend of the same scan: must change nothing
            peer.publish("sc-recv", body, wait=False)
    assert wait_for(lambda: all(f"s-{n}" in peer.results for n in range(len(codes))), 40)
    assert_each_applied_once(codes)
    firsts = [peer.results[f"s-{n}"][0] for n in range(len(codes))]
    assert {r["status"] for r in firsts} == {"accepted"}
    assert all(w.alive() for w in workers)
    # both took part (the broker splits a shared subscription between its members)
    assert all("ingest connected" in w.log() for w in workers)
