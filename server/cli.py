"""The command line: init-db, serve, ingest, mqtt-credentials, demo, create-user, create-token,
recount-stock, reason-codes.

Every command reads the same settings as the app (DATABASE_URL, ...), prints a clear
message and exits with 2 on bad input, never with a traceback for a user's mistake.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys

import peewee as pw

from server import config as config_mod
from server.db import DatabaseURLError, create_schema, init_db, redact_url

log = logging.getLogger("server")


def _db(settings: dict):
    return init_db(settings["DATABASE_URL"])


def cmd_init_db(args, settings) -> int:
    db = _db(settings)
    create_schema(db)
    print(f"schema ready in {redact_url(settings['DATABASE_URL'])}")
    return 0


def cmd_create_user(args, settings) -> int:
    from server import auth

    db = _db(settings)
    create_schema(db)
    password = args.password
    if password is None and not args.no_password:
        password = os.environ.get("KOORDINATOR_PASSWORD") or getpass.getpass("Password: ")
    try:
        with db.connection_context(), db.atomic():
            user = auth.create_user(args.username, args.role, password, badge=args.badge)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except pw.IntegrityError:
        print(f"error: user {args.username} or badge {args.badge} exists", file=sys.stderr)
        return 2
    print(f"user {user.username} ({user.role}) created")
    return 0


def cmd_create_token(args, settings) -> int:
    from server import auth
    from server.models import User

    db = _db(settings)
    with db.connection_context():
        user = User.get_or_none(User.username == args.username)
        if user is None:
            print(f"error: no user {args.username}", file=sys.stderr)
            return 2
        token = auth.create_token(user, args.name)
    print(token)
    return 0


def cmd_bootstrap(args, settings) -> int:
    """First run: an admin with a one-time password and a token, printed once."""
    import secrets

    from server import auth
    from server.models import User

    db = _db(settings)
    create_schema(db)
    with db.connection_context():
        if User.select().where(User.role == "admin").exists():
            print("Users exist. Sign in with yours, or get a token with:")
            print("  .venv/bin/python -m server create-token <username>")
            return 0
        if settings["ENV_MODE"] == "production":
            print(
                "error: no admin yet; create one with `python -m server create-user`",
                file=sys.stderr,
            )
            return 2
        password = secrets.token_urlsafe(12)
        with db.atomic():
            user = auth.create_user("admin", "admin", password)
            token = auth.create_token(user, "bootstrap")
    print("First run: created user 'admin' (shown once, change it for real use)")
    print(f"  password: {password}")
    print(f"  API token: {token}")
    print(f"  try: curl -H 'Authorization: Bearer {token}' http://127.0.0.1:8000/api/stock")
    return 0


def cmd_serve(args, settings) -> int:
    import waitress

    from server import create_app

    db = _db(settings)
    create_schema(db)
    app = create_app()
    mqtt_parts = [] if args.no_ingest else start_mqtt(app.extensions["koordinator.db"], settings)
    for part in mqtt_parts:
        if hasattr(part, "scanner_status"):
            # the stations page shows online/offline from the ingest's status table
            app.extensions["koordinator.ingest"] = part
    _stop_on_sigterm()
    from server.runtime import tune_gc

    tune_gc()
    print(f"Koordinator on http://{args.host}:{args.port}/  (API under /api)", flush=True)
    try:
        waitress.serve(
            app, host=args.host, port=args.port, threads=args.threads, ident="koordinator"
        )
    finally:
        stop_mqtt(mqtt_parts)
    return 0


def start_mqtt(db, settings: dict, *, client_id: str | None = None) -> list:
    """The zero-setup MQTT side of `serve`: the embedded broker when MQTT_URL is unset (or
    the broker already answering on 127.0.0.1:1883), and the ingest worker in threads.
    Returns what `stop_mqtt()` stops, last started first."""
    from server.broker import ensure_local_broker
    from server.ingest import IngestSettings, IngestWorker

    parts: list = []
    url = settings["MQTT_URL"]
    if url is None:
        broker = ensure_local_broker()
        if broker is not None:
            parts.append(broker)
        url = "mqtt://127.0.0.1:1883"
    else:
        print(f"MQTT broker: {redact_url(url)} (MQTT_URL)", flush=True)
    ingest_settings = IngestSettings.from_env(
        url, prefix=settings["MQTT_TOPIC_PREFIX"], client_id=client_id
    )
    worker = IngestWorker(db, ingest_settings).start()
    parts.append(worker)
    return parts


def stop_mqtt(parts: list) -> None:
    for part in reversed(parts):
        try:
            part.stop()
        except Exception:  # stopping must go on with the other parts
            log.exception("stopping %s", type(part).__name__)


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd, docker) ends the process the way Ctrl-C does: cleanly."""
    import signal

    def _raise(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _raise)


def cmd_ingest(args, settings) -> int:
    """Only the MQTT ingest worker (scale out: several of these with --shared-group)."""
    import signal
    import threading

    from server.ingest import IngestConfigError, IngestSettings, IngestWorker

    db = _db(settings)
    create_schema(db)
    try:
        ingest_settings = IngestSettings.from_env(
            settings["MQTT_URL"],
            prefix=settings["MQTT_TOPIC_PREFIX"],
            client_id=args.client_id,
            shared_group=args.shared_group,
            batch_size=args.batch,
            mqtt5=True if args.mqtt5 else None,
        )
    except IngestConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def request_stop(signum, frame):
        log.info("received %s; stopping the ingest", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    from server.runtime import tune_gc

    tune_gc()
    IngestWorker(db, ingest_settings).run(stop)
    return 0


def cmd_mqtt_credentials(args, settings) -> int:
    """Mosquitto password file + ACL for the registered scanners; new passwords printed once."""
    from server import mqtt_credentials as mc
    from server.models import Scanner

    prefix = settings["MQTT_TOPIC_PREFIX"]
    # one user per ingest worker: the broker makes the user name the client id
    server_users = list(dict.fromkeys(args.server_user or ["koordinator-server"]))
    for user in server_users:
        if not mc.SAFE_ID.match(user):
            print(f"error: --server-user {user!r} is not a valid user name", file=sys.stderr)
            return 2
    db = _db(settings)
    create_schema(db)
    accounts: list[mc.Account] = []
    shown: list[tuple[str, str]] = []
    with db.connection_context(), db.atomic():
        scanners = list(Scanner.select().order_by(Scanner.id))
        taken = [s.id for s in scanners if s.id in server_users]
        if taken:
            print(
                f"error: a scanner is called {taken[0]!r}; pick another --server-user",
                file=sys.stderr,
            )
            return 2
        scanner_ids = []
        for scanner in scanners:
            if not mc.SAFE_ID.match(scanner.id):
                print(
                    f"warning: scanner {scanner.id!r} skipped: its id cannot be an MQTT user "
                    "and topic level (use letters, digits, _ . -)",
                    file=sys.stderr,
                )
                continue
            rotate = args.rotate or scanner.id in (args.scanner or [])
            if rotate or not (scanner.secret_hash or "").startswith("$7$"):
                password = mc.new_password()
                scanner.secret_hash = mc.hash_password(password)
                Scanner.update(secret_hash=scanner.secret_hash).where(
                    Scanner.id == scanner.id
                ).execute()
                shown.append((scanner.id, password))
            accounts.append(mc.Account(scanner.id, scanner.secret_hash))
            scanner_ids.append(scanner.id)
    existing = mc.read_password_file(args.passwd)
    server_accounts, server_shown = [], []
    for user in server_users:
        if existing.get(user) and not args.new_server_password:
            server_hash = existing[user]
        else:
            password = os.environ.get("KOORDINATOR_MQTT_SERVER_PASSWORD") or mc.new_password()
            server_hash = mc.hash_password(password)
            server_shown.append((user, password))
        server_accounts.append(mc.Account(user, server_hash))
    accounts, shown = server_accounts + accounts, server_shown + shown
    mc.write_private(args.passwd, mc.password_file(accounts))
    mc.write_private(args.acl, mc.acl_file(scanner_ids, server_users, prefix))
    print(f"wrote {args.passwd} ({len(accounts)} users) and {args.acl}")
    if shown:
        print("New passwords (shown once; only their hashes are kept):")
        for user, password in shown:
            print(f"  {user}  {password}")
    print("Reload Mosquitto to apply: systemctl reload mosquitto (or kill -HUP its pid)")
    return 0


def cmd_demo(args, settings) -> int:
    from server import demo

    return demo.run(args, settings)


def cmd_recount_stock(args, settings) -> int:
    from server.core.stock import rebuild

    db = _db(settings)
    with db.connection_context():
        rows = rebuild(db)
    print(f"stock counters rebuilt: {rows} rows")
    return 0


def cmd_reason_codes(args, settings) -> int:
    from server.core.reasons import CONFIGURABLE_CHECKS, REASONS

    print(reason_codes_markdown(REASONS, CONFIGURABLE_CHECKS), end="")
    return 0


def reason_codes_markdown(reasons, checks) -> str:
    lines = [
        "# Reason codes",
        "",
        "Generated by `python -m server reason-codes`; a test keeps this file equal to",
        "`server/core/reasons.py`. Codes are stable: never renamed, never reused.",
        "",
        "| code | worker message | when | station policy |",
        "|---|---|---|---|",
    ]
    for code, (message, when) in reasons.items():
        policy = f"configurable, default {checks[code]}" if code in checks else "always rejects"
        lines.append(f"| `{code}` | {message} | {when} | {policy} |")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m server", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init-db", help="create the schema (idempotent)")
    sub.add_parser("bootstrap", help="first run: create an admin and print a token")
    p = sub.add_parser("serve", help="serve HTTP (waitress)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--no-ingest", action="store_true", help="HTTP only (ingest runs elsewhere)")
    p = sub.add_parser("ingest", help="run the MQTT ingest worker only")
    p.add_argument("--client-id", help="stable MQTT client id (default from INGEST_CLIENT_ID)")
    p.add_argument("--shared-group", help="MQTT 5 shared subscription group (INGEST_SHARED_GROUP)")
    p.add_argument("--batch", type=int, help="scans per transaction at most (default 200)")
    p.add_argument("--mqtt5", action="store_true", help="MQTT 5 even without a shared group")
    p = sub.add_parser("mqtt-credentials", help="write a Mosquitto password file and ACL")
    p.add_argument("--passwd", required=True, help="password file to write")
    p.add_argument("--acl", required=True, help="ACL file to write")
    p.add_argument(
        "--server-user",
        action="append",
        help="an ingest worker's user, one per worker (repeatable; default koordinator-server)",
    )
    p.add_argument("--new-server-password", action="store_true", help="replace its password")
    p.add_argument("--rotate", action="store_true", help="new passwords for every scanner")
    p.add_argument("--scanner", action="append", help="new password for this scanner")
    p = sub.add_parser("demo", help="a seeded plant, the server and simulated scanners")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--db", default="var/demo.db", help="SQLite file (recreated)")
    p.add_argument("--pace", type=float, default=1.5, help="seconds between scans")
    p.add_argument("--units", type=int, default=6, help="widgets to build")
    p = sub.add_parser("create-user", help="create a user")
    p.add_argument("username")
    p.add_argument("--role", default="admin", choices=("operator", "supervisor", "admin"))
    p.add_argument("--password", help="default: $KOORDINATOR_PASSWORD, else asked")
    p.add_argument("--no-password", action="store_true", help="badge-only operator")
    p.add_argument("--badge", help="badge code scanned to sign in at a station")
    p = sub.add_parser("create-token", help="print a new API token for a user")
    p.add_argument("username")
    p.add_argument("--name", default="cli")
    sub.add_parser("recount-stock", help="rebuild stock counters from the items")
    sub.add_parser("reason-codes", help="print docs/reason-codes.md")
    return parser


COMMANDS = {
    "init-db": cmd_init_db,
    "bootstrap": cmd_bootstrap,
    "serve": cmd_serve,
    "ingest": cmd_ingest,
    "mqtt-credentials": cmd_mqtt_credentials,
    "demo": cmd_demo,
    "create-user": cmd_create_user,
    "create-token": cmd_create_token,
    "recount-stock": cmd_recount_stock,
    "reason-codes": cmd_reason_codes,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = config_mod.from_env()
    except config_mod.ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings["LOG_LEVEL"], format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args, settings)
    except DatabaseURLError as exc:
        print(f"configuration error: DATABASE_URL {exc}", file=sys.stderr)
        return 2
    except pw.OperationalError as exc:
        print(f"database error ({redact_url(settings['DATABASE_URL'])}): {exc}", file=sys.stderr)
        return 1
