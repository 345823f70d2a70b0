"""``python -m scanner_agent``: load the settings, build the parts, run until told to stop.

Exit status: 0 after a clean stop, 1 after a runtime failure (outbox unwritable),
2 for a configuration error (printed as one clear line, no traceback).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from scanner_agent.agent import Agent
from scanner_agent.config import Config, ConfigError, load, redacted
from scanner_agent.feedback import Feedback
from scanner_agent.link import Link, LinkError
from scanner_agent.outbox import Outbox, OutboxError
from scanner_agent.readers import Reader, RfidReader, SerialReader, StdinReader

log = logging.getLogger("scanner_agent")


def make_reader(config: Config) -> Reader:
    if config.uses_serial:
        assert config.serial_port is not None
        base: Reader = SerialReader(
            config.serial_port, config.baud, config.terminator, config.max_line
        )
    else:
        base = StdinReader(max_line=config.max_line)
    if config.reader == "rfid":
        return RfidReader(base, config.rfid_window)
    return base


def main(argv: list[str] | None = None) -> int:
    try:
        config = load(argv)
    except ConfigError as exc:
        print(f"scanner_agent: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log.info("starting with %s", redacted(config))
    try:
        outbox = Outbox(config.outbox_path)
        link = Link(config)
    except (OutboxError, LinkError) as exc:
        print(f"scanner_agent: {exc}", file=sys.stderr)
        return 2
    reader = make_reader(config)
    feedback = Feedback(
        config.feedback_good,
        config.feedback_bad,
        config.feedback_warn,
        color=config.color,
        device_write=reader.write,
    )
    agent = Agent(config, reader, outbox, link, feedback)
    pending = outbox.count()
    if pending:
        log.info("%d scans from an earlier run are waiting in the outbox", pending)

    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        log.info("received %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return agent.run(stop)


if __name__ == "__main__":
    sys.exit(main())
