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

One thread does all of it, driving paho through its external-loop API (`loop_read`,
`loop_write`, `loop_misc`) instead of `loop_start()`'s network thread: no queue between
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
the connection "epoch" it arrived on, and one from an older connection is never acked (the
broker resends it and the dedupe answers it).

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
import datetime as dt
import json
import logging
import os
import re
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
import peewee as pw
import pydantic
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from server.core import machines, plantday
from server.core.errors import DomainError
from server.core.malformed import record_rejected_payload, rejected_result
from server.core.scans import DATABASE_ERRORS, ScanIn, ScanResult, apply_scans, writing
from server.models import Machine, utcnow
from server.mqtt_client import IngestClient
from server.wire import ScanPayload

log = logging.getLogger(__name__)

RECONNECT_MIN_DELAY = 0.1
RECONNECT_MAX_DELAY = 2
MAX_PAYLOAD = 16 * 1024  # a scan payload is a few hundred bytes; code is at most 4096
SESSION_EXPIRY = 7 * 24 * 3600  # MQTT 5: how long the broker keeps our session offline
DB_RETRY_MAX = 5.0
MAX_BATCH_WAIT = 0.01  # s: a message waits at most this long for its batch to fill
POLL = 0.2  # s: the longest the loop sleeps in poll() (stop requests, keepalive)
GUARD_AFTER = 5.0  # s: a commit running longer gets a guard thread serving the connection
_SCAN_ID_RE = re.compile(rb'"scan_id"\s*:\s*"([\x21\x23-\x5b\x5d-\x7e]{1,64})"')
_SCAN_ID_OK = re.compile(r"^[\x21-\x7e]{1,64}$")


class IngestConfigError(ValueError):
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
        parts = parse_mqtt_url(url or "mqtt://127.0.0.1:1883")
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


def parse_mqtt_url(url: str) -> dict[str, Any]:
    """`mqtt://user:pass@host:port` or `mqtts://...` -> host, port, tls, username, password."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise IngestConfigError(f"MQTT_URL is not a valid URL ({exc})") from None
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise IngestConfigError("MQTT_URL must look like mqtt://host:1883 or mqtts://host:8883")
    tls = parts.scheme == "mqtts"
    return {
        "host": parts.hostname,
        "port": port or (8883 if tls else 1883),
        "tls": tls,
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }


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
    """Owns one paho client and the one thread that serves it and the database."""

    def __init__(self, db: pw.Database, settings: IngestSettings) -> None:
        self.db = db
        self.settings = settings
        #: received, not yet committed; only the loop thread touches it
        self.inbox: deque[Inbound] = deque()
        #: latest retained status per scanner id, from <prefix>/scanners/+/status
        self.scanner_status: dict[str, dict[str, Any]] = {}
        self._subscribe_mid: int | None = None
        self.applied = 0  # messages committed and answered, for logs and tests
        self._epoch = 0
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._subscribed = threading.Event()  # the broker confirmed this connection's SUBSCRIBE
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_failure: str | None = None
        #: since when commits fail (time.monotonic()), None while the database answers
        self._db_down_since: float | None = None
        self._conn_delay = RECONNECT_MIN_DELAY
        self._reconnect_at = 0.0
        #: results the broker has not acknowledged yet (mids), and those waiting for room
        self._results_in_flight: set[int] = set()
        self._results_waiting: deque[tuple[str, str]] = deque()
        self._quota = 0  # the broker's Receive Maximum (MQTT 5); 0: no limit
        #: when the commit in hand started (None: none); paho is the guard's only then
        self._commit_started: float | None = None
        self._net_lock = threading.Lock()
        self._guard_after = min(GUARD_AFTER, settings.keepalive / 3)
        self.client = self._make_client()

    # setup

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        kwargs: dict[str, Any] = {}
        if s.protocol != mqtt.MQTTv5:
            kwargs["clean_session"] = False
        client = IngestClient(
            CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=s.protocol,
            manual_ack=True,
            **kwargs,
        )
        if s.username:
            client.username_pw_set(s.username, s.password)
        if s.tls:
            client.tls_set()
        # No limit in paho: on every PUBACK paho walks all of its in-flight messages to find
        # one to send (a fifth of the worker's time with 1,000 in flight). The broker's
        # Receive Maximum is kept by `_publish_result` instead, in O(1).
        client.max_inflight_messages_set(0)
        client.max_queued_messages_set(0)  # unbounded: results are never dropped here
        client.will_set(self.server_status_topic, json.dumps({"state": "offline"}), 1, True)
        client.on_socket_open = self._on_socket_open
        # Queued packets wait for the loop's write (IngestClient joins them into one send)
        # instead of paho writing each at once from publish() and ack().
        client.on_socket_register_write = lambda client, userdata, sock: None
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
        return client

    @property
    def server_status_topic(self) -> str:
        """Retained online/offline of this worker. Agents resend their pending scans when a
        worker comes online: a scan published while no worker was subscribed (the broker
        restarted without persistence and the agent reconnected first) is not left to the
        agent's resend timeout."""
        return f"{self.settings.prefix}/server/{self.settings.client_id}/status"

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if mid != self._subscribe_mid:
            return
        self._subscribed.set()
        body = json.dumps({"state": "online", "at": dt.datetime.now(dt.UTC).isoformat()})
        client.publish(self.server_status_topic, body, qos=1, retain=True)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def wait_subscribed(self, timeout: float) -> bool:
        """Connected, and the broker has confirmed the scans subscription: from now on a
        scan published reaches this worker. Before it, on a new session, the broker has no
        subscriber to give it to and drops it (the agents' resend covers that)."""
        return self._subscribed.wait(timeout)

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
        if s.protocol == mqtt.MQTTv5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY
            props.ReceiveMaximum = s.receive_maximum
            self.client.connect_async(
                s.host, s.port, keepalive=s.keepalive, clean_start=False, properties=props
            )
        else:
            self.client.connect_async(s.host, s.port, keepalive=s.keepalive)
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
        self._connected.clear()
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

    # paho callbacks (called from loop_read in the ingest thread); they must not raise

    def _on_socket_open(self, client, userdata, sock) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._note_failure(f"broker refused the connection: {reason_code}")
            return
        self._last_failure = None
        self._conn_delay = RECONNECT_MIN_DELAY
        self._quota = getattr(properties, "ReceiveMaximum", 0) if properties else 0
        with self._lock:
            self._epoch += 1
        # Subscribing here renews the subscription on every reconnect.
        self._subscribed.clear()
        _rc, self._subscribe_mid = client.subscribe(
            [
                (self.settings.scans_filter, 1),
                (f"{self.settings.prefix}/scanners/+/status", 0),
                (self.settings.machines_filter, 1),
            ]
        )
        log.info("ingest connected (session present: %s)", flags.session_present)
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        self._subscribed.clear()
        self._back_off()
        if was and not self._stopping.is_set():
            log.warning("ingest lost the broker (%s); reconnecting", reason_code)

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
                    self._epoch,
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
        info = self.client.publish(topic, payload, qos=1)
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
        with self._lock:
            epoch = self._epoch
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
        if message.qos:
            with self._lock:
                current = epoch == self._epoch and self._connected.is_set()
            if current:
                self.client.ack(message.mid, message.qos)

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
                self._connected.clear()
                self._disconnect()
                self._reconnect_at = time.monotonic() + 1.0
                if self._stopping.wait(1.0):
                    return
        finally:
            self._goodbye()
            if not self.db.is_closed():  # this thread's connection
                self.db.close()

    def _loop(self) -> None:
        client, inbox, batch_size = self.client, self.inbox, self.settings.batch_size
        db_delay, retry_at = 0.1, 0.0
        misc_at = 0.0
        while not self._stopping.is_set():
            now = time.monotonic()
            sock = client.socket()
            if sock is None:
                if now < self._reconnect_at:
                    self._stopping.wait(min(self._reconnect_at - now, POLL))
                    continue
                try:
                    client.reconnect()  # TCP connect + CONNECT; CONNACK arrives in loop_read
                except OSError as exc:
                    self._note_failure(f"cannot reach the broker at {self.settings.url}: {exc}")
                    self._back_off()
                continue
            # Commit now when a batch is due: full, or old enough, or nothing more to read.
            due = bool(inbox) and now >= retry_at
            timeout = 0.0 if due else min(POLL, max(retry_at - now, 0.0)) if inbox else POLL
            readable = self._service(sock, timeout, misc=now >= misc_at)
            if now >= misc_at:
                misc_at = now + 0.5
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

    def _service(self, sock, timeout: float, misc: bool) -> bool:
        """One round on the connection: wait up to `timeout` for it, read, write and with
        `misc` send keepalive pings (and notice a broker gone silent). True: it was
        readable."""
        client = self.client
        readable, writable = self._poll(sock, client.want_write(), timeout)
        if readable:
            self._read()
        if writable and client.socket() is not None:
            client.loop_write()
        if misc and client.socket() is not None:
            client.loop_misc()
        return readable

    def _poll(self, sock, want_write: bool, timeout: float) -> tuple[bool, bool]:
        """(readable, writable). poll() rather than select(): no limit on descriptor
        numbers (the serve process has many)."""
        poller = select.poll()
        poller.register(sock, select.POLLIN | (select.POLLOUT if want_write else 0))
        try:
            events = poller.poll(timeout * 1000)
        except (OSError, ValueError):  # closed under us: loop_misc/loop_read notice it
            self._stopping.wait(0.05)
            return False, False
        mask = events[0][1] if events else 0
        readable = bool(mask & (select.POLLIN | select.POLLHUP | select.POLLERR))
        return readable, bool(mask & select.POLLOUT)

    def _read(self) -> None:
        """Read what the socket has, including bytes already taken off it: IngestClient's
        read buffer and packets TLS decrypted into its own (poll() sees neither; paho's
        own loop checks `pending()` too)."""
        client = self.client
        client.loop_read()
        sock = client.socket()
        while sock is not None and (
            client.buffered or (getattr(sock, "pending", None) and sock.pending() > 0)
        ):
            if client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
            sock = client.socket()

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
        client = self.client
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
                sock = client.socket()
                if sock is None:
                    continue  # the loop reconnects when the commit is over
                try:
                    self._service(sock, 0, misc=True)
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

    def _back_off(self) -> None:
        """The next connection attempt after a failure: 0.1 s, doubling, at most 2 s."""
        self._reconnect_at = time.monotonic() + self._conn_delay
        self._conn_delay = min(self._conn_delay * 2, RECONNECT_MAX_DELAY)

    def _note_failure(self, text: str) -> None:
        if text != self._last_failure:
            log.error("%s; retrying", text)
        self._last_failure = text

    def _goodbye(self) -> None:
        """Publish offline (retained) and disconnect, serving the socket until the broker
        has the status or a second has passed; without it the broker sends the will."""
        client = self.client
        if client.socket() is not None and self._connected.is_set():
            info = client.publish(
                self.server_status_topic, json.dumps({"state": "offline"}), qos=1, retain=True
            )
            deadline = time.monotonic() + 1.0
            while not info.is_published() and time.monotonic() < deadline:
                sock = client.socket()
                if sock is None:
                    break
                self._service(sock, 0.05, misc=False)
        self._connected.clear()
        self._disconnect()

    def _disconnect(self) -> None:
        """Send DISCONNECT now (queued packets wait for the loop's write, and there is no
        more loop) and close: the broker drops the will."""
        try:
            self.client.disconnect()
            self.client.loop_write()
        except Exception:  # the socket may already be gone
            pass

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
        if msg.qos == 0:
            return
        with self._lock:
            current = msg.epoch == self._epoch and self._connected.is_set()
        if current:
            self.client.ack(msg.mid, msg.qos)
        # else: the connection it came on is gone; the broker redelivers it and the
        # scan_id dedupe answers the repeat.
