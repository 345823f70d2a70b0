"""The MQTT link to the broker (paho-mqtt 2.x, callback API version 2).

It owns one persistent session (``clean_session=False``, a stable client id), renews the
results subscription inside ``on_connect`` so every reconnect has it, publishes scans at
QoS 1, keeps the retained status topic (``online`` on connect, ``offline`` as last will
and on a clean stop) and reconnects with a backoff from 0.1 s capped at 2 s.

paho keeps unacknowledged messages only in memory; the outbox, not this module, is what
makes delivery reliable.  The agent is told about connects (``on_connected``) so it can
resend everything pending, about results (``on_result``) and about each PUBACK
(``on_published``: room in paho's queue again).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from scanner_agent import __version__
from scanner_agent.config import Config
from scanner_agent.outbox import Scan

log = logging.getLogger(__name__)

RECONNECT_MIN_DELAY = 0.1
RECONNECT_MAX_DELAY = 2
MAX_INFLIGHT = 100
MAX_QUEUED = 2000


class LinkError(RuntimeError):
    """The MQTT client could not be set up (bad TLS files and the like)."""


def _guarded(fn: Callable[..., None]) -> Callable[..., None]:
    """Log, never raise, from a paho callback: an exception would stop its network thread."""

    def wrapper(*args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("error in MQTT callback %s", fn.__name__)

    wrapper.__name__ = fn.__name__
    return wrapper


class Link:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.scans_topic = config.topic("scans")
        self.results_topic = config.topic("results")
        self.status_topic = config.topic("status")
        self.on_connected: Callable[[], None] = lambda: None
        self.on_result: Callable[[dict[str, Any]], None] = lambda result: None
        self.on_published: Callable[[], None] = lambda: None
        self.on_server_online: Callable[[], None] = lambda: None
        self.server_status_filter = f"{config.mqtt.topic_prefix}/server/+/status"
        self._connected = threading.Event()
        self._stopping = False
        self._last_failure: str | None = None
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        cfg = self.config
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        if cfg.mqtt.username is not None:
            client.username_pw_set(cfg.mqtt.username, cfg.mqtt.password)
        if cfg.mqtt.tls:
            try:
                client.tls_set(ca_certs=cfg.mqtt.ca_file)
            except (OSError, ValueError) as exc:
                raise LinkError(f"TLS setup failed: {exc}") from exc
        client.will_set(self.status_topic, self._status("offline"), qos=1, retain=True)
        client.reconnect_delay_set(min_delay=RECONNECT_MIN_DELAY, max_delay=RECONNECT_MAX_DELAY)
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.max_queued_messages_set(MAX_QUEUED)
        client.on_socket_open = _guarded(self._on_socket_open)
        client.on_connect = _guarded(self._on_connect)
        client.on_disconnect = _guarded(self._on_disconnect)
        client.on_message = _guarded(self._on_message)
        client.on_publish = _guarded(self._on_publish)
        if logging.getLogger(__name__).isEnabledFor(logging.DEBUG):
            client.enable_logger(logging.getLogger(__name__ + ".paho"))
        return client

    def _status(self, state: str) -> str:
        body: dict[str, Any] = {"state": state, "scanner_id": self.config.scanner_id}
        if state == "online":
            body["station"] = self.config.station
            body["agent_version"] = __version__
            body["since"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return json.dumps(body, separators=(",", ":"))

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def start(self) -> None:
        """Connect in the background; paho retries until the broker answers."""
        log.info("connecting to %s as %s", self.config.mqtt.url(), self.config.client_id)
        self.client.connect_async(
            self.config.mqtt.host, self.config.mqtt.port, keepalive=self.config.mqtt.keepalive
        )
        self.client.loop_start()

    def publish_scan(self, scan: Scan) -> bool:
        """Hand one scan to paho (QoS 1). False if paho would not take it now."""
        payload = json.dumps(scan.payload(), separators=(",", ":"), ensure_ascii=False)
        info = self.client.publish(self.scans_topic, payload, qos=1)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def stop(self, timeout: float = 2.0) -> None:
        """Publish ``offline`` (a clean disconnect does not fire the will) and disconnect."""
        self._stopping = True
        if self.connected:
            info = self.client.publish(self.status_topic, self._status("offline"), 1, True)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError) as exc:
                log.debug("offline status not confirmed: %s", exc)
        self.client.disconnect()
        self.client.loop_stop()
        self._connected.clear()

    # paho callbacks (network thread)

    def _on_socket_open(self, client, userdata, sock) -> None:
        # Nagle would hold small scan packets back by up to 40 ms.
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            message = f"broker refused the connection: {reason_code}"
            if message != self._last_failure:
                log.error("%s; retrying", message)
            self._last_failure = message
            return
        self._last_failure = None
        client.subscribe([(self.results_topic, 1), (self.server_status_filter, 1)])
        client.publish(self.status_topic, self._status("online"), qos=1, retain=True)
        log.info(
            "connected to %s (session present: %s)", self.config.mqtt.url(), flags.session_present
        )
        self._connected.set()
        self.on_connected()

    def _on_server_status(self, payload: bytes) -> None:
        try:
            state = json.loads(payload).get("state")
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            return
        if state == "online":
            # A server worker (re)subscribed: what we sent while none was listening may
            # have been dropped by the broker, so send the pending scans again now.
            log.info("a server worker is online")
            self.on_server_online()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected and not self._stopping:
            log.warning("lost the broker (%s); reconnecting", reason_code)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self.on_published()

    def _on_message(self, client, userdata, message) -> None:
        if message.topic != self.results_topic and mqtt.topic_matches_sub(
            self.server_status_filter, message.topic
        ):
            self._on_server_status(message.payload)
            return
        if message.topic != self.results_topic:
            log.debug("ignoring message on %s", message.topic)
            return
        try:
            result = json.loads(message.payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            log.warning("ignoring a result that is not JSON: %r", message.payload[:200])
            return
        if not isinstance(result, dict) or not isinstance(result.get("scan_id"), str):
            log.warning("ignoring a result without a scan_id: %r", message.payload[:200])
            return
        self.on_result(result)
