"""`make demo` / `python -m server demo`: watch scans flow through a small plant.

It builds a fresh plant in var/demo.db (products with a bill of materials and a routing,
stations, one scanner per station, a released order, labelled items), starts the whole
system in this process (the embedded broker, or the one answering on 127.0.0.1:1883, the
ingest worker and the web server), and one REAL scanner agent process per station, each
reading its own pseudo-terminal as if a USB scanner were plugged in. A simulated worker then
"scans" labels into those pseudo-terminals at a human pace: receiving, issuing material,
starting units, the quality check, completing and shipping - plus two mistakes, so a
rejection shows too, and one floor exception: the first widget fails the quality check with
a reason label (`CMD-QC-FAIL`, `CMD-WHY-DIMENSION`), is held (a scan to move it is answered
`on_hold`) until a supervisor releases it, then passes. The press at Assembly 1 breaks
down (`CMD-DOWN-BREAKDOWN`): the first widget started there is warned `machine_down`, then
`CMD-UP` closes the downtime (`GET /api/oee?shift=...`, `GET /api/machines/PRESS1/downtime`).
The agents print each result (green/red) in this console; the stock by stage is printed
after each unit and served at http://127.0.0.1:8000/api/stock.

It prints a user and password to sign in to the pages with, and an API token. Ctrl-C stops
everything cleanly: the walker, the agents, the web server, the ingest, the broker. It
starts the system with what `serve` uses (server/runtime.py); nothing here is used by the
server itself.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path

from server.db import create_schema, init_db
from server.runtime import listen, start_mqtt, stop_mqtt

STATIONS = [
    # code, name, default action
    ("RECV", "Receiving dock", "receive"),
    ("LINE", "Line side", "issue"),
    ("A1", "Assembly 1", "start"),
    ("QA", "Quality check", "move"),
    ("END", "End of line", "complete"),
    ("SHIP", "Shipping dock", "ship"),
]
PRODUCTS = [
    {"sku": "STEEL", "name": "Steel sheet", "kind": "raw", "tracking": "lot", "unit": "kg"},
    {"sku": "BOLT", "name": "Bolt M6", "kind": "component", "tracking": "lot"},
    {"sku": "WIDGET", "name": "Widget", "kind": "finished", "tracking": "unit"},
]
BLUE, DIM, RESET = "\033[34m", "\033[2m", "\033[0m"


class DemoError(RuntimeError):
    pass


class Pty:
    """A pseudo-terminal standing in for a USB-serial scanner; the agent opens `path`."""

    def __init__(self, path: Path) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = path
        if path.is_symlink() or path.exists():
            path.unlink()
        os.symlink(os.ttyname(self.slave), path)

    def scan(self, code: str) -> None:
        os.write(self.master, code.encode() + b"\r")

    def drain(self) -> None:
        """Swallow the beep bytes the agent writes back, so the pty buffer never fills."""
        import select

        while select.select([self.master], [], [], 0)[0]:
            try:
                os.read(self.master, 4096)
            except OSError:
                return

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.path.is_symlink():
            self.path.unlink()


def seed(app, units: int) -> dict:
    """The plant, through the JSON API as an admin would build it. Returns label codes and
    the demo admin's credentials (user name, password, API token)."""
    from server import auth

    client = app.test_client()
    password = secrets.token_urlsafe(12)
    with app.app_context():
        db = app.extensions["koordinator.db"]
        with db.connection_context():
            user = auth.create_user("demo-admin", "admin", password)
            token = auth.create_token(user, "demo")
    headers = {"Authorization": f"Bearer {token}"}

    def call(method, path, body=None, expected=(200, 201)):
        resp = client.open(path, method=method, json=body, headers=headers)
        if resp.status_code not in expected:
            raise DemoError(f"{method} {path}: {resp.status_code} {resp.get_data(as_text=True)}")
        return resp.get_json()

    for code, name, action in STATIONS:
        call("POST", "/api/stations", {"code": code, "name": name, "default_action": action})
        call("POST", "/api/scanners", {"id": f"sc-{code.lower()}", "station": code})
    for body in PRODUCTS:
        call("POST", "/api/products", body)
    bom = [{"component": "STEEL", "qty": 2}, {"component": "BOLT", "qty": 4}]
    call("PUT", "/api/products/WIDGET/bom", {"lines": bom})
    call("PUT", "/api/products/WIDGET/routing", {"stations": ["A1", "QA"]})
    call("PUT", "/api/products/WIDGET/routing/A1", {"std_minutes": 1, "setup_minutes": 5})
    for name, start, end in (("Early", "06:00", "14:00"), ("Late", "14:00", "22:00")):
        call("POST", "/api/shifts", {"name": name, "start": start, "end": end})
    call("POST", "/api/shifts", {"name": "Night", "start": "22:00", "end": "06:00"})
    call(
        "POST",
        "/api/machines",
        {"code": "PRESS1", "name": "Press 1", "station": "A1", "rate_per_hour": 60},
    )
    today = dt.date.today()
    call(
        "POST",
        "/api/orders",
        {
            "number": "WO-1001",
            "product": "WIDGET",
            "qty": units,
            "start": today.isoformat(),
            "due": (today + dt.timedelta(days=3)).isoformat(),
        },
    )
    call("POST", "/api/orders/WO-1001/release")

    def items(body):
        return [i["code"] for i in call("POST", "/api/items", body)["items"]]

    return {
        "steel": items({"product": "STEEL", "qty": 2 * units, "lot": "H-4471"})[0],
        "bolts": items({"product": "BOLT", "qty": 4 * units, "lot": "B-0815"})[0],
        "units": items({"product": "WIDGET", "count": units}),
        "username": user.username,
        "password": password,
        "token": token,
        "client": client,
        "headers": headers,
    }


class Demo:
    def __init__(self, args, settings: dict) -> None:
        self.args = args
        self.settings = settings
        self.stop = threading.Event()
        self.agents: dict[str, subprocess.Popen] = {}
        self.ptys: dict[str, Pty] = {}
        self.parts: list = []
        self.http = None
        self.app = None
        self.workdir = Path(args.db).resolve().parent / "demo-agents"

    # --- start --------------------------------------------------------------------------

    def start(self):
        from server import create_app
        from server.web.floor import register_ingest

        db_path = Path(self.args.db)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{db_path}"
        create_schema(init_db(url))
        app = self.app = create_app({"DATABASE_URL": url})
        # bound before seeding: a taken port is said at once, in one line (exit 2)
        self.http = listen(app, "127.0.0.1", self.args.port, threads=4)
        self.plant = seed(app, self.args.units)
        say(
            f"seeded plant in {db_path}: {len(STATIONS)} stations, order WO-1001 for "
            f"{self.args.units} widgets, steel lot {self.plant['steel']}, bolts "
            f"{self.plant['bolts']}"
        )
        self.parts = start_mqtt(
            app.extensions["koordinator.db"], self.settings, client_id="koordinator-demo-ingest"
        )
        register_ingest(app, self.parts)  # the stations page's online/offline dots
        self._start_http()
        self._start_agents()

    def _start_http(self):
        threading.Thread(target=self.http.run, name="http", daemon=True).start()
        say(
            f"web server on http://127.0.0.1:{self.args.port}/  sign in as "
            f"{self.plant['username']}, password {self.plant['password']}"
        )
        say(
            f"  watch the plant floor (the press breaks down and runs again): "
            f"http://127.0.0.1:{self.args.port}/floor"
        )
        say(f"  API token: {self.plant['token']}")
        say(
            f"  curl -H 'Authorization: Bearer {self.plant['token']}' "
            f"http://127.0.0.1:{self.args.port}/api/stock"
        )

    def _start_agents(self):
        self.workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        mqtt_url = self.settings["MQTT_URL"] or "mqtt://127.0.0.1:1883"
        for code, _name, _action in STATIONS:
            sid = f"sc-{code.lower()}"
            pty = self.ptys[sid] = Pty(self.workdir / f"usb-{sid}")
            outbox = self.workdir / f"{sid}.outbox.sqlite3"
            outbox.unlink(missing_ok=True)
            log = open(self.workdir / f"{sid}.log", "wb")
            self.agents[sid] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "scanner_agent",
                    "--scanner-id",
                    sid,
                    "--mqtt-url",
                    mqtt_url,
                    "--reader",
                    "serial",
                    "--port",
                    str(pty.path),
                    "--outbox",
                    str(outbox),
                    "--color",
                    "always",
                    "--log-level",
                    "INFO",
                ],
                stdout=None,  # the agents' feedback lines go to this console
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches us; we stop them in order
                preexec_fn=_die_with_parent,
            )
            log.close()
        deadline = time.monotonic() + 20
        for sid in self.agents:
            log_path = self.workdir / f"{sid}.log"
            while "open (/dev/" not in log_path.read_text(errors="replace"):
                if time.monotonic() > deadline or self.agents[sid].poll() is not None:
                    raise DemoError(f"agent {sid} did not start; see {log_path}")
                time.sleep(0.1)
        say(f"{len(self.agents)} scanner agents running, logs in {self.workdir}")

    # --- the simulated worker ------------------------------------------------------------

    def scan(self, scanner: str, code: str, what: str, expect_stage: str | None = None):
        if self.stop.is_set():
            raise KeyboardInterrupt
        say(f"{BLUE}[{scanner}] beep: {code}{RESET}  {DIM}{what}{RESET}")
        self.ptys[scanner].scan(code)
        if expect_stage:
            self._wait_stage(code, expect_stage)
        if self.stop.wait(self.args.pace):
            raise KeyboardInterrupt
        for pty in self.ptys.values():
            pty.drain()

    def _wait_stage(self, code: str, stage: str, timeout: float = 15.0) -> None:
        self._wait_item(code, lambda item: item.stage == stage, timeout)

    def _wait_item(self, code: str, done, timeout: float = 15.0) -> None:
        from server.models import Item

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stop.is_set():
            item = Item.get_or_none(Item.code == code)
            if item is not None and done(item):
                return
            time.sleep(0.05)

    def qc_fail_and_release(self, unit: str) -> None:
        """The floor exception: a QC fail with a reason label holds the unit; moving it is
        refused (`on_hold`) until a supervisor releases it; then it passes."""
        from server.models import LedgerEntry

        self.scan("sc-qa", "CMD-QC-FAIL", "quality check FAILED: the next part is held")
        self.scan("sc-qa", "CMD-WHY-DIMENSION", "the reason label: out of dimension")
        self.scan("sc-qa", unit, "the failed widget: held, with its reason")
        self._wait_item(unit, lambda item: item.held)
        self.scan("sc-qa", "CMD-QC-PASS", "back to passing parts")

        def answers() -> int:
            return LedgerEntry.select().where(LedgerEntry.raw_code == unit).count()

        before = answers()
        self.scan("sc-qa", unit, "oops: the held widget cannot move on (on_hold)")
        self._wait_item(unit, lambda item: answers() > before)  # refused before the release
        client, headers = self.plant["client"], self.plant["headers"]
        resp = client.post(f"/api/items/{unit}/release", json={"reason": "QC_OK"}, headers=headers)
        if resp.status_code != 200:
            raise DemoError(f"release {unit}: {resp.status_code} {resp.get_data(as_text=True)}")
        say(f"{BLUE}[supervisor]{RESET}  {DIM}re-measured {unit}: released (QC_OK){RESET}")

    def stock(self) -> None:
        client, headers = self.plant["client"], self.plant["headers"]
        body = client.get("/api/stock", headers=headers).get_json() or {}
        parts = [f"{row['stage']} {row['count']}" for row in body.get("by_stage", [])]
        say(f"{DIM}stock by stage: {' | '.join(parts) or '-'}{RESET}")

    def walk(self) -> None:
        self.script()
        say("the order is done. Ctrl-C to stop (the web server keeps answering until then)")
        self.stop.wait()

    def script(self) -> None:
        """The simulated worker's scans, from receiving to the last shipment."""
        p = self.plant
        say("a worker starts scanning...")
        self.scan("sc-recv", p["steel"], "receiving a steel lot", "raw")
        self.scan("sc-recv", p["bolts"], "receiving a box of bolts", "component")
        self.stock()
        self.scan("sc-line", p["steel"], "issuing the steel to order WO-1001", "wip")
        self.scan("sc-line", p["bolts"], "issuing the bolts to order WO-1001", "wip")
        self.stock()
        first = p["units"][0]
        self.scan("sc-ship", first, "oops: shipping a unit that is not built yet")
        misread = first[:-1] + ("A" if first[-1] != "A" else "B")
        self.scan("sc-a1", misread, "a misread label (bad check character)")
        self.scan("sc-a1", "CMD-DOWN-BREAKDOWN", "the press at Assembly 1 breaks down")
        for n, unit in enumerate(p["units"], 1):
            say(f"-- widget {n} of {len(p['units'])}: {unit}")
            what = "starting a widget at Assembly 1"
            self.scan("sc-a1", unit, what + (" (warned: machine down)" if n == 1 else ""), "wip")
            if n == 1:
                self.scan("sc-a1", "CMD-UP", "the press runs again: downtime logged")
                self.qc_fail_and_release(unit)
            self.scan("sc-qa", unit, "quality check passed", "wip")
            self.scan("sc-end", unit, "completing the widget", "finished")
            self.scan("sc-ship", unit, "shipping it", "shipped")
            self.stock()

    # --- stop ---------------------------------------------------------------------------

    def shutdown(self) -> None:
        self.stop.set()
        say("stopping: agents, web server, ingest, broker")
        for proc in self.agents.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.agents.values():
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pty in self.ptys.values():
            pty.close()
        if self.http is not None:
            self.http.close()
        stop_mqtt(self.parts)
        say("stopped")


def _die_with_parent() -> None:
    """In the agent child (Linux): SIGTERM it if the demo dies without stopping it."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: shutdown() is the only way, as before


def say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')}  {text}", flush=True)


def run(args, settings: dict) -> int:
    demo = Demo(args, settings)

    def _term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    try:
        demo.start()
        demo.walk()
    except KeyboardInterrupt:
        pass
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    finally:
        demo.shutdown()
    return 0
