"""The MQTT ingest worker: decode -> `apply_scans()` -> commit -> publish results -> ack.

Delivery, in order, for every message on `<prefix>/scanners/+/scans`:

1. The message is put in the inbox and *not* acknowledged (`manual_ack=True`): until the
   PUBACK the broker still owns the message and redelivers it to this session after a
   crash or a reconnect.
2. When the socket has nothing more to read (or `batch_size` messages wait, or the oldest
   has waited `MAX_BATCH_WAIT`), up to `batch_size` of them are decoded and applied with
   `apply_scans()` in ONE transaction (group commit).
3. After the commit each result is published (QoS 1) on the scanner's results topic (or
   queued while the broker's Receive Maximum is reached), then the message is
   acknowledged to the broker.

Everything MQTT (connecting, back-off, subscriptions, the status topic and its will, acks
on the right connection, the goodbye) is the worker's `MqttSession`
(server/mqtt_session.py, the class the dispatcher's MQTT sinks use too); this module is
about scans. One thread does all of it, driving the session (paho's external-loop API:
`loop_read`, `loop_write`, `loop_misc`) from its own loop instead of `loop_start()`'s
network thread: no queue between
threads, no socket-pair wake-up of a network thread for every result and ack, and the
broker's Receive Maximum kept without locks (`_publish_result`). The network is still
served while the database is away: the loop keeps reading, pinging and retrying the batch
with backoff. A commit that hangs (a database that neither answers nor fails) would stop
the keepalive pings, so a guard thread serves the connection while a commit has taken
longer than a third of the keepalive, at most `GUARD_AFTER` (measured: committing every
batch in a second thread instead cost 18 % of the throughput).

A crash anywhere before step 3 leaves the message with the broker; a crash after the
commit but before the ack makes the broker redeliver it, and the scan_id dedupe in
`apply_scan()` answers with the stored first result (`duplicate: true`). Together with the
agent's outbox this gives every scan an exactly-once effect (docs/protocol.md).

A PUBACK is only valid on the connection the message came in on, so each message carries
the session's connection "epoch" it arrived on, and one from an older connection is never
acked (the broker resends it and the dedupe answers it).

The session is persistent (stable client id, clean_session=False, or MQTT 5 clean_start
False with a session expiry) so the broker keeps scans while the worker restarts. With
`shared_group` the worker subscribes to `$share/<group>/<prefix>/scanners/+/scans`
(MQTT 5), so several workers split the scans; the dedupe makes an overlap harmless.

The worker never dies on input: unreadable payloads get a `bad_payload` result when a
scan_id can be read, a payload naming another scanner than its topic gets
`unknown_scanner`, both are logged and recorded in the ledger
(`server.core.malformed`). A database outage (down, read-only, locked) keeps the batch
unacknowledged and retries; it is logged once when it starts and once when it ends.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import paho.mqtt.client as mqtt
import peewee as pw
import pydantic
from paho.mqtt.enums import MQTTErrorCode

from server.core import machines, plantday
from server.core.errors import DomainError
from server.core.malformed import record_rejected_payload, rejected_result
from server.core.scans import DATABASE_ERRORS, ScanIn, ScanResult, apply_scans, writing
from server.models import Machine, utcnow
from server.mqtt_session import MqttConfigError, MqttSession, parse_mqtt_url
from server.wire import ScanPayload

log = logging.getLogger(__name__)

MAX_PAYLOAD = 16 * 1024  # a scan payload is a few hundred bytes; code is at most 4096
DB_RETRY_MAX = 5.0
MAX_BATCH_WAIT = 0.01  # s: a message waits at most this long for its batch to fill
POLL = 0.2  # s: the longest the loop sleeps in poll() (stop requests, keepalive)

__all__ = ["IngestConfigError", "IngestSettings", "IngestWorker", "decode", "parse_mqtt_url"]
GUARD_AFTER = 5.0  # s: a commit running longer gets a guard thread serving the connection
_SCAN_ID_RE = re.compile(rb'"scan_id"\s*:\s*"([\x21\x23-\x5b\x5d-\x7e]{1,64})"')
_SCAN_ID_OK = re.compile(r"^[\x21-\x7e]{1,64}$")


class IngestConfigError(MqttConfigError):
    """A setting of the ingest is wrong; the message says which."""


@dataclasses.dataclass(frozen=True)
class IngestSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    prefix: str = "koordinator"
    client_id: str = "koordinator-ingest"
    shared_group: str | None = None
    mqtt5: bool = False
    batch_size: int = 200
    receive_maximum: int = 1000  # MQTT 5: messages the broker may have unacked with us
    keepalive: int = 30
    #: the plant's IANA time zone (PLANT_TIMEZONE): the local day an expiry date is read in
    plant_tz: str = "UTC"

    @property
    def url(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"

    @property
    def protocol(self) -> int:
        return mqtt.MQTTv5 if (self.mqtt5 or self.shared_group) else mqtt.MQTTv311

    @property
    def scans_filter(self) -> str:
        plain = f"{self.prefix}/scanners/+/scans"
        return f"$share/{self.shared_group}/{plain}" if self.shared_group else plain

    @property
    def machines_filter(self) -> str:
        """The machines' own state messages (docs/protocol.md "Machine state")."""
        plain = f"{self.prefix}/machines/+/state"
        return f"$share/{self.shared_group}/{plain}" if self.shared_group else plain

    @classmethod
    def from_env(
        cls, url: str | None, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> IngestSettings:
        """Settings from MQTT_URL and the INGEST_* variables; `overrides` (flags) win."""
        env = os.environ if environ is None else environ
        try:
            parts = parse_mqtt_url(url or "mqtt://127.0.0.1:1883")
        except MqttConfigError as exc:
            raise IngestConfigError(str(exc)) from None
        values: dict[str, Any] = {
            **parts,
            "prefix": env.get("MQTT_TOPIC_PREFIX", "koordinator").strip("/"),
            # Mosquitto as deployed makes a connection's user name its client id
            # (use_username_as_clientid): the same here, so the session, the logs and the
            # status topic all carry the id the broker knows.
            "client_id": env.get("INGEST_CLIENT_ID")
            or parts["username"]
            or f"koordinator-ingest-{socket.gethostname()}",
            "shared_group": env.get("INGEST_SHARED_GROUP") or None,
            "mqtt5": env.get("INGEST_MQTT5", "").lower() in ("1", "true", "yes"),
            "plant_tz": env.get("PLANT_TIMEZONE", "").strip() or "UTC",
        }
        if env.get("MQTT_PASSWORD"):
            values["password"] = env["MQTT_PASSWORD"]
        if env.get("INGEST_BATCH"):
            try:
                values["batch_size"] = int(env["INGEST_BATCH"])
            except ValueError:
                raise IngestConfigError(
                    f"INGEST_BATCH={env['INGEST_BATCH']!r}: not a number"
                ) from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if not self.prefix or any(c in self.prefix for c in "+#"):
            raise IngestConfigError(f"topic prefix {self.prefix!r}: non-empty, no '+' or '#'")
        if self.shared_group is not None and not re.fullmatch(r"[\w.-]{1,64}", self.shared_group):
            raise IngestConfigError(f"shared group {self.shared_group!r}: letters, digits, _.-")
        if not 1 <= self.batch_size <= 10_000:
            raise IngestConfigError(f"batch size {self.batch_size}: between 1 and 10000")
        if not self.client_id:
            raise IngestConfigError("the MQTT client id must not be empty")
        try:
            plantday.zone(self.plant_tz)
        except ValueError as exc:
            raise IngestConfigError(f"PLANT_TIMEZONE: {exc}") from None


# --- decoding ------------------------------------------------------------------------------


@dataclasses.dataclass
class Inbound:
    """One scans-topic message waiting for its commit."""

    epoch: int
    mid: int
    qos: int
    topic: str
    payload: bytes
    received: float = 0.0  # time.monotonic() when it arrived
    scanner_id: str = ""
    scan: ScanIn | None = None
    #: rejected before apply_scan: (reason, detail, scan_id or None)
    rejection: tuple[str, str, str | None] | None = None
    result: ScanResult | None = None


def sniff_scan_id(payload: bytes) -> str | None:
    """A scan_id read out of a payload that is not valid JSON (truncated, binary...)."""
    match = _SCAN_ID_RE.search(payload[:4096])
    return match.group(1).decode("ascii") if match else None


def decode(msg: Inbound, prefix: str) -> None:
    """Fill `msg.scan` or `msg.rejection` from its topic and payload. Never raises."""
    head, tail = f"{prefix}/scanners/", "/scans"
    scanner_id = msg.topic[len(head) : -len(tail)] if msg.topic.startswith(head) else ""
    msg.scanner_id = scanner_id
    payload = msg.payload
    if not 1 <= len(scanner_id) <= 64:
        msg.rejection = ("unknown_scanner", "scanner id in the topic is not valid", None)
        return
    if len(payload) > MAX_PAYLOAD:
        detail = f"payload of {len(payload)} bytes (at most {MAX_PAYLOAD})"
        msg.rejection = ("bad_payload", detail, sniff_scan_id(payload))
        return
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        msg.rejection = ("bad_payload", "payload is not UTF-8 text", sniff_scan_id(payload))
        return
    if "\x00" in text or "\\u0000" in text:  # PostgreSQL text cannot hold NUL
        msg.rejection = ("bad_payload", "payload contains NUL characters", sniff_scan_id(payload))
        return
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        msg.rejection = ("bad_payload", "payload is not JSON", sniff_scan_id(payload))
        return
    if not isinstance(body, dict):
        msg.rejection = ("bad_payload", f"payload is a JSON {type(body).__name__}", None)
        return
    raw_id = body.get("scan_id")
    scan_id = raw_id if isinstance(raw_id, str) and _SCAN_ID_OK.match(raw_id) else None
    named = body.get("scanner_id")
    if named is not None and named != scanner_id:
        msg.rejection = (
            "unknown_scanner",
            f"payload names scanner {str(named)[:64]!r}, the topic {scanner_id!r}",
            scan_id,
        )
        return
    try:
        msg.scan = ScanPayload.model_validate(body).to_scan(scanner_id)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "payload"
        msg.rejection = ("bad_payload", f"{where}: {first.get('msg', 'invalid')}", scan_id)
    except Exception as exc:  # a payload must never take the worker down
        log.exception("unexpected error decoding a payload on %s", msg.topic)
        msg.rejection = ("bad_payload", type(exc).__name__, scan_id)


# --- the worker ----------------------------------------------------------------------------


class IngestWorker:
    """Takes scans off its MQTT session (server/mqtt_session.py, driven by this worker's
    one thread) and commits, answers and acks them in batches."""

    def __init__(self, db: pw.Database, settings: IngestSettings) -> None:
        self.db = db
        self.settings = settings
        #: received, not yet committed; only the loop thread touches it
        self.inbox: deque[Inbound] = deque()
        #: latest retained status per scanner id, from <prefix>/scanners/+/status
        self.scanner_status: dict[str, dict[str, Any]] = {}
        self.applied = 0  # messages committed and answered, for logs and tests
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        #: since when commits fail (time.monotonic()), None while the database answers
        self._db_down_since: float | None = None
        #: results the broker has not acknowledged yet (mids), and those waiting for room
        self._results_in_flight: set[int] = set()
        self._results_waiting: deque[tuple[str, str]] = deque()
        self._quota = 0  # the broker's Receive Maximum (MQTT 5); 0: no limit
        #: when the commit in hand started (None: none); the session is the guard's only then
        self._commit_started: float | None = None
        self._net_lock = threading.Lock()
        self._guard_after = min(GUARD_AFTER, settings.keepalive / 3)
        self.session = self._make_session()
        self.client = self.session.client

    # setup

    def _make_session(self) -> MqttSession:
        s = self.settings
        session = MqttSession(
            host=s.host,
            port=s.port,
            tls=s.tls,
            username=s.username,
            password=s.password,
            client_id=s.client_id,
            mqtt5=s.protocol == mqtt.MQTTv5,
            persistent=True,
            receive_maximum=s.receive_maximum,
            keepalive=s.keepalive,
            status_topic=self.server_status_topic,
            driven=True,
            manual_ack=True,
            name="ingest",
            stopping=self._stopping,
        )
        session.subscribe(
            [
                (s.scans_filter, 1),
                (f"{s.prefix}/scanners/+/status", 0),
                (s.machines_filter, 1),
            ]
        )
        session.on_connected = self._on_connected
        session.on_message = self._on_message
        session.on_publish = self._on_publish
        return session

    @property
    def server_status_topic(self) -> str:
        """Retained online/offline of this worker. Agents resend their pending scans when a
        worker comes online: a scan published while no worker was subscribed (the broker
        restarted without persistence and the agent reconnected first) is not left to the
        agent's resend timeout."""
        return f"{self.settings.prefix}/server/{self.settings.client_id}/status"

    @property
    def connected(self) -> bool:
        return self.session.connected

    @property
    def _epoch(self) -> int:
        """The session's connection count (a message is acked only on its own)."""
        return self.session.epoch

    def wait_connected(self, timeout: float) -> bool:
        return self.session.wait_connected(timeout)

    def wait_subscribed(self, timeout: float) -> bool:
        """Connected, and the broker has confirmed the scans subscription: from now on a
        scan published reaches this worker. Before it, on a new session, the broker has no
        subscriber to give it to and drops it (the agents' resend covers that)."""
        return self.session.wait_subscribed(timeout)

    def start(self) -> IngestWorker:
        s = self.settings
        log.info(
            "ingest: %s as %s, subscribing %s (MQTT %s, batches of %d)",
            s.url,
            s.client_id,
            s.scans_filter,
            "5" if s.protocol == mqtt.MQTTv5 else "3.1.1",
            s.batch_size,
        )
        self.session.connect_async()
        self._thread = threading.Thread(target=self._serve, name="ingest", daemon=True)
        self._thread.start()
        threading.Thread(target=self._guard, name="ingest-guard", daemon=True).start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the batch in hand, say offline, disconnect; the broker keeps what is
        unacked."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.session.note_closed()
        log.info("ingest stopped after %d scans", self.applied)

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set (the CLI's main thread)."""
        self.start()
        try:
            while not stop.wait(0.5):
                if self._thread is not None and not self._thread.is_alive():
                    raise RuntimeError("ingest thread died")
        finally:
            self.stop()

    # callbacks (called from the session's reads in the ingest thread); they must not raise

    def _on_connected(self, flags, properties) -> None:
        self._quota = getattr(properties, "ReceiveMaximum", 0) if properties else 0

    def _on_message(self, client, userdata, message) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = ""
        try:
            if topic.startswith(self._machines_head) and topic.endswith("/state"):
                self._machine_state(message, topic)
                return
            if not topic.endswith("/scans"):
                if topic.endswith("/status"):
                    self._note_status(topic, message.payload)
                if message.qos:
                    client.ack(message.mid, message.qos)
                return
            self.inbox.append(
                Inbound(
                    self.session.epoch,
                    message.mid,
                    message.qos,
                    topic,
                    bytes(message.payload),
                    time.monotonic(),
                )
            )
        except Exception:
            log.exception("ingest: error taking a message on %r", topic)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        if getattr(reason_code, "is_failure", False):
            log.warning("the broker refused a publish of ours (mid %s): %s", mid, reason_code)
        self._results_in_flight.discard(mid)
        while self._results_waiting and (
            not self._quota or len(self._results_in_flight) < self._quota
        ):
            self._send_result(*self._results_waiting.popleft())

    def _publish_result(self, topic: str, payload: str) -> None:
        """Publish a result (QoS 1), or hold it while the broker's Receive Maximum of
        unacknowledged messages is reached (MQTT 5; Mosquitto advertises its
        max_inflight_messages). Held results go out as PUBACKs come back."""
        if self._results_waiting or (self._quota and len(self._results_in_flight) >= self._quota):
            self._results_waiting.append((topic, payload))
        else:
            self._send_result(topic, payload)

    def _send_result(self, topic: str, payload: str) -> None:
        info = self.session.publish(topic, payload, qos=1)
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:  # not kept by paho (no limit is set)
            log.warning("result on %s not queued: %s", topic, info.rc)
            return
        # Kept by paho, also on NO_CONN or CONN_LOST: it is sent (again) on reconnect and
        # its PUBACK calls _on_publish.
        self._results_in_flight.add(info.mid)

    @property
    def _machines_head(self) -> str:
        return f"{self.settings.prefix}/machines/"

    def _machine_state(self, message, topic: str) -> None:
        """A machine's own state message: applied at once in its own transaction (it is
        not a scan: no ledger row, a downtime row when it goes down), answered on the
        machine's results topic and acknowledged. A database that is away leaves it
        unacknowledged: the broker delivers it again after the reconnect."""
        code = topic[len(self._machines_head) : -len("/state")]
        epoch = self.session.epoch
        try:
            answer = self._apply_machine_state(code, bytes(message.payload))
        except DATABASE_ERRORS:
            log.warning("machine %s state not applied: the database is away", code[:64])
            return
        except Exception:
            log.exception("machine %s state: unexpected error", code[:64])
            answer = {"status": "rejected", "reason": "server_error", "message": "Server problem"}
        if "/" not in code and "+" not in code and "#" not in code and code:
            self._publish_result(f"{self._machines_head}{code}/results", json.dumps(answer))
        self.session.ack(message.mid, message.qos, epoch)

    def _apply_machine_state(self, code: str, payload: bytes) -> dict:
        try:
            body = json.loads(payload)
        except ValueError:
            body = None
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("state"), str)
            or not isinstance(body.get("reason", ""), (str, type(None)))
        ):
            return {
                "status": "rejected",
                "reason": "bad_payload",
                "message": 'Expected {"state": "running|idle|down", "reason"?: code}',
            }
        self.db.connect(reuse_if_open=True)
        with writing(self.db):
            machine = Machine.get_or_none((Machine.code == code) & (Machine.active == True))  # noqa: E712
            if machine is None:
                return {
                    "status": "rejected",
                    "reason": "unknown_machine",
                    "message": f"No machine {code[:64]!r}",
                }
            try:
                changed = machines.set_state(
                    machine, body["state"], body.get("reason"), now=utcnow(), source="mqtt"
                )
            except DomainError as exc:
                return {"status": "rejected", "reason": exc.code, "message": exc.message}
        return {
            "status": "accepted",
            "reason": None,
            "changed": changed,
            "state": machine.state,
            "why": machine.state_why,
            "message": f"{machine.code} {machine.state}",
        }

    def _note_status(self, topic: str, payload: bytes) -> None:
        scanner_id = topic.split("/")[-2]
        try:
            body = json.loads(payload) if payload else {"state": "unknown"}
        except ValueError:
            return
        if isinstance(body, dict):
            self.scanner_status[scanner_id] = body

    # the loop

    def _serve(self) -> None:
        """Run the loop until stopped. An unexpected error (a bug, a callback that raised
        inside paho) must not end the worker silently - in `serve` nothing would notice:
        it is logged, the connection is dropped (its packet stream may be cut mid-way) and
        the loop starts again after a second. What was not acked comes again."""
        try:
            while True:
                try:
                    self._loop()
                    return
                except Exception:
                    log.exception("ingest loop failed; reconnecting in 1 s")
                self.session.drop(retry_after=1.0)
                if self._stopping.wait(1.0):
                    return
        finally:
            self.session.goodbye()
            if not self.db.is_closed():  # this thread's connection
                self.db.close()

    def _loop(self) -> None:
        session, inbox, batch_size = self.session, self.inbox, self.settings.batch_size
        db_delay, retry_at = 0.1, 0.0
        while not self._stopping.is_set():
            now = time.monotonic()
            # Commit now when a batch is due: full, or old enough, or nothing more to read.
            due = bool(inbox) and now >= retry_at
            timeout = 0.0 if due else min(POLL, max(retry_at - now, 0.0)) if inbox else POLL
            readable = session.step(timeout)
            if readable is None:
                continue  # no connection this round: (re)connecting
            if not inbox or time.monotonic() < retry_at:
                continue
            if (
                readable
                and len(inbox) < batch_size
                and time.monotonic() - inbox[0].received < MAX_BATCH_WAIT
            ):
                continue  # more is arriving: let the batch fill
            batch = [inbox.popleft() for _ in range(min(batch_size, len(inbox)))]
            try:
                self._commit_guarded(batch)
            except Exception as exc:
                # Nothing acked: retry the same batch, the broker keeps the messages anyway.
                self._note_db_down(exc)
                inbox.extendleft(reversed(batch))
                try:
                    self.db.close()
                except Exception:
                    pass
                retry_at = time.monotonic() + db_delay
                db_delay = min(db_delay * 2, DB_RETRY_MAX)
                continue
            db_delay, retry_at = 0.1, 0.0
            if self._db_down_since is not None:
                self._note_db_back()
            self._answer(batch)

    def _commit_guarded(self, batch: list[Inbound]) -> None:
        """`_commit`, marked as running for the guard thread (`_guard`)."""
        self._commit_started = time.monotonic()
        try:
            self._commit(batch)
        finally:
            with self._net_lock:  # the guard is not inside paho now, nor will it enter
                self._commit_started = None

    def _guard(self) -> None:
        """While a commit has run longer than `_guard_after` (a third of the keepalive, at
        most GUARD_AFTER), serve the connection every half second, so that a hanging
        database does not make the broker drop this worker (1.5 x keepalive without a
        packet). Otherwise idle."""
        session = self.session
        warned = None
        while not self._stopping.wait(0.5):
            with self._net_lock:
                started = self._commit_started
                if started is None or time.monotonic() - started < self._guard_after:
                    continue
                if warned != started:
                    warned = started
                    log.warning(
                        "ingest: a commit runs longer than %.1f s; keeping the connection",
                        self._guard_after,
                    )
                sock = session.socket()
                if sock is None:
                    continue  # the loop reconnects when the commit is over
                try:
                    session.service(sock, 0, misc=True)
                except Exception:
                    log.exception("ingest: keeping the connection during a long commit")

    def _note_db_down(self, exc: Exception) -> None:
        """Log a failed commit once per outage: a read-only or locked database fails every
        retry (and every scan of it), and a line each time buried the log (3,459 in 11 s).
        Each retry's traceback goes to DEBUG; a failure that is not the database's (a bug)
        gets its traceback once."""
        log.debug("ingest: commit failed", exc_info=exc)
        if self._db_down_since is not None:
            return
        self._db_down_since = time.monotonic()
        if isinstance(exc, DATABASE_ERRORS):
            reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            log.error(
                "ingest: database unavailable: %s; retrying, scans wait with the broker", reason
            )
        else:
            log.error("ingest: committing a batch failed; retrying", exc_info=exc)

    def _note_db_back(self) -> None:
        down = time.monotonic() - (self._db_down_since or time.monotonic())
        log.warning("ingest: database back after %.1f s", down)
        self._db_down_since = None

    def _commit(self, batch: list[Inbound]) -> None:
        scans: list[Inbound] = []
        for msg in batch:
            if msg.scan is None and msg.rejection is None:
                decode(msg, self.settings.prefix)
            if msg.scan is not None:
                scans.append(msg)
        self.db.connect(reuse_if_open=True)
        with writing(self.db):
            scans_in = [m.scan for m in scans]
            results = (
                apply_scans(self.db, scans_in, raise_db_errors=True, tz=self.settings.plant_tz)
                if scans
                else []
            )
            for msg, result in zip(scans, results, strict=True):
                msg.result = result
            for msg in batch:
                if msg.rejection is None:
                    continue
                reason, detail, scan_id = msg.rejection
                log.warning(
                    "rejected payload on %s (%s: %s)%s: %r",
                    msg.topic,
                    reason,
                    detail,
                    f" scan_id {scan_id}" if scan_id else ", no scan_id to answer",
                    msg.payload[:120],
                )
                try:
                    msg.result = record_rejected_payload(
                        self.db,
                        scanner_id=msg.scanner_id or "?",
                        reason=reason,
                        detail=detail,
                        scan_id=scan_id,
                        raw=msg.payload[:500].decode("utf-8", "replace").replace("\x00", "\ufffd"),
                    )
                except DATABASE_ERRORS:
                    raise  # the database is away: retry the batch
                except Exception:
                    # Its savepoint is rolled back; answer it anyway rather than retry forever.
                    log.exception("could not record the rejected payload on %s", msg.topic)
                    msg.result = rejected_result(scan_id, reason, detail) if scan_id else None

    def _answer(self, batch: list[Inbound]) -> None:
        prefix = self.settings.prefix
        for msg in batch:
            result = msg.result
            # server_error was not stored: no answer, so the agent's outbox sends it again.
            if result is not None and result.reason != "server_error" and msg.scanner_id:
                topic = f"{prefix}/scanners/{msg.scanner_id}/results"
                self._publish_result(topic, result.to_json())
            elif result is not None and result.reason == "server_error":
                log.error(
                    "scan %s hit a server error; left for the agent to resend", result.scan_id
                )
            self._ack(msg)
        self.applied += len(batch)

    def _ack(self, msg: Inbound) -> None:
        # Not if the connection it came on is gone: the broker redelivers it and the
        # scan_id dedupe answers the repeat.
        self.session.ack(msg.mid, msg.qos, msg.epoch)
