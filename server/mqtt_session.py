"""One MQTT session to the broker, shared by the ingest and the dispatcher's MQTT sinks.

`MqttSession` owns a paho client and everything about the connection: the broker from an
MQTT URL (credentials, TLS), a persistent session where asked (stable client id,
clean_session False, or MQTT 5 clean_start False with a session expiry), the
subscriptions (made again on every connection, so a broker that restarted without them
has them back), reconnecting with back-off (0.1 s, doubling, at most 2 s), a retained
online/offline status topic with the offline as the last will, publishing at QoS 1 and
waiting for the PUBACK, acknowledging a message only on the connection it came on, and a
clean goodbye (offline, then DISCONNECT, so the broker drops the will).

Two ways to run it:

- **driven** (`driven=True`, the ingest): the owner's own thread calls `step()` in its
  loop, which reconnects when due and otherwise polls the socket and reads, writes and
  pings through paho's external-loop API (`loop_read`, `loop_write`, `loop_misc`). The
  client is `IngestClient` (server/mqtt_client.py), queued packets wait for the loop's
  write (joined into one `send()`), and paho keeps no in-flight or queue limit: the owner
  keeps the broker's Receive Maximum (`on_connected` hands it the CONNACK's properties).
  No thread of the session's own, no lock on the hot path (docs/design.md "Architecture").
- **threaded** (`start()`, the sinks): paho's network thread serves the connection and
  reconnects with the same back-off; `publish_wait()` (one message) and `publish_many()`
  (a sliding window in flight, at most `max_in_flight` and the broker's MQTT 5 Receive
  Maximum) may be called from any thread, several at once: the dispatcher's sinks on one
  broker user share one session (server/dispatch.py `MqttSessions`), and the window is
  the connection's, counted over all of them. A PUBACK with a failure reason code (MQTT 5,
  0x80 and above: not authorized, quota exceeded ...) is a message not delivered, and a
  message given up on (refused, no PUBACK in time, the connection lost) is taken out of
  paho's store, so paho neither sends it again on the next connection nor keeps it.

The session knows nothing of scans or events: messages go to `on_message`, PUBACKs of
the owner's publishes to `on_publish`, a new connection to `on_connected`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import paho.mqtt.client as mqtt
from paho.mqtt.client import mqtt_ms_wait_for_puback
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from server.mqtt_client import IngestClient

log = logging.getLogger(__name__)

RECONNECT_MIN_DELAY = 0.1
RECONNECT_MAX_DELAY = 2
SESSION_EXPIRY = 7 * 24 * 3600  # MQTT 5: how long the broker keeps a persistent session
POLL = 0.2  # s: the longest `step()` waits for a reconnection that is not due yet
MISC_EVERY = 0.5  # s: keepalive pings and a silent broker checked this often (driven)
#: threaded: publishes in flight at once by default (the broker's Receive Maximum if lower)
MAX_IN_FLIGHT = 100
#: threaded: how often a wait for a PUBACK looks whether the connection is still the one
WAIT_SLICE = 0.1
#: the CONNACK reason code (MQTT 5; 1 in 3.1.1, which paho reads as this) of a broker
#: without MQTT 5
UNSUPPORTED_PROTOCOL_VERSION = 0x84


class MqttConfigError(ValueError):
    """An MQTT setting (the URL) is wrong; the message says which."""


class MqttSessionError(Exception):
    """A publish did not get through: not connected, or no PUBACK in time."""


def parse_mqtt_url(url: str, setting: str = "MQTT_URL") -> dict[str, Any]:
    """`mqtt://user:pass@host:port` or `mqtts://...` -> host, port, tls, username, password.
    `setting` names the variable in the error (MQTT_URL, DISPATCH_MQTT_URL)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise MqttConfigError(f"{setting} is not a valid URL ({exc})") from None
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise MqttConfigError(f"{setting} must look like mqtt://host:1883 or mqtts://host:8883")
    tls = parts.scheme == "mqtts"
    return {
        "host": parts.hostname,
        "port": port or (8883 if tls else 1883),
        "tls": tls,
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }


def with_password(url: str, password: str, setting: str = "MQTT_URL") -> str:
    """`url` with `password` in place of any it holds (quoted): a password given in a
    setting of its own (DISPATCH_MQTT_PASSWORD) for a URL that names the user only."""
    parts = urlsplit(url)
    if not parts.username:
        raise MqttConfigError(f"{setting} names no user for the password given apart")
    where = parts.netloc.rpartition("@")[2]
    user = quote(unquote(parts.username), safe="")
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{where}"))


class MqttSession:
    """One client connection to the broker, run `driven` by its owner's loop or on paho's
    network thread (`start()`)."""

    def __init__(
        self,
        *,
        host: str,
        port: int = 1883,
        tls: bool = False,
        username: str | None = None,
        password: str | None = None,
        client_id: str = "",
        mqtt5: bool = False,
        persistent: bool = False,
        receive_maximum: int | None = None,
        keepalive: int = 30,
        status_topic: str | None = None,
        driven: bool = False,
        manual_ack: bool = False,
        name: str = "mqtt",
        stopping: threading.Event | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
        fall_back_to_311: bool = False,
    ) -> None:
        self.host, self.port, self.tls, self.username = host, port, tls, username
        self.client_id = client_id
        self.protocol = mqtt.MQTTv5 if mqtt5 else mqtt.MQTTv311
        self.persistent = persistent
        self.receive_maximum = receive_maximum
        self.keepalive = keepalive
        self.status_topic = status_topic
        self.driven = driven
        self.name = name
        #: the owner's: called with (flags, properties) on every accepted connection
        self.on_connected: Callable[[Any, Any], None] | None = None
        #: counts accepted connections: a message is acked only on the one it came on
        self.epoch = 0
        self._subscriptions: list[tuple[str, int]] = []
        self._subscribe_mid: int | None = None
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._subscribed = threading.Event()  # the broker confirmed this connection's SUBSCRIBE
        self._stopping = stopping or threading.Event()
        self._last_failure: str | None = None
        self._conn_delay = RECONNECT_MIN_DELAY
        self._reconnect_at = 0.0
        self._misc_at = 0.0
        self._started = False
        #: MQTT 5 asked, but a broker answering "unsupported protocol version" (the
        #: embedded amqtt broker, an old Mosquitto) gets MQTT 3.1.1 from then on
        self.fall_back_to_311 = fall_back_to_311
        #: threaded: the most publishes `publish_many` keeps in flight (`window`), over
        #: all its callers (the dispatcher's sinks share a session per broker user)
        self.max_in_flight = max(1, int(max_in_flight))
        #: threaded: publishes of `publish_many` calls waiting for their PUBACK, all callers
        self._in_flight = 0
        self._room = threading.Condition(threading.Lock())
        #: the broker's Receive Maximum from the last CONNACK (MQTT 5; None: not given)
        self.broker_receive_maximum: int | None = None
        #: mid -> the failure reason code of its PUBACK (threaded; overwritten by the
        #: next PUBACK for the same mid, so a stale entry never outlives its mid's reuse)
        self._refused: dict[int, Any] = {}
        self.client = self._make_client(password, manual_ack)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> MqttSession:
        return cls(**parse_mqtt_url(url), **kwargs)

    @property
    def url(self) -> str:
        """The broker's URL without the password, for logs."""
        user = f"{self.username}:***@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"

    def _make_client(self, password: str | None, manual_ack: bool) -> mqtt.Client:
        kwargs: dict[str, Any] = {}
        if self.protocol != mqtt.MQTTv5:
            kwargs["clean_session"] = not self.persistent
        kind = IngestClient if self.driven else mqtt.Client
        client = kind(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=self.protocol,
            manual_ack=manual_ack,
            **kwargs,
        )
        if self.username:
            client.username_pw_set(self.username, password)
        if self.tls:
            client.tls_set()
        if self.driven:
            # No limit in paho: on every PUBACK paho walks all of its in-flight messages to
            # find one to send (a fifth of the ingest's time with 1,000 in flight). The
            # owner keeps the broker's Receive Maximum instead, in O(1).
            client.max_inflight_messages_set(0)
            client.max_queued_messages_set(0)  # unbounded: nothing is dropped here
            # Queued packets wait for the loop's write (IngestClient joins them into one
            # send) instead of paho writing each at once from publish() and ack().
            client.on_socket_register_write = lambda client, userdata, sock: None
        else:
            client.reconnect_delay_set(RECONNECT_MIN_DELAY, RECONNECT_MAX_DELAY)
            # `publish_many` keeps its own window (at most `window` in flight); with
            # paho's limit on, the rest would wait in its queue and every PUBACK walk it
            client.max_inflight_messages_set(0)
            client.on_publish = self._on_puback
        if self.status_topic:
            client.will_set(self.status_topic, json.dumps({"state": "offline"}), 1, True)
        client.on_socket_open = _no_delay
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        return client

    @property
    def on_message(self) -> Callable | None:
        """paho's (client, userdata, message), set on the client itself: no call between."""
        return self.client.on_message

    @on_message.setter
    def on_message(self, handler: Callable | None) -> None:
        self.client.on_message = handler

    @property
    def on_publish(self) -> Callable | None:
        """paho's (client, userdata, mid, reason_code, properties) for a PUBACK (driven
        mode; a threaded session keeps its own, for the failure reason codes)."""
        return self.client.on_publish

    @on_publish.setter
    def on_publish(self, handler: Callable | None) -> None:
        if not self.driven:
            raise RuntimeError("a threaded session reads its PUBACKs itself")
        self.client.on_publish = handler

    @property
    def window(self) -> int:
        """How many publishes `publish_many` keeps in flight: `max_in_flight`, or the
        broker's Receive Maximum if lower (paho does not keep it)."""
        limit = self.broker_receive_maximum
        return self.max_in_flight if not limit else min(self.max_in_flight, limit)

    # -- what the owner asks -----------------------------------------------------------

    def subscribe(self, filters: list[tuple[str, int]]) -> None:
        """Subscribe to `filters` ((filter, qos) pairs) on this and every later
        connection. Call before the first connection."""
        self._subscriptions = list(filters)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def wait_subscribed(self, timeout: float) -> bool:
        """Connected, and the broker has confirmed the subscriptions: from now on a
        message published to them reaches this session."""
        return self._subscribed.wait(timeout)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False):
        """Queue a publish; paho's MQTTMessageInfo. Driven: written by the next `step()`."""
        return self.client.publish(topic, payload, qos=qos, retain=retain)

    def publish_wait(
        self, topic: str, payload: bytes | str, timeout: float, retain: bool = False
    ) -> None:
        """Publish at QoS 1 and return once the broker has acknowledged it (threaded
        mode). Not while disconnected (paho would queue a copy per retry and send them all
        on reconnection): waits up to `timeout` for the connection. Raises MqttSessionError
        when there is none, no PUBACK came within `timeout`, or the PUBACK refused it."""
        acked, error = self.publish_many([(topic, payload, retain)], timeout)
        if error is not None:
            raise MqttSessionError(error)

    def publish_many(
        self,
        messages: list[tuple[str, bytes, bool]],
        timeout: float,
        max_in_flight: int | None = None,
    ) -> tuple[list[float | None], str | None]:
        """Publish `messages` ((topic, payload, retain)) at QoS 1 in order with a sliding window of
        at most `window` in flight (threaded mode), all within `timeout`: the window is
        topped up as each PUBACK comes, so the broker never has more than its Receive
        Maximum from us and the messages flow without a round trip each. (Topped up only
        once half the window was acknowledged, the connection stalled for the 40 ms of a
        delayed TCP ACK each time against a broker without TCP_NODELAY, as Mosquitto is
        by default: 450-700 messages/s with a window of 20 instead of 1,650.) Stops at
        the first message not delivered: no PUBACK in time, a PUBACK with a failure
        reason code (MQTT 5, e.g. 0x87 not authorized), or the connection lost. Returns,
        per message, the seconds from the first publish to its PUBACK (None for that
        message and every one after it) and the reason of the first that did not get
        through (None: all did). The messages given up on are taken out of paho's store:
        paho does not send them again on the next connection (the caller publishes them
        again, in order) and keeps no copy.

        Several threads may call it at once on one session (the dispatcher's MQTT and
        andon sinks share their broker user's): `window` bounds their publishes in flight
        together, so the connection keeps the broker's Receive Maximum, and
        `max_in_flight` (the caller's own limit, at most `window`) bounds this call's.
        """
        n = len(messages)
        if not self._connected.wait(timeout):
            return [None] * n, "not connected to the broker"
        client = self.client
        epoch = self.epoch
        window = self.window if max_in_flight is None else min(self.window, max_in_flight)
        window = max(1, window)
        start = time.monotonic()
        deadline = start + timeout
        infos: list = []
        acked: list[float | None] = []
        error = None
        bad = None  # why paho refused to publish a message (its place given back)
        try:
            while len(acked) < n:
                done = len(acked)
                if len(infos) - done < window:
                    for topic, payload, retain in messages[len(infos) : min(n, done + window)]:
                        # nothing of ours in flight: wait for room; else take what is free
                        if not self._take_room(deadline if len(infos) == done else None):
                            break
                        try:
                            info = client.publish(topic, payload, qos=1, retain=retain)
                        except ValueError as exc:  # a topic with a wildcard, a payload too big
                            self._give_room(1)  # taken above, never in flight
                            bad = f"cannot publish {topic}: {exc}"
                            break
                        infos.append(info)
                        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                            break  # the connection just went
                if len(infos) == done:
                    error = bad or (
                        f"no room to publish {messages[done][0]}: the connection's window "
                        "stayed full (other sinks on this broker user)"
                    )
                    break
                error = self._await(infos[done], messages[done][0], deadline, epoch)
                if error is not None:
                    break
                acked.append(time.monotonic() - start)
                self._give_room(1)
        finally:
            # what this call still holds of the window: not acknowledged, given up on
            self._give_room(len(infos) - len(acked))
        if len(infos) > len(acked):
            self._forget(infos[len(acked) :])
        if len(acked) < n:
            acked += [None] * (n - len(acked))
        return acked, error

    def _await(self, info, topic: str, deadline: float, epoch: int) -> str | None:
        """Wait for `info`'s PUBACK; None when the broker took it, else why not."""
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return "not connected to the broker"
        if not info._published and not self._wait(info, deadline, epoch):
            return (
                f"no PUBACK from the broker for {topic}"
                if self.epoch == epoch and self._connected.is_set()
                else "lost the connection to the broker"
            )
        if self._refused:
            refused = self._refused.pop(info.mid, None)
            if refused is not None:
                return f"the broker refused {topic}: {refused} (0x{refused.value:02x})"
        return None

    def _take_room(self, deadline: float | None) -> bool:
        """One place in the session's window (all callers of `publish_many`): at once, or
        with `deadline` waiting for one until then. False: none."""
        with self._room:
            while self._in_flight >= self.window:
                left = 0 if deadline is None else deadline - time.monotonic()
                if left <= 0 or self._stopping.is_set():
                    return False
                self._room.wait(min(left, WAIT_SLICE))
            self._in_flight += 1
            return True

    def _give_room(self, count: int) -> None:
        if count > 0:
            with self._room:
                self._in_flight -= count
                self._room.notify_all()

    def _wait(self, info, deadline: float, epoch: int) -> bool:
        """Wait for `info`'s PUBACK until `deadline`, in slices, giving up as soon as the
        connection it went out on is gone (paho would send it again on the next one)."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return info._published
            try:
                info.wait_for_publish(min(left, WAIT_SLICE))
            except (RuntimeError, ValueError):  # refused at once: the connection went
                return False
            if info._published:
                return True
            if self.epoch != epoch or not self._connected.is_set():
                return False

    def _forget(self, infos: list) -> None:
        """Take the messages of `infos` not acknowledged out of paho's store: paho would
        send them again (flagged DUP) on its next connection, after the messages the
        caller publishes again, and keep each one never acknowledged for good."""
        client = self.client
        with client._out_message_mutex:
            store = client._out_messages
            for info in infos:
                message = store.get(info.mid)
                if message is None or message.info is not info:
                    continue  # acknowledged meanwhile (or the mid is another's now)
                del store[info.mid]
                if message.state == mqtt_ms_wait_for_puback:
                    client._inflight_messages -= 1
                self._refused.pop(info.mid, None)

    def ack(self, mid: int, qos: int, epoch: int) -> None:
        """Acknowledge a message (manual_ack) if the connection it came on (`epoch`) is
        still the one: a PUBACK is only valid there. Otherwise the broker sends it again."""
        if not qos:
            return
        with self._lock:
            current = epoch == self.epoch and self._connected.is_set()
        if current:
            self.client.ack(mid, qos)

    # -- driven mode -------------------------------------------------------------------

    def connect_async(self) -> None:
        """Set the broker up; the first `step()` connects."""
        log.info("%s: %s as %s", self.name, self.url, self.client_id or "(broker's id)")
        kwargs: dict[str, Any] = {}
        if self.protocol == mqtt.MQTTv5:
            props = Properties(PacketTypes.CONNECT)
            if self.persistent:
                props.SessionExpiryInterval = SESSION_EXPIRY
                kwargs["clean_start"] = False
            if self.receive_maximum:
                props.ReceiveMaximum = self.receive_maximum
            kwargs["properties"] = props
        self.client.connect_async(self.host, self.port, keepalive=self.keepalive, **kwargs)

    def step(self, timeout: float) -> bool | None:
        """One round of the owner's loop: without a connection, (re)connect when due or
        wait for that (at most POLL); None. Else wait up to `timeout` for the socket, read,
        write, ping when due; whether it was readable."""
        sock = self.client.socket()
        if sock is not None:
            return self.service(sock, timeout)
        now = time.monotonic()
        if now < self._reconnect_at:
            self._stopping.wait(min(self._reconnect_at - now, POLL))
            return None
        try:
            self.client.reconnect()  # TCP connect + CONNECT; CONNACK arrives in loop_read
        except OSError as exc:
            self._note_failure(f"cannot reach the broker at {self.url}: {exc}")
            self._back_off()
        return None

    def service(self, sock, timeout: float, misc: bool | None = None) -> bool:
        """Wait up to `timeout` for the connection, read, write, and with `misc` (None:
        every MISC_EVERY) send keepalive pings and notice a broker gone silent. True: it
        was readable. Called by one thread at a time (the owner keeps that)."""
        client = self.client
        if misc is None:
            now = time.monotonic()
            misc = now >= self._misc_at
            if misc:
                self._misc_at = now + MISC_EVERY
        readable, writable = self._poll(sock, client.want_write(), timeout)
        if readable:
            self._read()
        if writable and client.socket() is not None:
            client.loop_write()
        if misc and client.socket() is not None:
            client.loop_misc()
        return readable

    def socket(self):
        return self.client.socket()

    def drop(self, retry_after: float) -> None:
        """Close the connection (its packet stream may be cut mid-way after an error) and
        connect again after `retry_after` seconds."""
        self._connected.clear()
        self._disconnect()
        self._reconnect_at = time.monotonic() + retry_after

    def goodbye(self) -> None:
        """Publish offline (retained) and disconnect, serving the socket until the broker
        has the status or a second has passed; without it the broker sends the will."""
        client = self.client
        if self.status_topic and client.socket() is not None and self._connected.is_set():
            info = client.publish(
                self.status_topic, json.dumps({"state": "offline"}), qos=1, retain=True
            )
            deadline = time.monotonic() + 1.0
            while not info.is_published() and time.monotonic() < deadline:
                sock = client.socket()
                if sock is None:
                    break
                self.service(sock, 0.05, misc=False)
        self._connected.clear()
        self._disconnect()

    def note_closed(self) -> None:
        """The owner's loop is over (or given up on): not connected any more."""
        self._connected.clear()

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

    def _disconnect(self) -> None:
        """Send DISCONNECT now (queued packets wait for the loop's write, and there may be
        no more loop) and close: the broker drops the will."""
        try:
            self.client.disconnect()
            self.client.loop_write()
        except Exception:  # the socket may already be gone
            pass

    # -- threaded mode -----------------------------------------------------------------

    def start(self) -> MqttSession:
        """Connect (raises OSError if the broker cannot be reached now) and serve the
        connection on paho's network thread, which reconnects with back-off."""
        if self.driven:
            raise RuntimeError("a driven session is served by its owner's loop")
        kwargs: dict[str, Any] = {}
        if self.protocol == mqtt.MQTTv5 and self.persistent:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY
            kwargs.update(clean_start=False, properties=props)
        self.client.connect(self.host, self.port, keepalive=self.keepalive, **kwargs)
        self.client.loop_start()
        self._started = True
        return self

    def close(self, timeout: float = 1.0) -> None:
        """Say offline (with a status topic), disconnect, stop paho's thread."""
        self._stopping.set()
        if self.status_topic and self._connected.is_set():
            try:
                self.client.publish(
                    self.status_topic, json.dumps({"state": "offline"}), qos=1, retain=True
                ).wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                pass
        self._connected.clear()
        self.client.disconnect()
        if self._started:
            self.client.loop_stop()
            self._started = False

    # -- paho callbacks (the loop's thread; they must not raise) -----------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            if (
                reason_code.value == UNSUPPORTED_PROTOCOL_VERSION
                and self.protocol == mqtt.MQTTv5
                and self.fall_back_to_311
            ):
                # paho builds the next CONNECT (its own reconnection) from these
                self.protocol = client._protocol = mqtt.MQTTv311
                client._clean_session = not self.persistent
                log.warning(
                    "%s: %s speaks no MQTT 5: MQTT 3.1.1 from now on (a message the broker "
                    "refuses then looks delivered)",
                    self.name,
                    self.url,
                )
                return
            self._note_failure(f"broker refused the connection: {reason_code}")
            return
        self._last_failure = None
        self._conn_delay = RECONNECT_MIN_DELAY
        limit = getattr(properties, "ReceiveMaximum", None) if properties else None
        self.broker_receive_maximum = int(limit) if limit else None
        with self._lock:
            self.epoch += 1
        if self.on_connected is not None:
            self.on_connected(flags, properties)
        # Subscribing here renews the subscriptions on every reconnect.
        self._subscribed.clear()
        if self._subscriptions:
            _rc, self._subscribe_mid = client.subscribe(self._subscriptions)
        log.info("%s connected (session present: %s)", self.name, flags.session_present)
        self._connected.set()
        if not self._subscriptions:
            self._online(client)

    def _on_puback(self, client, userdata, mid, reason_code, properties) -> None:
        """Threaded: note a PUBACK's failure reason code for the waiting publisher (paho
        marks the message published either way); a success clears an older entry."""
        if reason_code.is_failure:
            self._refused[mid] = reason_code
        elif self._refused:
            self._refused.pop(mid, None)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if mid == self._subscribe_mid:
            self._online(client)

    def _online(self, client) -> None:
        self._subscribed.set()
        if self.status_topic:
            body = json.dumps({"state": "online", "at": dt.datetime.now(dt.UTC).isoformat()})
            client.publish(self.status_topic, body, qos=1, retain=True)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        self._subscribed.clear()
        self._back_off()
        if was and not self._stopping.is_set():
            log.warning("%s lost the broker (%s); reconnecting", self.name, reason_code)

    def _back_off(self) -> None:
        """The next connection attempt after a failure: 0.1 s, doubling, at most 2 s."""
        self._reconnect_at = time.monotonic() + self._conn_delay
        self._conn_delay = min(self._conn_delay * 2, RECONNECT_MAX_DELAY)

    def _note_failure(self, text: str) -> None:
        if text != self._last_failure:
            log.error("%s: %s; retrying", self.name, text)
        self._last_failure = text


def _no_delay(client, userdata, sock) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass
