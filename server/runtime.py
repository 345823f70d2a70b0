"""What the long-running commands (serve, demo, ingest, the WSGI entry) start and tune:
the HTTP listener (`listen`), the MQTT side of a one-process server (`start_mqtt`,
`stop_mqtt`) and the garbage collector.

Python's cyclic garbage collector, left at its defaults, runs a full collection over every
object of a web process every so often; on the stock page that was the whole difference
between a p50 of 18 ms and a p95 of 50 ms (bench/bench_pages.py). After start-up we
freeze what exists (the app, templates, models: never garbage) and collect the young
generation less often. Only entry points call this; importing the package changes nothing.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("server")


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 50)


def listen(app, host: str, port: int, **options):
    """A waitress server bound to host:port (run it with `.run()`). A taken port or an
    unknown host raises `config.ConfigError`, before anything else is started."""
    import waitress

    from server.config import ConfigError

    try:
        return waitress.create_server(app, host=host, port=port, **options)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (use --port/--host)"
        ) from None


def start_mqtt(db, settings: dict, *, client_id: str | None = None) -> list:
    """The zero-setup MQTT side of `serve` and `demo`: the embedded broker when MQTT_URL is
    unset (or the broker already answering on 127.0.0.1:1883), and the ingest worker in
    threads. Returns what `stop_mqtt()` stops, last started first. A wrong MQTT_URL or
    INGEST_* setting raises `config.ConfigError` before anything is started."""
    from server.broker import ensure_local_broker
    from server.config import ConfigError
    from server.db import redact_url
    from server.ingest import IngestConfigError, IngestSettings, IngestWorker

    url = settings["MQTT_URL"]
    try:
        ingest_settings = IngestSettings.from_env(
            url or "mqtt://127.0.0.1:1883",
            prefix=settings["MQTT_TOPIC_PREFIX"],
            client_id=client_id,
        )
    except IngestConfigError as exc:
        raise ConfigError(str(exc)) from None
    parts: list = []
    if url is None:
        broker = ensure_local_broker()
        if broker is not None:
            parts.append(broker)
    else:
        print(f"MQTT broker: {redact_url(url)} (MQTT_URL)", flush=True)
    parts.append(IngestWorker(db, ingest_settings).start())
    return parts


def stop_mqtt(parts: list) -> None:
    for part in reversed(parts):
        try:
            part.stop()
        except Exception:  # stopping must go on with the other parts
            log.exception("stopping %s", type(part).__name__)
