"""The agent: reader -> outbox -> link, and results -> outbox ack -> feedback.

Three threads share the work:

- the reader thread turns every line into an outbox row (durable before anything else);
- the sender thread publishes what is due, oldest first: new scans at once, everything
  pending after each (re)connect, and any scan unanswered for ``resend_after`` seconds,
  always with its original ``scan_id``; at most ``max_in_flight`` scans are out and
  unanswered at a time, so a backlog does not overflow the broker's queues;
- paho's network thread delivers results, which delete the scan from the outbox and then
  give feedback.  Results for scan ids no longer in the outbox (answers to resends) are
  logged at debug level and otherwise ignored.

The main thread waits for a stop request (SIGTERM/SIGINT) or, with a reader that ends
(standard input at EOF), for the outbox to drain.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from scanner_agent.config import Config
from scanner_agent.feedback import Feedback
from scanner_agent.outbox import Outbox, OutboxError, Scan
from scanner_agent.readers import Reader

log = logging.getLogger(__name__)


class LinkLike(Protocol):
    on_connected: Callable[[], None]
    on_result: Callable[[dict[str, Any]], None]

    @property
    def connected(self) -> bool: ...

    def start(self) -> None: ...

    def publish_scan(self, scan: Scan) -> bool: ...

    def stop(self, timeout: float = 2.0) -> None: ...


class Agent:
    def __init__(
        self,
        config: Config,
        reader: Reader,
        outbox: Outbox,
        link: LinkLike,
        feedback: Feedback,
        *,
        clock: Callable[[], float] = time.time,
        batch: int = 500,
        max_in_flight: int = 200,
    ) -> None:
        self.config = config
        self.reader = reader
        self.outbox = outbox
        self.link = link
        self.feedback = feedback
        self.clock = clock
        self.batch = batch
        self.max_in_flight = max_in_flight
        self.tick = min(1.0, config.resend_after / 4)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._reader_done = threading.Event()
        self._failed: BaseException | None = None
        self._blocked = False
        link.on_connected = self._on_connected
        link.on_result = self._on_result
        if hasattr(link, "on_published"):
            link.on_published = self._on_published
        if hasattr(link, "on_server_online"):
            link.on_server_online = self._on_server_online

    # reader thread

    def _read_loop(self) -> None:
        try:
            for line in self.reader.lines():
                scan = self.outbox.add(line, source=self.reader.source, station=self.config.station)
                log.info("scan %s %r stored", scan.scan_id, line)
                self._wake.set()
                if self._stopping.is_set():
                    break
        except OutboxError as exc:
            log.error("%s", exc)
            self._failed = exc
        except Exception as exc:
            log.exception("reader failed")
            self._failed = exc
        finally:
            self._reader_done.set()

    # sender thread

    def _send_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.tick)
            self._wake.clear()
            if self._stopping.is_set():
                break
            try:
                self._send_due()
            except OutboxError as exc:
                log.error("%s", exc)
                self._failed = exc
                break

    def _send_due(self) -> None:
        if not self.link.connected:
            return
        now = self.clock()
        cutoff = now - self.config.resend_after
        # Flow control: a broker at its defaults queues 1,000 messages per subscriber and
        # drops the rest; keeping few scans unanswered avoids waiting for resend timeouts.
        room = self.max_in_flight - self.outbox.in_flight(cutoff)
        if room <= 0:
            self._blocked = True
            return
        due = self.outbox.due(cutoff, limit=min(self.batch, room))
        sent = []
        for scan in due:
            if not self.link.connected or not self.link.publish_scan(scan):
                break  # keep the order: the rest waits for the next round
            sent.append(scan.scan_id)
            if scan.attempts:
                log.info("resent scan %s (attempt %d)", scan.scan_id, scan.attempts + 1)
        self.outbox.mark_sent(sent, now)
        self._blocked = len(sent) < len(due) or len(due) == room
        if due and len(sent) == len(due) == self.batch:
            self._wake.set()

    # paho's network thread

    def _on_connected(self) -> None:
        pending = self.outbox.count()
        if pending:
            log.info("connected with %d scans pending; resending them in order", pending)
        self.outbox.reset_sent()
        self._wake.set()

    def _on_server_online(self) -> None:
        if self.outbox.count():
            log.info("server online: resending the pending scans")
            self.outbox.reset_sent()
            self._wake.set()

    def _on_published(self) -> None:
        if self._blocked:  # paho's queue was full; it has room again
            self._wake.set()

    def _on_result(self, result: dict[str, Any]) -> None:
        scan_id = result["scan_id"]
        scan = self.outbox.ack(scan_id)
        if scan is None:
            log.debug("result for scan %s which is not pending (already answered)", scan_id)
            return
        # Room for another scan in flight; the sender coalesces many wakes into one round.
        self._wake.set()
        log.info(
            "result for scan %s: %s%s",
            scan_id,
            result.get("status"),
            f" ({result.get('reason')})" if result.get("reason") else "",
        )
        self.feedback.show(result, scan)

    # main thread

    def run(self, stop: threading.Event) -> int:
        """Run until ``stop`` is set, or the reader ended and the outbox is empty."""
        reader_thread = threading.Thread(target=self._read_loop, name="reader", daemon=True)
        sender_thread = threading.Thread(target=self._send_loop, name="sender", daemon=True)
        self.link.start()
        sender_thread.start()
        reader_thread.start()
        announced = False
        while not stop.wait(0.2):
            if self._failed is not None:
                break
            if self._reader_done.is_set():
                pending = self.outbox.count()
                if not pending:
                    log.info("input ended and every scan is answered; stopping")
                    break
                if not announced:
                    log.info("input ended; waiting for results of %d scans", pending)
                    announced = True
        log.info("stopping")
        self._stopping.set()
        self._wake.set()
        self.reader.close()
        sender_thread.join(2)
        self.link.stop()
        reader_thread.join(1)
        if not reader_thread.is_alive():
            self.outbox.close()
        return 1 if self._failed is not None else 0
