"""The dispatcher: delivers the event outbox (server/core/events.py) to its sinks.

`python -m server dispatch` (or a thread of `serve --dispatch` / `ingest --dispatch`). It
shares nothing with the ingest but the database (and, for the MQTT sink, the MQTT session
class). Per sink (`Sink` row: a webhook, an MQTT broker, andon lights, a printer):

- events go out one after the other in id order, which is commit order; the sink's row is
  its cursor (the id of the last event delivered) and advances only after a delivery
  succeeded, so the next event waits until the one before it got through;
- every attempt is a `DeliveryAttempt` row; a failure is retried after 1, 2, 4 ... s up
  to `backoff_max_s`, the same event again (order is kept);
- a sink failing for `disable_after_days` is switched off, with a `sink.disabled` event;
- at-least-once: the cursor is written after the delivery, so a `kill -9` between the two
  delivers the events since the last cursor write again (at most one batch); the receiver
  dedupes on the event id;
- several dispatchers on PostgreSQL: a dispatcher takes a sink's row with
  `SELECT ... FOR UPDATE SKIP LOCKED` and holds it (its transaction open) while it
  delivers that sink's batch and moves the cursor; the others pass that sink by. SQLite
  runs one dispatcher.

Each active sink is served by a thread of its own (`run`), with its own database
connection, so a slow receiver or a sink waiting for its retry delays no other; `run_once`
serves them in turn in the caller's thread (tests, a profile).

It also evaluates the flags (`events.evaluate_flags`): every `flag_interval_s`, and sooner
(at most every `flag_min_interval_s`) after an event that may change one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import hmac
import http.client
import json
import logging
import select
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping

import peewee as pw
from playhouse.pool import MaxConnectionsExceeded

from server.config import smtp_settings
from server.core import alerts, andon, events, hot
from server.core.scans import DATABASE_ERRORS, writing
from server.models import Event, Sink, utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Koordinator-Signature"
#: a signature older than this is refused by `verify` (replay)
SIGNATURE_TOLERANCE_S = 300


class BrokerUserBusy(Exception):
    """Another dispatcher holds the broker user a sink would connect as
    (server/dispatch_locks.py): the sink is left to it, no attempt is recorded."""


class DeliveryError(Exception):
    """A sink refused or could not take an event; it is tried again later."""


def event_body(event: Event) -> dict:
    """What every sink receives for an event (docs/events.md)."""
    return {
        "id": event.id,
        "type": event.type,
        "subject": event.subject,
        "created_at": event.created_at.isoformat() + "Z",
        "payload": event.payload,
    }


def encoded(event) -> bytes:
    """The event's body as sent: an `Outgoing` row's, built once from its stored text; a
    model row's through `event_body` (a sink called directly, as a test does)."""
    body = getattr(event, "body", None)
    if body is None:
        body = json.dumps(event_body(event), separators=(",", ":")).encode()
    return body


_json_str = json.encoder.encode_basestring_ascii
_UNREAD = object()


class Outgoing:
    """An event as the dispatcher reads it: the outbox row's columns as the driver gives
    them (no model instance), the body built once from the stored payload text (the
    outbox keeps it as compact JSON, so it goes into the body as it is, never parsed and
    encoded again), and the payload parsed only for a sink that reads it (the andon
    lights, alerts, printers, a flag's retained topic). Has the attributes of an `Event`
    that the sinks use."""

    __slots__ = ("id", "type", "subject", "_payload_text", "_created", "_payload", "_body")

    def __init__(self, row: tuple) -> None:
        self.id, self.type, self.subject, self._payload_text, self._created = row
        self._payload = _UNREAD
        self._body: bytes | None = None

    @property
    def created_at(self) -> dt.datetime:
        created = self._created
        return dt.datetime.fromisoformat(created) if isinstance(created, str) else created

    @property
    def payload(self):
        if self._payload is _UNREAD:
            text = self._payload_text
            self._payload = None if text is None else json.loads(text)
        return self._payload

    @property
    def body(self) -> bytes:
        if self._body is None:
            created = self._created
            # SQLite: the text `isoformat(" ")` made (server/core/hot.py `_dt`)
            stamp = (
                created.replace(" ", "T", 1) if isinstance(created, str) else created.isoformat()
            )
            self._body = (
                f'{{"id":{self.id},"type":{_json_str(self.type)},'
                f'"subject":{_json_str(self.subject or "")},"created_at":"{stamp}Z",'
                f'"payload":{self._payload_text or "null"}}}'
            ).encode()
        return self._body


@functools.cache
def _claim_sql(param: str, types: int, subject: bool, limit: int) -> str:
    where = [f'"id" > {param}']
    if types:
        where.append(f'"type" IN ({", ".join([param] * types)})')
    if subject:
        where.append(f'"subject" = {param}')
    return (
        'SELECT "id", "type", "subject", "payload", "created_at" FROM "event" '
        f'WHERE {" AND ".join(where)} ORDER BY "id" LIMIT {int(limit)}'
    )


# --- signatures -------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Koordinator-Signature` value: `t=<unix time>,v1=<hex HMAC-SHA256 of
    "<t>.<body>" keyed with the subscription's secret>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, *, now: float | None = None, tolerance=None
) -> bool:
    """Whether `header` signs `body` with `secret` and is recent (against replay)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > (SIGNATURE_TOLERANCE_S if tolerance is None else tolerance):
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1')}")


# --- sinks ------------------------------------------------------------------------------


class WebhookSink:
    """POSTs each event as JSON, signed, to the subscription's URL; any 2xx is delivered.
    One event a request, one request at a time, on a connection kept open between events
    (a new one per event held a sink to about 1,000 events/s).

    The request is written as one buffer (its fixed header lines made once per sink) and
    the answer read by `_HttpConnection`, a minimal HTTP/1.1 client: `http.client` spent
    most of a delivery's CPU building headers one by one and parsing the answer's headers
    with the `email` package (docs/benchmarks.md).

    Hardened against a receiver that misbehaves (docs/events.md "Webhook"): a delivery
    (connecting, TLS, the request, the whole answer) must end within `WEBHOOK_TIMEOUT_S`,
    however slowly the receiver trickles its bytes; at most `MAX_BODY` of an answer's
    body is read (a longer one: the connection is closed instead); a kept connection that
    turned readable while idle (the receiver closed it, or sent an answer nobody asked
    for) is not used: the event goes at once on a new one, not a failed attempt; a kept
    connection found closed only once the request was written is tried once more afresh
    (the receiver may get that event twice). A URL that is not printable ASCII without
    spaces is refused (the sink cannot be opened: a failed attempt). The TLS context is
    made once per sink.

    Config: `url`, `secret`."""

    def __init__(self, config: Mapping, settings: DispatchSettings) -> None:
        self.url = check_webhook_url(config.get("url"))
        self.secret = (config.get("secret") or "").encode()
        self.timeout = settings.timeout_s
        parts = urllib.parse.urlsplit(self.url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "", parts.port
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = f"[{self._host}]" if ":" in self._host else self._host
        if self._port and self._port != (443 if self._https else 80):
            host = f"{host}:{self._port}"
        self._head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n"
            "Content-Type: application/json\r\nUser-Agent: Koordinator-Webhook\r\n"
        ).encode()
        #: one TLS context for the sink's connections (certificates loaded once)
        self.tls = ssl.create_default_context() if self._https else None
        self._types: dict[str, bytes] = {}
        self._conn: _HttpConnection | None = None

    def _connection(self, deadline: float) -> _HttpConnection:
        if self._conn is None:
            self._conn = _HttpConnection(
                self._host, self._port or (443 if self._https else 80), self.tls, deadline
            )
        return self._conn

    def _request(self, event) -> bytes:
        body = encoded(event)
        kind = self._types.get(event.type)
        if kind is None:
            kind = self._types[event.type] = (
                f"X-Koordinator-Event: {_header_safe(event.type)}\r\n".encode()
            )
        stamp = int(time.time())
        mac = hmac.new(self.secret, b"%d." % stamp + body, hashlib.sha256).hexdigest()
        return b"".join(
            (
                self._head,
                kind,
                b"X-Koordinator-Event-Id: %d\r\n" % event.id,
                b"%s: t=%d,v1=%s\r\n" % (SIGNATURE_BYTES, stamp, mac.encode()),
                b"Content-Length: %d\r\n\r\n" % len(body),
                body,
            )
        )

    def deliver(self, event: Event) -> str:
        request = self._request(event)
        deadline = time.monotonic() + self.timeout
        if self._conn is not None and self._conn.stale():
            self.close()  # closed while idle: nothing sent on it, a new one at once
        for fresh in (self._conn is None, True):
            try:
                conn = self._connection(deadline)
                status, will_close = conn.exchange(request, deadline)
                if will_close:
                    self.close()
                break
            except (http.client.HTTPException, OSError) as exc:
                self.close()
                if not fresh and isinstance(exc, _STALE):
                    continue  # the receiver closed the kept connection: once more, afresh
                reason = getattr(exc, "reason", None) or exc
                raise DeliveryError(f"{type(exc).__name__}: {reason}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"HTTP {status}")
        return f"HTTP {status}"

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


SIGNATURE_BYTES = SIGNATURE_HEADER.encode()


def check_webhook_url(url) -> str:
    """`url` if a webhook may be sent to it: http(s)://host..., printable ASCII without
    spaces (a space or a control character would split or bend the request line); else
    DeliveryError saying why. `POST /api/webhooks` refuses such a URL up front (400)."""
    if not isinstance(url, str) or not url:
        raise DeliveryError("no url")
    bad = next((c for c in url if not "!" <= c <= "~"), None)
    if bad is not None:
        raise DeliveryError(f"the url holds {bad!r}: only printable ASCII without spaces")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError as exc:
        raise DeliveryError(f"the url is not valid ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError("the url must be http(s)://host[:port]/path")
    return url


def _header_safe(text: str) -> str:
    """A value fit for a header line (an event type is never expected to hold a line
    break; one that did would split the request)."""
    if any(c in text for c in "\r\n\x00"):
        raise DeliveryError(f"not allowed in an HTTP header: {text!r}")
    return text


class BadAnswer(http.client.HTTPException):
    """A receiver's answer that is not HTTP/1.1 as written (a length or chunk size that is
    not digits, too long a head): a failed attempt, and the connection is closed."""


_HEX = frozenset(b"0123456789abcdefABCDEF")


class _HttpConnection:
    """One kept-alive HTTP/1.1 connection to a receiver: `exchange()` writes a request in
    one `sendall` and reads the answer — the status line, the headers it needs
    (Content-Length, Transfer-Encoding, Connection), and the body, which it drops — all
    before `deadline` (each read waits only for what is left of it, so bytes trickling in
    do not stretch it). 1xx answers are skipped; a body without length is read to the end
    and the connection closed; a body longer than MAX_BODY is not read (the connection is
    closed instead). Errors are `http.client`'s (BadStatusLine, RemoteDisconnected,
    IncompleteRead, LineTooLong, BadAnswer) and socket errors (TimeoutError past the
    deadline), as the sink reports them."""

    MAX_LINE = 8192
    MAX_HEAD = 65536
    MAX_HEADERS = 100
    MAX_BODY = 65536

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, deadline: float):
        self.deadline = deadline
        sock = socket.create_connection((host, port), self._left())
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls is not None:
                sock.settimeout(self._left())
                sock = tls.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.buf = b""  # received, not read yet
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out: no whole answer within WEBHOOK_TIMEOUT_S")
        return left

    def stale(self) -> bool:
        """Whether the connection, idle since its last answer, has turned readable: the
        receiver closed it (its keep-alive timeout) or sent something nobody asked for
        (a 408 before closing). Either way it is not to be used."""
        if self.buf:
            return True
        if not self._poll.poll(0):
            return False
        try:
            self.sock.settimeout(0)
            self.sock.recv(1)
        except (BlockingIOError, ssl.SSLWantReadError):
            return False  # TLS housekeeping (a session ticket), no data: still good
        except OSError:
            return True
        return True  # b"": closed; a byte: an answer to no request

    def _fill(self) -> None:
        self.sock.settimeout(self._left())
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def _line(self) -> bytes:
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[: i + 1], self.buf[i + 1 :]
                return line
            if len(self.buf) > self.MAX_LINE:
                raise http.client.LineTooLong("chunk size line")
            try:
                self._fill()
            except EOFError:
                line, self.buf = self.buf, b""
                return line

    def _head(self) -> list[bytes]:
        """The answer's status line and header lines, up to the empty line."""
        while True:
            buf = self.buf
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                head, self.buf = buf[:end], buf[end + 4 :]
                return head.split(b"\r\n")
            end = buf.find(b"\n\n")  # bare line feeds, as some receivers write
            if end >= 0:
                head, self.buf = buf[:end], buf[end + 2 :]
                return [line.rstrip(b"\r") for line in head.split(b"\n")]
            if len(buf) > self.MAX_HEAD:
                raise http.client.LineTooLong("answer head")
            try:
                self._fill()
            except EOFError:
                if not buf:
                    raise http.client.RemoteDisconnected(
                        "Remote end closed connection without response"
                    ) from None
                raise http.client.IncompleteRead(buf) from None

    def exchange(self, request: bytes, deadline: float) -> tuple[int, bool]:
        """Send `request`; (the answer's status, whether the connection must close now),
        all before `deadline`."""
        self.deadline = deadline
        self.sock.settimeout(self._left())
        self.sock.sendall(request)  # the timeout bounds the whole sendall
        while True:
            lines = self._head()
            parts = lines[0].split(None, 2)
            if (
                len(parts) < 2
                or not parts[0].startswith(b"HTTP/")
                or len(parts[1]) != 3
                or not parts[1].isdigit()
            ):
                raise http.client.BadStatusLine(lines[0].decode("iso-8859-1"))
            status = int(parts[1])
            if len(lines) > self.MAX_HEADERS + 1:
                raise http.client.HTTPException(f"got more than {self.MAX_HEADERS} headers")
            length: int | None = None
            chunked = close = False
            keep_alive = parts[0] != b"HTTP/1.0"
            for header in lines[1:]:
                name, _, value = header.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    value = value.strip()
                    # digits only: int() would take "+5", "-5", "1_0", " 5 "
                    if not value.isdigit() or len(value) > 18:
                        raise BadAnswer(f"bad Content-Length: {value[:40]!r}")
                    if length is not None and int(value) != length:
                        raise BadAnswer("two different Content-Length headers")
                    length = int(value)
                elif name == b"transfer-encoding":
                    chunked = b"chunked" in value.lower()
                elif name == b"connection":
                    tokens = value.lower()
                    close = close or b"close" in tokens
                    keep_alive = keep_alive or b"keep-alive" in tokens
            if 100 <= status < 200:
                continue  # 100 Continue and the like: the real answer follows
            break
        close = close or not keep_alive
        if status in (204, 304):
            return status, close
        if chunked:
            return status, self._drop_chunks() or close
        if length is not None:
            if length > self.MAX_BODY:
                return status, True  # not read: the connection goes instead
            self._drop(length)
            return status, close
        # no length: the body runs to the end of the connection (MAX_BODY of it read)
        dropped = 0
        while dropped <= self.MAX_BODY:
            dropped += len(self.buf)
            self.buf = b""
            try:
                self._fill()
            except EOFError:
                break
        return status, True

    def _drop(self, n: int) -> None:
        while len(self.buf) < n:
            try:
                self._fill()
            except EOFError:
                raise http.client.IncompleteRead(b"", n - len(self.buf)) from None
        self.buf = self.buf[n:]

    def _drop_chunks(self) -> bool:
        """Read a chunked body to its end; True: it ran past MAX_BODY and was left
        unread (the connection must close)."""
        total = 0
        while True:
            line = self._line()
            digits = line.split(b";", 1)[0].strip()
            if not digits or len(digits) > 15 or not _HEX.issuperset(digits):
                raise BadAnswer(f"bad chunk size: {line[:40]!r}")
            size = int(digits, 16)
            if size == 0:
                while self._line() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return False
            total += size
            if total > self.MAX_BODY:
                return True
            self._drop(size)
            self._line()  # the CRLF after the chunk

    def close(self) -> None:
        self.sock.close()


#: what a kept connection the receiver has closed raises on its next request
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


@functools.lru_cache(maxsize=4096)
def _topic_level(text: str) -> str:
    """A name as one MQTT topic level: no separators or wildcards."""
    return "".join("_" if c in "/+#\x00" else c for c in text) or "_"


class MqttSink:
    """Publishes each event on `<prefix>/events/<type>`, QoS 1, and waits for the broker's
    PUBACK. A flag is a state, so its rise is also kept as a retained message on
    `<prefix>/events/flags/<flag>/<kind>/<name>` and its clear deletes it (an empty retained
    message): a subscriber sees the flags standing now as soon as it subscribes.

    It speaks MQTT 5, so that a broker refusing a message (a PUBACK with a failure reason
    code, e.g. 0x87 not authorized by its ACL) is a failed attempt, not a delivery, and
    its Receive Maximum is kept. A broker without MQTT 5 (the embedded amqtt broker of the
    zero-setup run, answering "unsupported protocol version") gets MQTT 3.1.1, with a
    warning: it acknowledges a message it refuses as if it took it. `"mqtt5": false`
    speaks 3.1.1 from the start.

    The sinks of one dispatcher on one broker user share one connection (`MqttSessions`):
    Mosquitto as deployed makes the user name the client id, so two connections of one
    user would throw each other off in turn.

    Config: `url` (default: DISPATCH_MQTT_URL, else MQTT_URL), `prefix` (default:
    MQTT_TOPIC_PREFIX), `mqtt5` (default true), `max_in_flight` (default 100: publishes
    in flight at once, lowered to the broker's Receive Maximum)."""

    def __init__(self, config: Mapping, settings: DispatchSettings) -> None:
        from server.mqtt_session import MAX_IN_FLIGHT

        url = config.get("url") or settings.mqtt_url
        if not url:
            raise DeliveryError("no broker: set DISPATCH_MQTT_URL (or MQTT_URL) or the sink's url")
        self.prefix = config.get("prefix") or settings.topic_prefix
        if not self.prefix or any(c in self.prefix for c in "#+\x00"):
            raise DeliveryError(f"prefix {self.prefix!r}: a topic, no # or + in it")
        self.timeout = settings.timeout_s
        try:
            limit = int(config.get("max_in_flight") or MAX_IN_FLIGHT)
        except (TypeError, ValueError):
            raise DeliveryError("max_in_flight must be a whole number") from None
        if not 1 <= limit <= 65535:
            raise DeliveryError("max_in_flight must be 1 to 65535")
        self.max_in_flight = limit
        #: the dispatcher's sessions; a sink made on its own (a test) has its own
        self._sessions = settings.sessions if settings.sessions is not None else MqttSessions()
        self.session = self._sessions.acquire(
            url,
            client_id=config.get("client_id") or "",
            mqtt5=config.get("mqtt5", True) is not False,
            max_in_flight=limit,
        )

    @staticmethod
    def broker_key(config: Mapping, settings: DispatchSettings) -> tuple | None:
        """The broker user (`MqttSessions.key`) a sink of this config connects as; None:
        no broker, or a wrong url (its delivery says why)."""
        url = config.get("url") or settings.mqtt_url
        if not url:
            return None
        try:
            return MqttSessions.key(url)
        except DeliveryError:
            return None

    def _publish(self, topic: str, body: bytes, retain: bool) -> None:
        acked, error = self.session.publish_many(
            [(topic, body, retain)], self.timeout, self.max_in_flight
        )
        if error is not None:
            raise DeliveryError(error)

    def _messages(self, event) -> list[tuple[str, bytes, bool]]:
        body = encoded(event)
        messages = []
        if event.type in ("flag.raised", "flag.cleared"):
            level = "/".join(_topic_level(p) for p in event.payload["key"].split(":", 2))
            state = b"" if event.type == "flag.cleared" else body
            messages.append((f"{self.prefix}/events/flags/{level}", state, True))
        messages.append((f"{self.prefix}/events/{_topic_level(event.type)}", body, False))
        return messages

    def deliver(self, event: Event) -> str:
        messages = self._messages(event)
        for topic, body, retain in messages:
            self._publish(topic, body, retain)
        return f"published {messages[-1][0]}"

    def deliver_many(self, batch: list) -> list[tuple[bool, str, float]]:
        """The whole batch in one window: every message published at once, in order, then
        their PUBACKs waited for (`MqttSession.publish_many`), instead of one round trip
        an event. An event is delivered when the broker acknowledged all its messages.
        Returns (ok, detail, seconds) per event up to and including the first failure,
        none after it (the dispatcher pairs them with the batch by position); its cursor
        stops before the first failure, so the events after it go again (at least once)."""
        plan: list[list[tuple[str, bytes, bool]]] = []
        unsendable = None  # an event that cannot be made into messages: the batch ends there
        for event in batch:
            try:
                plan.append(self._messages(event))
            except Exception as exc:
                unsendable = str(exc) or type(exc).__name__
                break
        flat = [m for messages in plan for m in messages]
        acked, error = (
            self.session.publish_many(flat, self.timeout, self.max_in_flight)
            if flat
            else ([], None)
        )
        results: list[tuple[bool, str, float]] = []
        failed = False
        i = 0
        for messages in plan:
            times = acked[i : i + len(messages)]
            i += len(messages)
            if None not in times:
                results.append((True, f"published {messages[-1][0]}", max(times)))
            else:
                failed = True
                missing = messages[times.index(None)][0]
                results.append(
                    (False, error or f"no PUBACK from the broker for {missing}", self.timeout)
                )
                break  # a result for an event after it would be paired with the wrong one
        if unsendable is not None and not failed:
            results.append((False, unsendable, 0.0))
        return results

    def close(self) -> None:
        self._sessions.release(self.session)


class MqttSessions:
    """The MQTT sessions of one dispatcher: one per broker user (scheme, host, port, user
    name), shared by every sink on it and counted, closed when its last sink closes.

    Mosquitto as docs/deploy.md sets it up (`use_username_as_clientid true`) gives every
    connection its user name as client id: a second connection of the same user drops the
    first, which reconnects and drops the second, in a loop. So the `mqtt` and `andon`
    sinks of a dispatcher (one thread each) publish on one connection; the session's
    window bounds their publishes in flight together (the broker's Receive Maximum). The
    first sink to open a user's session sets its protocol (`mqtt5`) and client id; a later
    sink asking otherwise gets the session as it is, with a warning. The window is the
    largest `max_in_flight` asked; each sink keeps its own within it."""

    def __init__(self, locks=None) -> None:
        self._lock = threading.Lock()
        #: key -> [session, users, (mqtt5, client_id) it was opened with]
        self._open: dict[tuple, list] = {}
        #: the dispatcher's `BrokerUserLocks` (one dispatcher per broker user); None: no
        #: lock (a sink made on its own, a test)
        self.locks = locks

    def may_use(self, key: tuple) -> bool:
        """Whether this dispatcher may connect as the broker user `key`: it holds (or has
        just taken) the user's lock, or it takes no locks."""
        return self.locks is None or self.locks.hold(key)

    @staticmethod
    def key(url: str) -> tuple:
        from server.mqtt_session import MqttConfigError, parse_mqtt_url

        try:
            parts = parse_mqtt_url(url, "the sink's broker url")
        except MqttConfigError as exc:
            raise DeliveryError(str(exc)) from None
        return (parts["tls"], parts["host"].lower(), parts["port"], parts["username"])

    def acquire(self, url: str, *, client_id: str, mqtt5: bool, max_in_flight: int):
        from server.mqtt_session import MqttSession

        key = self.key(url)
        if key not in self._open and not self.may_use(key):
            raise BrokerUserBusy(f"another dispatcher connects as {url_user(key)}")
        with self._lock:
            known = self._open.get(key)
            if known is None:
                session = MqttSession.from_url(
                    url,
                    client_id=client_id,
                    name="sink",
                    mqtt5=mqtt5,
                    fall_back_to_311=True,
                    max_in_flight=max_in_flight,
                ).start()  # OSError: the broker cannot be reached now (a failed attempt)
                self._open[key] = [session, 1, (mqtt5, client_id)]
                return session
            session, _users, opened = known
            if opened != (mqtt5, client_id):
                log.warning(
                    "sink on %s asks mqtt5=%s client_id=%r; it shares the session of another "
                    "sink on that broker user, opened with mqtt5=%s client_id=%r",
                    session.url,
                    mqtt5,
                    client_id,
                    *opened,
                )
            known[1] += 1
            session.max_in_flight = max(session.max_in_flight, max_in_flight)
            return session

    def release(self, session) -> None:
        """A sink is done with `session`: closed when no other sink uses it (one this pool
        did not open is closed at once)."""
        with self._lock:
            for key, known in self._open.items():
                if known[0] is session:
                    known[1] -= 1
                    if known[1] > 0:
                        return
                    del self._open[key]
                    break
        session.close()

    def sessions(self) -> list:
        with self._lock:
            return [known[0] for known in self._open.values()]

    def close(self) -> None:
        with self._lock:
            opened, self._open = list(self._open.values()), {}
        for session, _users, _how in opened:
            session.close()
        if self.locks is not None:
            self.locks.close()  # after the sessions: no other dispatcher connects meanwhile


def url_user(key: tuple) -> str:
    """A broker user key for a log line: user@host:port (no password)."""
    tls, host, port, user = key
    return f"{'mqtts' if tls else 'mqtt'}://{user or '(anonymous)'}@{host}:{port}"


class AndonSink(MqttSink):
    """A stack light per station: publishes `green`, `amber` or `red` retained (QoS 1) on
    `<prefix>/stations/<code>/andon`, and the reasons as JSON on `.../andon/detail`
    (server/core/andon.py has the rule). Each event recomputes the stations it touches and
    publishes those whose colour changed; `tick()` (the dispatcher calls it every pass)
    publishes every station at start and every `refresh_s` (a rejection ageing out of the
    window, a broker restarted without its retained messages).

    Config: as `mqtt`, plus `refresh_s` (default 30)."""

    #: an event's lights are worked out from the database as it comes: one at a time
    deliver_many = None

    def __init__(self, config: Mapping, settings: DispatchSettings) -> None:
        super().__init__(config, settings)
        self.refresh_s = float(config.get("refresh_s") or 30)
        self._shown: dict[str, str] = {}
        self._refreshed: float | None = None

    def _show(self, light: andon.Andon, force: bool = False) -> bool:
        if not force and self._shown.get(light.station) == light.colour:
            return False
        base = f"{self.prefix}/stations/{_topic_level(light.station)}/andon"
        detail = json.dumps(light.as_dict(), separators=(",", ":")).encode()
        self._publish(f"{base}/detail", detail, True)
        self._publish(base, light.colour.encode(), True)
        self._shown[light.station] = light.colour
        return True

    def deliver(self, event: Event) -> str:
        now = utcnow()
        shown = []
        for code in sorted(andon.stations_of(event.type, event.payload or {})):
            light = andon.colour_of(code, now)
            if light is not None and self._show(light):
                shown.append(f"{code} {light.colour}")
        return "; ".join(shown) or "no change"

    def tick(self, now: dt.datetime) -> None:
        at = time.monotonic()
        if self._refreshed is not None and at - self._refreshed < self.refresh_s:
            return
        first = self._refreshed is None
        for light in andon.all_colours(now):
            self._show(light, force=first)
        self._refreshed = at


class AlertSink:
    """Alerts for subscribed users (server/core/alerts.py): each event of a kind someone
    subscribed to becomes their unread alert (the pages show it); `tick()` mails each
    user's alerts once the oldest is `alert_batch_s` old, all in one mail in the user's
    language, over SMTP (`SMTP_*`). Without SMTP settings nothing is mailed. A mail that
    fails is tried again at the next tick (the alerts stay unmailed)."""

    def __init__(self, config: Mapping, settings: DispatchSettings) -> None:
        self.smtp = settings.smtp
        self.batch_s = float(config.get("batch_s") or settings.alert_batch_s)
        self.timeout = settings.timeout_s

    def deliver(self, event: Event) -> str:
        n = alerts.record(event, utcnow())
        return f"{n} alerted" if n else "no subscriber"

    def tick(self, now: dt.datetime) -> None:
        if self.smtp is None:
            return
        for user, pending in alerts.due_mail(now, self.batch_s):
            subject, text = alerts.mail(user, pending)
            self.send(user.email, subject, text)
            alerts.mark_mailed(pending, now)
            log.info("mailed %d alert(s) to %s", len(pending), user.username)

    def close(self) -> None:
        """Nothing held open (a mail opens its own connection)."""

    def send(self, to: str, subject: str, text: str) -> None:
        import smtplib
        import ssl
        from email.message import EmailMessage

        s = self.smtp
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = s["from"], to, subject
        message.set_content(text)
        if s["security"] == "tls":
            client = smtplib.SMTP_SSL(
                s["host"], s["port"], timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(s["host"], s["port"], timeout=self.timeout)
        with client:
            if s["security"] == "starttls":
                client.starttls(context=ssl.create_default_context())
            if s["user"]:
                client.login(s["user"], s["password"])
            client.send_message(message)


class PrinterSink:
    """A registered printer (server/core/printjobs.py): each `print.job` event names a
    `print_job`; a queued one is drawn (an item with its template, or the bytes stored
    with the job), sent, and marked `sent` right after the printer took the bytes. A job
    already sent (the event delivered again after a crash), cancelled or failed is passed
    by, so a restart never prints a job twice. A printer that is off fails the attempt:
    the dispatcher retries the same job with the backoff, the jobs after it wait.

    Config: `printer` (its id), `subject` (`printer:<id>`: the events it takes)."""

    #: one job per transaction: on PostgreSQL the sink's row, the job's state and the
    #: cursor commit together right after each job (docs/labels.md "the one window")
    batch = 1

    def __init__(self, config: Mapping, settings: DispatchSettings) -> None:
        self.printer_id = int(config["printer"])
        self.timeout = settings.timeout_s

    def deliver(self, event: Event) -> str:
        from server.labelling import PrinterUnavailable, render_job, send_to_printer
        from server.models import Printer, PrintJob

        job = PrintJob.get_or_none(PrintJob.id == event.payload.get("job"))
        if job is None or job.state != "queued":
            return f"job {event.payload.get('job')} {job.state if job else 'gone'}: passed by"
        printer = Printer.get_by_id(job.printer_id)
        db = PrintJob._meta.database
        now = utcnow()
        try:
            data, version = render_job(job, printer)
        except Exception as exc:  # cannot be drawn: never will, the queue moves on
            with writing(db):
                PrintJob.update(
                    state="failed", last_error=str(exc)[:200], last_attempt_at=now
                ).where(PrintJob.id == job.id).execute()
            return f"job {job.id} failed: {str(exc)[:200]}"
        try:
            sent = send_to_printer(printer, data, timeout=self.timeout)
        except PrinterUnavailable as exc:
            with writing(db):
                PrintJob.update(
                    attempts=PrintJob.attempts + 1, last_error=str(exc)[:200], last_attempt_at=now
                ).where(PrintJob.id == job.id).execute()
            raise DeliveryError(str(exc)) from None
        # the printer has the bytes: from here to this commit is the one window in which
        # a crash prints the job again (docs/labels.md)
        with writing(db):
            PrintJob.update(
                state="sent",
                sent_at=utcnow(),
                version=version,
                attempts=PrintJob.attempts + 1,
                last_error="",
                last_attempt_at=now,
            ).where((PrintJob.id == job.id) & (PrintJob.state == "queued")).execute()
        return f"job {job.id}: {sent} bytes to {printer.name}"

    def close(self) -> None:
        pass


#: sink kinds by `Sink.kind`: a class taking (config, settings) with deliver(event) ->
#: detail (raises on failure) and close(); optionally tick(now), called every pass, and a
#: `batch` attribute capping the events delivered per pass (and per transaction on PostgreSQL)
KINDS: dict[str, Callable] = {
    "webhook": WebhookSink,
    "mqtt": MqttSink,
    "andon": AndonSink,
    "alerts": AlertSink,
    "printer": PrinterSink,
}


# --- the dispatcher ---------------------------------------------------------------------


@dataclasses.dataclass
class DispatchSettings:
    poll_s: float = 0.2
    batch: int = 100
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    flag_interval_s: float = 60.0
    flag_min_interval_s: float = 2.0
    disable_after_days: float = 3.0
    timeout_s: float = 5.0
    plant_tz: str | None = None
    #: evaluate the flags (off: another dispatcher does, or a test delivers only)
    flags: bool = True
    #: the broker of `mqtt` and `andon` sinks without their own url (DISPATCH_MQTT_URL,
    #: else MQTT_URL), and the topic prefix
    mqtt_url: str | None = None
    topic_prefix: str = "koordinator"
    #: the dispatcher's MQTT sessions, one per broker user (`MqttSessions`): each
    #: `Dispatcher` gets its own; None: a sink made on its own opens its own
    sessions: MqttSessions | None = dataclasses.field(default=None, repr=False, compare=False)
    #: the mail server of the alerts sink (server/config.py `smtp_settings`), None: no mail
    smtp: dict | None = None
    #: alerts are collected this long, then mailed as one (a storm is one mail)
    alert_batch_s: float = 60.0

    ENV = {
        "poll_s": "DISPATCH_POLL_S",
        "batch": "DISPATCH_BATCH",
        "backoff_base_s": "DISPATCH_BACKOFF_BASE_S",
        "backoff_max_s": "DISPATCH_BACKOFF_MAX_S",
        "flag_interval_s": "DISPATCH_FLAG_INTERVAL_S",
        "flag_min_interval_s": "DISPATCH_FLAG_MIN_INTERVAL_S",
        "disable_after_days": "WEBHOOK_DISABLE_AFTER_DAYS",
        "timeout_s": "WEBHOOK_TIMEOUT_S",
        "alert_batch_s": "ALERT_BATCH_S",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str], plant_tz: str | None = None) -> DispatchSettings:
        values: dict = {
            "plant_tz": plant_tz,
            "mqtt_url": dispatch_mqtt_url(env),
            "topic_prefix": env.get("MQTT_TOPIC_PREFIX") or "koordinator",
            "smtp": smtp_settings(env),
        }
        for field, name in cls.ENV.items():
            text = (env.get(name) or "").strip()
            if not text:
                continue
            kind = int if field == "batch" else float
            try:
                value = kind(text)
            except ValueError:
                raise ValueError(f"{name}={text!r} is not a number") from None
            if value <= 0:
                raise ValueError(f"{name} must be above 0")
            values[field] = value
        return cls(**values)


def dispatch_mqtt_url(env: Mapping[str, str]) -> str | None:
    """The sinks' default broker: DISPATCH_MQTT_URL (checked), else MQTT_URL, else None
    (the embedded broker's run has no sink broker unless a sink names one). The password
    may be given apart, as the ingest's MQTT_PASSWORD is: DISPATCH_MQTT_PASSWORD (with
    DISPATCH_MQTT_URL only), MQTT_PASSWORD for MQTT_URL; it wins over one in the URL."""
    from server.mqtt_session import MqttConfigError, parse_mqtt_url, with_password

    url = (env.get("DISPATCH_MQTT_URL") or "").strip()
    password = env.get("DISPATCH_MQTT_PASSWORD") or None
    if url:
        parse_mqtt_url(url, "DISPATCH_MQTT_URL")  # MqttConfigError, a ValueError
        return with_password(url, password, "DISPATCH_MQTT_URL") if password else url
    if password:
        raise MqttConfigError(
            "DISPATCH_MQTT_PASSWORD is set but DISPATCH_MQTT_URL is not: set "
            "DISPATCH_MQTT_URL=mqtt://koordinator-dispatch@host:1883 (the dispatcher's user)"
        )
    url = (env.get("MQTT_URL") or "").strip()
    if url and env.get("MQTT_PASSWORD"):
        if not parse_mqtt_url(url)["username"]:
            # as the ingest does: a password with no user is not sent (anonymous broker)
            log.warning("MQTT_PASSWORD is set but MQTT_URL names no user: the password is ignored")
            return url
        return with_password(url, env["MQTT_PASSWORD"], "MQTT_URL")
    return url or None


def shared_user_warning(ingest_url: str | None, sinks_url: str | None) -> str | None:
    """The warning for a process running an ingest on `ingest_url` and the dispatcher's
    MQTT sinks on `sinks_url` as the same broker user (None: no clash). No warning for the
    embedded broker (MQTT_URL unset: it pins no client ids)."""
    if not ingest_url or not sinks_url:
        return None
    try:
        if MqttSessions.key(ingest_url) != MqttSessions.key(sinks_url):
            return None
    except DeliveryError:
        return None  # a wrong URL is reported where it is used
    user = MqttSessions.key(sinks_url)[3] or "(anonymous)"
    return (
        f"the dispatcher's MQTT sinks connect as broker user {user!r}, the same as the ingest "
        "in this process (MQTT_URL): on a Mosquitto with use_username_as_clientid (docs/"
        "deploy.md) the two connections throw each other off in turn and scans stop. Set "
        "DISPATCH_MQTT_URL to the dispatcher's own user (mqtt-credentials --dispatch-user "
        "koordinator-dispatch)"
    )


#: how often a dispatcher tries again the lock of a broker user another one holds
BUSY_RETRY_S = 2.0


class Dispatcher:
    """Delivers events to every active sink; `run()` until `stop` is set, or `start()` as a
    thread of another process."""

    def __init__(
        self,
        db: pw.Database,
        settings: DispatchSettings | None = None,
        *,
        kinds: Mapping[str, Callable] | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db = db
        from server.dispatch_locks import BrokerUserLocks

        #: one MQTT session per broker user for all of this dispatcher's sinks, each user
        #: locked against another dispatcher on the same database (server/dispatch_locks.py)
        self.sessions = MqttSessions(BrokerUserLocks(db))
        #: broker user names another dispatcher holds -> when to try their lock again
        self._busy: dict[str, float] = {}
        self.settings = dataclasses.replace(settings or DispatchSettings(), sessions=self.sessions)
        self.kinds = dict(KINDS if kinds is None else kinds)
        self.clock = clock
        self._open: dict[int, tuple[str, object]] = {}
        self._flags_at: float | None = None
        self._flags_seen = 0
        self._ticked_at: float | None = None
        #: sinks active at the main loop's last look; a sink's thread ends when it leaves
        self._active: set[int] = set()
        self._ticks: dict[int, float] = {}
        self._stop = threading.Event()
        #: the event `run()` stops on: a sink's thread ends its batch after the delivery
        #: under way (stop() waits for one delivery, not a batch to a slow receiver)
        self._halt: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self.locking = isinstance(db, pw.PostgresqlDatabase)

    # -- the loop --

    def run(self, stop: threading.Event | None = None) -> None:
        """Deliver until `stop` is set: a thread per active sink (`_serve_forever`), so a
        slow sink or one waiting for its retry holds up no other; this thread evaluates
        the flags and starts a sink's thread when it is switched on, once a second at
        most (`poll_s` if shorter)."""
        stop = stop or self._stop
        self._halt = stop
        failures = 0
        workers: dict[int, threading.Thread] = {}
        log.info("dispatcher running")
        try:
            while not stop.is_set():
                try:
                    with self.db.connection_context():
                        if self.settings.flags:
                            self.evaluate_flags_when_due()
                        active = [
                            (s.id, s.name)
                            for s in Sink.select(Sink.id, Sink.name).where(Sink.active)
                        ]
                    failures = 0
                except (*DATABASE_ERRORS, MaxConnectionsExceeded):
                    failures += 1
                    log.exception("dispatcher: database error (retrying)")
                    stop.wait(min(self.settings.backoff_max_s, 0.5 * 2**failures))
                    continue
                self._active = {sink_id for sink_id, _name in active}
                for sink_id, name in active:
                    worker = workers.get(sink_id)
                    if worker is None or not worker.is_alive():
                        worker = threading.Thread(
                            target=self._serve_forever,
                            args=(sink_id, stop),
                            name=f"dispatcher-{name}",
                            daemon=True,
                        )
                        workers[sink_id] = worker
                        worker.start()
                stop.wait(min(1.0, self.settings.poll_s))
        finally:
            stop.set()
            for worker in workers.values():
                worker.join(timeout=self.settings.timeout_s + 5)
            self.close()

    def _serve_forever(self, sink_id: int, stop: threading.Event) -> None:
        """One sink's thread: its batches, one after the other, and its tick, on a
        database connection of its own while it works (given back to the pool while it
        waits idle); it ends when the sink is switched off or removed (the main loop
        starts it again when it comes back)."""
        failures = 0
        while not stop.is_set() and sink_id in self._active:
            try:
                self.db.connect(reuse_if_open=True)
                delivered = self.serve_sink(sink_id)
                self._tick_own(sink_id)
                failures = 0
            except Exception as exc:  # a thread that died kept its pooled connection
                failures += 1
                what = "database error" if isinstance(exc, DATABASE_ERRORS) else "error"
                log.exception("dispatcher: %s (retrying)", what)
                self.db.close()
                stop.wait(min(self.settings.backoff_max_s, 0.5 * 2**failures))
                continue
            if not delivered:
                # an idle sink holds no pooled connection while it waits (70 printers'
                # threads took a pool of 64 for good)
                self.db.close()
                stop.wait(self.settings.poll_s)
        self.db.close()
        self._close_sink(sink_id)

    def _tick_own(self, sink_id: int) -> None:
        """The periodic turn of a sink with a `tick` (the andon lights, the alert mail),
        at most once a second, from the sink's own thread; a failing one is retried at
        the next turn."""
        now = time.monotonic()
        if now - self._ticks.get(sink_id, -1.0) < 1.0:
            return
        self._ticks[sink_id] = now
        if not self.locking:
            self._tick(Sink.get_or_none((Sink.id == sink_id) & Sink.active))
            return
        # several dispatchers: the one holding the sink's row ticks it (two mailed the
        # same alerts); None: switched off, or another dispatcher holds it
        with self.db.atomic():
            query = Sink.select().where((Sink.id == sink_id) & Sink.active)
            self._tick(query.for_update(skip_locked=True).first())

    def _tick(self, sink: Sink | None) -> None:
        if sink is None or not hasattr(self.kinds.get(sink.kind), "tick"):
            return
        if not self._may_serve(sink):
            return
        try:
            self._sink(sink).tick(self.clock())
        except Exception as exc:  # a light that cannot be reached must not stop the others
            log.warning("sink %s: %s", sink.name, exc)

    def start(self) -> Dispatcher:
        self._thread = threading.Thread(target=self.run, name="dispatcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def close(self) -> None:
        for sink_id in list(self._open):
            self._close_sink(sink_id)
        self.sessions.close()

    def _close_sink(self, sink_id: int) -> None:
        opened = self._open.pop(sink_id, None)
        if opened is None:
            return
        try:
            opened[1].close()
        except Exception:  # closing one must not keep the others open
            log.exception("closing a sink")

    def run_once(self) -> int:
        """One pass: the flags when due, then a batch per sink. Returns events delivered."""
        if self.settings.flags:
            self.evaluate_flags_when_due()
        ids = [s.id for s in Sink.select(Sink.id).where(Sink.active).order_by(Sink.id)]
        delivered = sum(self.serve_sink(sink_id) for sink_id in ids)
        self.tick_sinks()
        return delivered

    def tick_sinks(self) -> None:
        """Give the sinks with a `tick` (the andon lights) their periodic turn, at most
        once a second; a failing one is retried at the next turn."""
        now = time.monotonic()
        if self._ticked_at is not None and now - self._ticked_at < 1.0:
            return
        self._ticked_at = now
        ticking = [k for k, cls in self.kinds.items() if hasattr(cls, "tick")]
        if not ticking:
            return
        for sink in Sink.select().where(Sink.active & Sink.kind.in_(ticking)):
            if not self._may_serve(sink):
                continue
            try:
                self._sink(sink).tick(self.clock())
            except Exception as exc:  # a light that cannot be reached must not stop the others
                log.warning("sink %s: %s", sink.name, exc)

    def evaluate_flags_when_due(self) -> list[str]:
        now = time.monotonic()
        s = self.settings
        if self._flags_at is not None:
            since = now - self._flags_at
            if since < s.flag_min_interval_s:
                return []
            if since < s.flag_interval_s and events.flag_triggered_since(self._flags_seen) is None:
                return []
        seen = events.last_id()  # before evaluating: a later event triggers the next one
        changed = events.evaluate_flags(self.db, self.clock(), self.settings.plant_tz)
        self._flags_at, self._flags_seen = now, max(seen, self._flags_seen)
        return changed

    # -- one sink --

    def serve_sink(self, sink_id: int) -> int:
        if not self.locking:
            sink = Sink.get_or_none((Sink.id == sink_id) & Sink.active)
            return 0 if sink is None else self._deliver(sink)
        with self.db.atomic():
            sink = (
                Sink.select()
                .where((Sink.id == sink_id) & Sink.active)
                .for_update(skip_locked=True)
                .first()
            )
            # None: gone, switched off, or another dispatcher holds it
            return 0 if sink is None else self._deliver(sink)

    def _sink(self, sink: Sink):
        config = json.dumps([sink.kind, sink.config], sort_keys=True)
        known = self._open.get(sink.id)
        if known is not None and known[0] == config:
            return known[1]
        if known is not None:
            known[1].close()
        kind = self.kinds.get(sink.kind)
        if kind is None:
            raise DeliveryError(f"no sink kind {sink.kind!r} in this dispatcher")
        made = kind(sink.config or {}, self.settings)
        self._open[sink.id] = (config, made)
        return made

    def _claim(self, sink: Sink, size: int) -> list[Outgoing]:
        """The sink's next events after its cursor, as plain rows (one statement; peewee's
        model rows were a tenth of a delivery's CPU)."""
        types = sink.types or ["*"]
        if "*" in types:
            types = []
        wanted = (sink.config or {}).get("subject")  # a printer takes its own jobs only
        params = [sink.cursor, *types] + ([wanted] if wanted else [])
        sql = _claim_sql(self.db.param, len(types), bool(wanted), size)
        return [Outgoing(row) for row in self.db.execute_sql(sql, params)]

    def _may_serve(self, sink: Sink) -> bool:
        """False while another dispatcher holds the broker user the sink connects as: the
        sink is left to it (its events are not claimed, no attempt is written), and its
        lock tried again every few seconds, so this one takes over when the other stops.
        Said once per user in the log, with the fix. The lock is the user name's, however
        the broker's address is written (server/dispatch_locks.py)."""
        broker_key = getattr(self.kinds.get(sink.kind), "broker_key", None)
        key = broker_key(sink.config or {}, self.settings) if broker_key else None
        if key is None:
            return True
        user = key[3] or ""
        now = time.monotonic()
        retry = self._busy.get(user)
        if retry is None or now >= retry:
            if self.sessions.may_use(key):
                if self._busy.pop(user, None) is not None:
                    log.warning(
                        "dispatcher: broker user %s is free: its sinks are ours", url_user(key)
                    )
                return True
            if retry is None:
                log.warning(
                    "dispatcher: another dispatcher on this database connects as broker user "
                    "%s (or the database holding its lock cannot be reached); this one leaves "
                    "the mqtt and andon sinks on it to that one and takes them over when it "
                    "stops. Two connections of one user would throw each other off "
                    "(use_username_as_clientid): give this dispatcher its own user "
                    "(mqtt-credentials --dispatch-user, DISPATCH_MQTT_URL) to share the work",
                    url_user(key),
                )
            self._busy[user] = now + BUSY_RETRY_S
        # a user lost since (the database connection holding its lock went away): this
        # sink lets its session go. Only this one: the others on the user may be in a
        # delivery on their own threads; each lets go at its own next turn here
        opened = self._open.get(sink.id)
        session = getattr(opened[1], "session", None) if opened is not None else None
        if session is not None and (session.username or "") == user:
            self._close_sink(sink.id)
        return False

    def _deliver(self, sink: Sink) -> int:
        if not self._may_serve(sink):
            return 0
        now = self.clock()
        if sink.retry_at is not None and sink.retry_at > now:
            return 0
        size = getattr(self.kinds.get(sink.kind), "batch", None) or self.settings.batch
        batch = self._claim(sink, min(size, self.settings.batch))
        if not batch:
            return 0
        # (event, ok, detail, seconds, when) per attempt, in order
        results: list[tuple[Outgoing, bool, str, float, dt.datetime]] = []
        started = time.monotonic()
        try:
            target = self._sink(sink)
        except Exception as exc:  # a sink that cannot be opened: its next event failed
            target = None
            detail = str(exc) or type(exc).__name__
            results.append((batch[0], False, detail, time.monotonic() - started, self.clock()))
        many = getattr(target, "deliver_many", None)
        if target is None:
            pass
        elif many is not None:
            try:
                got = many(batch)
                at = self.clock()
                results += [(event, *r, at) for event, r in zip(batch, got, strict=False)]
            except Exception as exc:
                detail = str(exc) or type(exc).__name__
                results.append((batch[0], False, detail, time.monotonic() - started, self.clock()))
        else:
            for event in batch:
                if results and self._halt is not None and self._halt.is_set():
                    break  # stopping: the rest of the batch waits for the next run
                started = time.monotonic()
                try:
                    detail = target.deliver(event)
                    ok = True
                except Exception as exc:  # any failure of a sink is a failed attempt
                    ok, detail = False, str(exc) or type(exc).__name__
                results.append((event, ok, detail, time.monotonic() - started, self.clock()))
                if not ok:
                    break
        attempts: list[dict] = []
        delivered = 0
        failed: str | None = None
        for i, (event, ok, detail, took, at) in enumerate(results):
            attempts.append(
                {
                    "sink": sink.id,
                    "event_id": event.id,
                    # the first row retries the sink's pending event; the rest are first tries
                    "attempt": sink.failures + 1 if i == 0 else 1,
                    "ok": ok,
                    # PostgreSQL refuses a NUL in text (a receiver's garbage status line)
                    "detail": (detail or "").replace("\x00", "\\x00")[:500],
                    "duration_ms": int(took * 1000),
                    "at": at,
                }
            )
            if failed is None:
                if ok:
                    delivered += 1
                else:
                    failed = detail or "failed"
        self._record(sink, batch[:delivered], attempts, failed)
        return delivered

    def _record(self, sink: Sink, done: list[Outgoing], attempts: list[dict], failed) -> None:
        now = self.clock()
        with writing(self.db):
            hot.insert_attempts(attempts)
            changes: dict = {}
            if done:
                changes.update(cursor=done[-1].id, failures=0, retry_at=None, failing_since=None)
                sink.failures, sink.failing_since = 0, None
            if failed is not None:
                failures = sink.failures + 1
                delay = min(
                    self.settings.backoff_max_s,
                    self.settings.backoff_base_s * 2 ** (failures - 1),
                )
                since = sink.failing_since or now
                changes.update(
                    failures=failures,
                    retry_at=now + dt.timedelta(seconds=delay),
                    failing_since=since,
                )
                if now - since >= dt.timedelta(days=self.settings.disable_after_days):
                    changes["active"] = False
                    events.emit(
                        "sink.disabled",
                        sink.name,
                        {
                            "sink": sink.name,
                            "kind": sink.kind,
                            "failing_since": since.isoformat() + "Z",
                            "last_error": failed[:200],
                        },
                        now=now,
                    )
                    log.warning("sink %s failing since %s: switched off", sink.name, since)
            Sink.update(**changes).where(Sink.id == sink.id).execute()


def add_sink(name: str, kind: str, config: dict, types: list[str] | None = None, *, now=None):
    """A new sink that starts with the events after the newest one now (a new webhook does
    not receive the whole history)."""
    return Sink.create(
        name=name,
        kind=kind,
        config=config,
        types=types or ["*"],
        cursor=events.last_id(),
        created_at=now or utcnow(),
    )
