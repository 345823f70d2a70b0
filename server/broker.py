"""The embedded MQTT broker of the zero-setup run (amqtt, MQTT 3.1.1, in-process).

`python -m server serve` starts it on 127.0.0.1:1883 when `MQTT_URL` is unset, so one
command gives the whole system. It runs in a daemon thread with its own asyncio loop and
listens on the loopback interface only.

What it is good for, checked against amqtt 0.12: QoS 1 both ways, retained messages (the
agents' status), persistent sessions (a worker or agent that reconnects with
clean_session=False gets the QoS 1 messages published while it was away). amqtt keeps
those messages only for *authenticated* sessions - it drops them for sessions its
anonymous plugin let in - so this module lets every local client in through its own
`LocalAuthPlugin`, which does not mark sessions anonymous.

amqtt 0.12 also sent every connecting client the retained messages of every other
client's subscriptions; `LocalBroker` sends a client those of its own only, as Mosquitto
does.

What it is not: durable (messages and sessions live in memory; the agents' outboxes
cover a restart), MQTT 5 (no shared subscriptions: run one ingest worker against it), or
secured (no credentials, no ACL; it binds to 127.0.0.1 only). Production uses Mosquitto;
see docs/deploy.md.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from dataclasses import dataclass

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 1883


class BrokerStartError(RuntimeError):
    """The embedded broker could not start (port taken, amqtt failure)."""


class LocalAuthPlugin(BaseAuthPlugin):
    """Lets every client of the loopback listener in, as an authenticated session.

    amqtt's AnonymousAuthPlugin flags sessions anonymous, and amqtt then drops QoS 1
    messages for them while they are offline - the one thing a persistent session is for.
    """

    @dataclass
    class Config:
        pass

    async def authenticate(self, *, session) -> bool:  # noqa: ARG002 - amqtt's signature
        return True


class LocalBroker(Broker):
    """amqtt's broker, with retained messages sent to a client for its own subscriptions
    only.

    amqtt 0.12 sends, to every client that connects, the retained messages matching every
    topic filter *any* client has subscribed to (its loop over the broker's whole
    subscription table, meant for a reconnecting session's own subscriptions): a stack
    light subscribed to `…/stations/RECV/andon` got the colours of every station a floor
    page subscribed to with `…/stations/#`, the last of them standing as its colour.
    Mosquitto sends retained messages for the filters of the SUBSCRIBE that asks; here a
    session gets those of the filters it holds itself, at the QoS it holds them with."""

    async def _publish_retained_messages_for_subscription(self, subscription, session) -> None:
        topic_filter, _qos = subscription
        held = [
            qos
            for subscriber, qos in self._subscriptions.get(topic_filter, ())
            if subscriber.client_id == session.client_id
        ]
        if held:
            await super()._publish_retained_messages_for_subscription(
                (topic_filter, held[0]), session
            )


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class EmbeddedBroker:
    """amqtt in a daemon thread with its own event loop: `start()`, `stop()`."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Broker | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def config(self) -> dict:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {f"{__name__}.LocalAuthPlugin": {}},
        }

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        # amqtt and its state machine log every transition at INFO: keep the console readable
        for name in ("amqtt", "transitions"):
            if logging.getLogger(name).level == logging.NOTSET:
                logging.getLogger(name).setLevel(logging.WARNING)
        self._thread = threading.Thread(target=self._run, name="embedded-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise BrokerStartError(f"embedded broker did not start within {timeout:g} s")
        if self._error is not None:
            raise BrokerStartError(f"embedded broker failed: {self._error}") from self._error
        log.info("embedded MQTT broker (amqtt) listening on %s", self.url)
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self._broker = LocalBroker(self.config(), loop=loop)
            loop.run_until_complete(self._broker.start())
        except BaseException as exc:  # reported to start()'s caller
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def stop(self, timeout: float = 5.0) -> None:
        loop, broker = self._loop, self._broker
        if loop is None or broker is None or loop.is_closed() or self._error is not None:
            return
        try:
            asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(timeout)
        except Exception as exc:  # a slow or failing shutdown must not block the exit
            log.warning("embedded broker shutdown: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
        log.info("embedded MQTT broker stopped")


def ensure_local_broker(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
) -> EmbeddedBroker | None:
    """Start the embedded broker unless something already answers at host:port.

    Returns the broker started, or None when an existing one is used (and says so).
    """
    if port_answers(host, port):
        log.warning(
            "a broker already answers on %s:%d; using it instead of the embedded one", host, port
        )
        print(f"Using the MQTT broker already answering at mqtt://{host}:{port}", flush=True)
        return None
    broker = EmbeddedBroker(host, port).start()
    print(f"Embedded MQTT broker on mqtt://{host}:{port} (set MQTT_URL to use another)", flush=True)
    return broker
