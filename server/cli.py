"""The command line: init-db, serve, ingest, dispatch, add-sink, mqtt-credentials, demo,
create-user, create-token, recount-stock, backup, restore, reason-codes.

Every command reads the same settings as the app (DATABASE_URL, ...). A user's mistake (a
wrong argument or setting, a missing file, a taken port) ends in ONE line on stderr and exit
status 2, never a traceback; a failure at run time (the database unreachable) is exit 1.
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


class UsageError(Exception):
    """A mistake of the user's; `main()` prints the message as one line and exits 2."""


class Parser(argparse.ArgumentParser):
    """argparse, but a wrong argument is one line (usage is one `--help` away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _db(settings: dict):
    return init_db(settings["DATABASE_URL"])


def _db_with_schema(settings: dict):
    """The database of a command that reads existing data: no tables is a mistake."""
    from server.models import User

    db = _db(settings)
    with db.connection_context():
        if not User.table_exists():
            raise UsageError(
                f"no Koordinator tables in {redact_url(settings['DATABASE_URL'])}: "
                "run `python -m server init-db` first (or check DATABASE_URL)"
            )
    return db


def _read_password() -> str:
    """The password of create-user: asked twice on a terminal, else a usage error."""
    if not sys.stdin.isatty():
        raise UsageError(
            "no password given and no terminal to ask on: use --password, set "
            "KOORDINATOR_PASSWORD, or --no-password for a badge-only operator"
        )
    try:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise UsageError("the two passwords differ")
    except EOFError:
        raise UsageError("no password entered") from None
    return password


def cmd_init_db(args, settings) -> int:
    db = _db(settings)
    for name in create_schema(db):
        print(f"migrated: {name}")
    print(f"schema ready in {redact_url(settings['DATABASE_URL'])}")
    return 0


def cmd_create_user(args, settings) -> int:
    from server import auth

    password = args.password
    if password is None and not args.no_password:
        password = os.environ.get("KOORDINATOR_PASSWORD") or _read_password()
    db = _db(settings)
    create_schema(db)
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

    db = _db_with_schema(settings)
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
    url = f"http://127.0.0.1:{args.port}/api/stock"
    print(f"  try: curl -H 'Authorization: Bearer {token}' {url}")
    return 0


def cmd_serve(args, settings) -> int:
    from server import create_app
    from server.runtime import listen, start_mqtt, stop_mqtt, tune_gc

    db = _db(settings)
    create_schema(db)
    app = create_app()
    http = listen(app, args.host, args.port, threads=args.threads, ident="koordinator")
    try:
        mqtt_parts = (
            [] if args.no_ingest else start_mqtt(app.extensions["koordinator.db"], settings)
        )
    except BaseException:
        http.close()
        raise
    if args.dispatch:
        ingest_url = None if args.no_ingest else settings["MQTT_URL"]
        mqtt_parts.append(
            _start_dispatcher(app.extensions["koordinator.db"], settings, ingest_url=ingest_url)
        )
    for part in mqtt_parts:
        if hasattr(part, "scanner_status"):
            # the stations page shows online/offline from the ingest's status table
            app.extensions["koordinator.ingest"] = part
    _stop_on_sigterm()
    tune_gc()
    print(f"Koordinator on http://{args.host}:{args.port}/  (API under /api)", flush=True)
    try:
        http.run()
    finally:
        http.close()
        stop_mqtt(mqtt_parts)
    return 0


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd, docker) ends the process the way Ctrl-C does: cleanly."""
    import signal

    def _raise(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _raise)


def cmd_ingest(args, settings) -> int:
    """Only the MQTT ingest worker (scale out: several of these with --shared-group)."""

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
    stop = _stopped_by_signals("ingest")
    from server.runtime import tune_gc

    tune_gc()
    dispatcher = (
        _start_dispatcher(db, settings, ingest_url=settings["MQTT_URL"]) if args.dispatch else None
    )
    try:
        IngestWorker(db, ingest_settings).run(stop)
    finally:
        if dispatcher is not None:
            dispatcher.stop()
    return 0


def _stopped_by_signals(what: str):
    """An event set by SIGTERM or SIGINT: the long-running command's loop ends on it."""
    import signal
    import threading

    stop = threading.Event()

    def request_stop(signum, frame):
        log.info("received %s; stopping the %s", signal.Signals(signum).name, what)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


def cmd_dispatch(args, settings) -> int:
    """Only the dispatcher: the event outbox to its sinks (docs/events.md). Several may run
    on PostgreSQL; on SQLite run one."""
    import os

    from server.dispatch import Dispatcher, DispatchSettings

    db = _db(settings)
    create_schema(db)
    try:
        dispatch_settings = DispatchSettings.from_env(os.environ, settings["PLANT_TIMEZONE"])
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    stop = _stopped_by_signals("dispatcher")
    print("Koordinator dispatcher running", flush=True)
    Dispatcher(db, dispatch_settings).run(stop)
    return 0


def _start_dispatcher(db, settings, *, ingest_url: str | None = None):
    """`serve --dispatch` / `ingest --dispatch`: the dispatcher as a thread, beside an
    ingest on `ingest_url` (None: none, or the embedded broker). Its MQTT sinks on the
    ingest's broker user would throw the ingest off in a loop on a Mosquitto that pins
    client ids to user names: said at start, with the fix."""
    import os

    from server.dispatch import Dispatcher, DispatchSettings, shared_user_warning

    dispatch_settings = DispatchSettings.from_env(os.environ, settings["PLANT_TIMEZONE"])
    clash = shared_user_warning(ingest_url, dispatch_settings.mqtt_url)
    if clash:
        log.warning("%s", clash)
    return Dispatcher(db, dispatch_settings).start()


def cmd_add_sink(args, settings) -> int:
    """An MQTT or andon sink of the dispatcher (webhooks are added with POST /api/webhooks):
    it starts with the events after the newest one now."""
    from server.core import alerts, andon
    from server.dispatch import add_sink
    from server.models import Sink

    db = _db_with_schema(settings)
    config = {k: v for k, v in (("url", args.url), ("prefix", args.prefix)) if v}
    types = args.types or {"andon": andon.TYPES, "alerts": alerts.EVENT_TYPES}.get(args.kind, ["*"])
    with db.connection_context():
        if Sink.get_or_none(Sink.name == args.name) is not None:
            print(f"a sink named {args.name!r} exists", file=sys.stderr)
            return 2
        add_sink(args.name, args.kind, config, list(types))
    print(f"sink {args.name} ({args.kind}) added; types: {', '.join(types)}")
    return 0


def cmd_mqtt_credentials(args, settings) -> int:
    """Mosquitto password file + ACL for the registered scanners and machines; new passwords
    printed once."""
    from server import mqtt_credentials as mc
    from server.core import locations
    from server.models import Machine, Scanner, Site

    prefix = settings["MQTT_TOPIC_PREFIX"]
    named_server = list(dict.fromkeys(args.server_user or []))
    named_dispatch = list(dict.fromkeys(args.dispatch_user or []))
    removed = list(dict.fromkeys(args.remove_user or []))
    for option, users in (("--server-user", named_server), ("--dispatch-user", named_dispatch)):
        for user in users:
            if not mc.SAFE_ID.match(user):
                raise UsageError(f"{option} {user!r} is not a valid user name")
            if user in removed:
                raise UsageError(f"{option} {user!r} is also a --remove-user")
    existing = mc.read_password_file(args.passwd)
    roles = mc.read_acl_roles(args.acl)
    # the server's and the dispatcher's users of an earlier run stay unless removed: a run
    # naming only some of them (`--site`, a new worker) must not lock the others out
    kept = {
        role: [
            u
            for u, r in roles.items()
            if r == role and u in existing and u not in removed
            if u not in named_server and u not in named_dispatch
        ]
        for role in ("server", "dispatch")
    }
    # one user per ingest worker: the broker makes the user name the client id
    server_users = named_server + kept["server"] or ["koordinator-server"]
    # the dispatcher's sinks: a user of their own, or they and the ingest of the same
    # process would throw each other off (one client id per user)
    dispatch_users = named_dispatch + kept["dispatch"] or [mc.DISPATCH_USER]
    for user in named_dispatch:
        if user in server_users:
            raise UsageError(
                f"--dispatch-user {user!r} is also a server user: the dispatcher needs a "
                "user of its own (the broker makes the user name the client id)"
            )
    for user in removed:
        if user not in existing:
            print(f"warning: --remove-user {user}: no such user in {args.passwd}", file=sys.stderr)
    if kept["server"] + kept["dispatch"]:
        print(
            f"kept from {args.passwd}: "
            + ", ".join(f"{role} user {u}" for role in kept for u in kept[role])
            + " (--remove-user NAME drops one)"
        )
    for path in (args.passwd, args.acl):
        # checked before the transaction: new passwords must not be stored unwritten
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise UsageError(f"cannot write {path}: {folder} is not a writable directory")
    site_codes = list(dict.fromkeys(code.strip().upper() for code in args.site or []))
    site_dir = _check_site_args(args, site_codes)
    db = _db(settings)
    create_schema(db)
    accounts: list[mc.Account] = []
    shown: list[tuple[str, str]] = []
    with db.connection_context(), db.atomic():
        active_sites = {s.code: s for s in Site.select().where(Site.active == True)}  # noqa: E712
        for code in site_codes:
            if code not in active_sites:
                known = ", ".join(sorted(active_sites)) or "none"
                print(f"error: no active site {code!r} (sites: {known})", file=sys.stderr)
                return 2
        scanners = list(Scanner.select().order_by(Scanner.id))
        taken = [s.id for s in scanners if s.id in server_users + dispatch_users]
        if taken:
            print(
                f"error: a scanner is called {taken[0]!r}; pick another --server-user "
                "or --dispatch-user",
                file=sys.stderr,
            )
            return 2
        # a user of the password file that is none of ours (added by hand, or a server
        # user whose ACL entry is gone): refused rather than dropped without a word
        ours = {s.id for s in scanners} | set(server_users) | set(dispatch_users)
        unknown = [
            u
            for u in existing
            if u not in ours
            and u not in removed
            and roles.get(u) != "scanner"  # a scanner removed since: its user goes
            and not u.startswith((mc.MACHINE_USER_PREFIX, mc.SITE_USER_PREFIX))
        ]
        if unknown:
            print(
                f"error: {args.passwd} has user(s) {', '.join(unknown)} that are neither "
                f"scanners, machines, sites nor server or dispatcher users in {args.acl}; "
                "name each with --server-user or --dispatch-user to keep it, or "
                "--remove-user to drop it (nothing written)",
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
        # machines that publish their own state: one broker user each, machine.<code>
        machine_codes = []
        for machine in Machine.select().where(Machine.active == True).order_by(Machine.code):  # noqa: E712
            user = f"{mc.MACHINE_USER_PREFIX}{machine.code}"
            if not mc.SAFE_ID.match(user):
                continue
            if args.rotate or not (machine.secret_hash or "").startswith("$7$"):
                password = mc.new_password()
                machine.secret_hash = mc.hash_password(password)
                Machine.update(secret_hash=machine.secret_hash).where(
                    Machine.id == machine.id
                ).execute()
                shown.append((user, password))
            accounts.append(mc.Account(user, machine.secret_hash))
            machine_codes.append(machine.code)
        # every site bridged before keeps its bridge user; the named ones are (re)written
        bridged = [
            code
            for code in sorted(active_sites)
            if code in site_codes or mc.site_user(code) in existing
        ]
        site_accounts = {a.user: a for a in accounts}
        sites = {}
        for code in bridged:
            station_ids = set(locations.station_ids_of_site(active_sites[code]))
            sids = [s.id for s in scanners if s.station_id in station_ids and s.id in scanner_ids]
            mcodes = [
                m.code
                for m in Machine.select().where(Machine.station.in_(station_ids or [0]))
                if m.code in machine_codes
            ]
            sites[code] = (sids, mcodes)
    site_files: list[tuple[str, str, str, str]] = []
    central_site_acl = []
    for code in bridged:
        sids, mcodes = sites[code]
        topics = mc.site_topics(prefix, sids, mcodes)
        user = mc.site_user(code)
        if code in site_codes:
            conf_path = os.path.join(site_dir, f"{code}.conf")
            old = mc.remote_password_in(conf_path)
            hashed = existing.get(user, "")
            if old and not args.rotate and mc.check_password(old, hashed):
                password = old
            else:
                password = mc.new_password()
                hashed = mc.hash_password(password)
                print(f"site {code}: new bridge password for {user} (in {conf_path})")
            install = args.site_install_dir or site_dir
            tls = None
            if args.bridge_cafile or args.bridge_capath:
                tls = mc.BridgeTLS(
                    args.bridge_cafile,
                    args.bridge_capath,
                    args.bridge_certfile,
                    args.bridge_keyfile,
                    args.bridge_tls_version,
                )
            conf = mc.site_broker_config(
                mc.SiteBroker(
                    site=code,
                    central=tuple(args.central),
                    password=password,
                    topics=topics,
                    passwd_path=os.path.join(install, f"{code}.passwd"),
                    acl_path=os.path.join(install, f"{code}.acl"),
                    listener=args.site_listener,
                    persistence_location=args.site_persistence,
                    tls=tls,
                )
            )
            site_passwd = mc.password_file(
                [site_accounts[s] for s in sids]
                + [site_accounts[f"{mc.MACHINE_USER_PREFIX}{m}"] for m in mcodes]
            )
            site_acl = mc.acl_file(sids, [], prefix, mcodes)
            site_files.append((code, conf, site_passwd, site_acl))
            if not sids:
                print(f"warning: site {code} has no scanners yet", file=sys.stderr)
        else:
            hashed = existing[user]
        central_site_acl.append(mc.central_site_acl(user, topics))
        accounts.append(mc.Account(user, hashed))
    server_accounts, server_shown = [], []
    for user in server_users + dispatch_users:
        if existing.get(user) and not args.new_server_password:
            server_hash = existing[user]
        else:
            password = os.environ.get("KOORDINATOR_MQTT_SERVER_PASSWORD") or mc.new_password()
            server_hash = mc.hash_password(password)
            server_shown.append((user, password))
        server_accounts.append(mc.Account(user, server_hash))
    accounts, shown = server_accounts + accounts, server_shown + shown
    mc.write_private(args.passwd, mc.password_file(accounts))
    acl = mc.acl_file(scanner_ids, server_users, prefix, machine_codes, dispatch_users)
    if central_site_acl:
        acl += "\n# each site's bridge: exactly its scanners' and machines' topics\n"
        acl += "\n".join(central_site_acl)
    mc.write_private(args.acl, acl)
    print(f"wrote {args.passwd} ({len(accounts)} users) and {args.acl}")
    for code, conf, site_passwd, site_acl in site_files:
        base = os.path.join(site_dir, code)
        mc.write_private(f"{base}.passwd", site_passwd)
        mc.write_private(f"{base}.acl", site_acl)
        mc.write_private(f"{base}.conf", conf)
        print(f"site {code}: wrote {base}.conf, {base}.passwd and {base}.acl")
    if shown:
        print("New passwords (shown once; only their hashes are kept):")
        for user, password in shown:
            print(f"  {user}  {password}")
    print("Reload Mosquitto to apply: systemctl reload mosquitto (or kill -HUP its pid)")
    if site_files:
        print("Restart each site's Mosquitto with its new .conf (bridge topics are read at start)")
    return 0


def _check_site_args(args, site_codes: list[str]) -> str:
    """The directory the site files go to; usage errors for the site options."""
    from server import mqtt_credentials as mc

    if not site_codes:
        return ""
    if not args.central:
        raise UsageError("--site needs --central HOST[:PORT] (the central broker's address)")
    for address in args.central:
        host, _, port = address.rpartition(":") if ":" in address else (address, "", "1883")
        if not host or not port.isdigit() or not 0 < int(port) < 65536 or " " in address:
            raise UsageError(f"--central {address!r}: give HOST or HOST:PORT")
    if bool(args.bridge_certfile) != bool(args.bridge_keyfile):
        raise UsageError("--bridge-certfile and --bridge-keyfile go together")
    if args.bridge_certfile and not (args.bridge_cafile or args.bridge_capath):
        raise UsageError("a client certificate needs TLS: give --bridge-cafile or --bridge-capath")
    listener = args.site_listener.split()
    if not 1 <= len(listener) <= 2 or not listener[0].isdigit():
        raise UsageError(f"--site-listener {args.site_listener!r}: give 'PORT [ADDRESS]'")
    for code in site_codes:
        if not mc.SAFE_ID.match(mc.site_user(code)):
            raise UsageError(f"--site {code!r} is not a site code")
    folder = os.path.abspath(args.site_dir or os.path.dirname(os.path.abspath(args.passwd)))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise UsageError(f"cannot write site files: {folder} is not a writable directory")
    return folder


def cmd_demo(args, settings) -> int:
    from server import demo

    return demo.run(args, settings)


def cmd_recount_stock(args, settings) -> int:
    from server.core.stock import rebuild

    db = _db_with_schema(settings)
    with db.connection_context():
        rows = rebuild(db)
    print(f"stock counters rebuilt: {rows} rows")
    return 0


def _sqlite_file(settings: dict, command: str) -> str:
    from server.db import sqlite_path

    url = settings["DATABASE_URL"]
    path = sqlite_path(url)
    if path is None and not url.startswith(("postgres://", "postgresql://")):
        raise DatabaseURLError(f"{redact_url(url)}: only sqlite:/// and postgresql://")
    if path is None:
        tool = "pg_dump" if command == "backup" else "pg_restore"
        raise UsageError(
            f"{command} is for SQLite; DATABASE_URL is PostgreSQL: use {tool} "
            "(docs/operations.md, Backup and restore)"
        )
    if path == ":memory:":
        raise UsageError(f"{command}: DATABASE_URL is an in-memory database")
    return path


def cmd_backup(args, settings) -> int:
    from server.backup import BackupError, backup

    path = _sqlite_file(settings, "backup")
    try:
        size = backup(path, args.file)
    except BackupError as exc:
        raise UsageError(str(exc)) from None
    print(f"backed up {path} to {args.file} ({size} bytes, mode 0600)")
    return 0


def cmd_restore(args, settings) -> int:
    from server.backup import BackupError, restore

    path = _sqlite_file(settings, "restore")
    try:
        kept = restore(args.file, path)
    except BackupError as exc:
        raise UsageError(str(exc)) from None
    print(f"restored {args.file} into {path}")
    if kept:
        print(f"the previous database (with its -wal, if any) is kept as {kept}")
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
    parser = Parser(prog="python -m server", description=__doc__)
    parser.add_argument(
        "--env-file",
        metavar="FILE",
        help="read settings from a systemd EnvironmentFile first (e.g. /etc/koordinator.env); "
        "its values win over the environment",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init-db", help="create the schema, apply pending migrations (idempotent)")
    sub.add_parser("migrate", help="the same as init-db: apply pending schema migrations")
    p = sub.add_parser("bootstrap", help="first run: create an admin and print a token")
    p.add_argument("--port", type=_port, default=8000, help="the port `serve` will use")
    p = sub.add_parser("serve", help="serve HTTP (waitress)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=8000)
    p.add_argument("--threads", type=_positive, default=8)
    p.add_argument("--no-ingest", action="store_true", help="HTTP only (ingest runs elsewhere)")
    p.add_argument(
        "--dispatch", action="store_true", help="also deliver events (the dispatcher as a thread)"
    )
    p = sub.add_parser("ingest", help="run the MQTT ingest worker only")
    p.add_argument("--client-id", help="stable MQTT client id (default from INGEST_CLIENT_ID)")
    p.add_argument("--shared-group", help="MQTT 5 shared subscription group (INGEST_SHARED_GROUP)")
    p.add_argument("--batch", type=_positive, help="scans per transaction at most (default 200)")
    p.add_argument("--mqtt5", action="store_true", help="MQTT 5 even without a shared group")
    p.add_argument(
        "--dispatch", action="store_true", help="also deliver events (the dispatcher as a thread)"
    )
    sub.add_parser("dispatch", help="deliver the event outbox to its sinks (docs/events.md)")
    p = sub.add_parser("add-sink", help="add an MQTT or andon sink to the dispatcher")
    p.add_argument("name")
    p.add_argument("kind", choices=("mqtt", "andon", "alerts"))
    p.add_argument(
        "--url", help="its broker (default: DISPATCH_MQTT_URL, else MQTT_URL, of the dispatcher)"
    )
    p.add_argument("--prefix", help="its topic prefix (default: MQTT_TOPIC_PREFIX)")
    p.add_argument(
        "--types", nargs="+", help="event types it takes (default: all; andon: those of a light)"
    )
    p = sub.add_parser("mqtt-credentials", help="write a Mosquitto password file and ACL")
    p.add_argument("--passwd", required=True, help="password file to write")
    p.add_argument("--acl", required=True, help="ACL file to write")
    p.add_argument(
        "--server-user",
        action="append",
        help="an ingest worker's user, one per worker (repeatable; those of an earlier run "
        "stay; none at all: koordinator-server)",
    )
    p.add_argument(
        "--dispatch-user",
        action="append",
        help="the dispatcher's user for its mqtt and andon sinks, one per dispatcher process "
        "(repeatable; those of an earlier run stay; none at all: koordinator-dispatch)",
    )
    p.add_argument(
        "--remove-user",
        action="append",
        help="drop this server or dispatcher user of an earlier run (repeatable; the others stay)",
    )
    p.add_argument(
        "--new-server-password",
        action="store_true",
        help="replace the server and dispatcher users' passwords",
    )
    p.add_argument("--rotate", action="store_true", help="new passwords for every scanner")
    p.add_argument("--scanner", action="append", help="new password for this scanner")
    p.add_argument(
        "--site",
        action="append",
        help="also write this site's broker files: <code>.conf (bridged), .passwd, .acl",
    )
    p.add_argument(
        "--central",
        action="append",
        metavar="HOST[:PORT]",
        help="the central broker the site bridges to (repeatable: fallbacks)",
    )
    p.add_argument("--site-dir", help="where the site files go (default: --passwd's directory)")
    p.add_argument(
        "--site-install-dir",
        help="where the site's .passwd and .acl will lie on the site broker (default: --site-dir)",
    )
    p.add_argument(
        "--site-listener", default="1883", help="the site broker's 'PORT [ADDRESS]' (1883)"
    )
    p.add_argument(
        "--site-persistence",
        default="/var/lib/mosquitto/",
        help="the site broker's persistence_location",
    )
    p.add_argument("--bridge-cafile", help="TLS to the central broker: its CA certificate")
    p.add_argument("--bridge-capath", help="TLS to the central broker: a CA directory")
    p.add_argument("--bridge-certfile", help="the bridge's client certificate (with TLS)")
    p.add_argument("--bridge-keyfile", help="the bridge's client key (with TLS)")
    p.add_argument("--bridge-tls-version", default="tlsv1.2", choices=("tlsv1.2", "tlsv1.3"))
    p = sub.add_parser("demo", help="a seeded plant, the server and simulated scanners")
    p.add_argument("--port", type=_port, default=8000)
    p.add_argument("--db", default="var/demo.db", help="SQLite file (recreated)")
    p.add_argument("--pace", type=float, default=1.5, help="seconds between scans")
    p.add_argument("--units", type=_positive, default=6, help="widgets to build")
    p = sub.add_parser("create-user", help="create a user")
    p.add_argument("username")
    p.add_argument("--role", default="admin", choices=("operator", "clerk", "supervisor", "admin"))
    p.add_argument(
        "--password", help="default: $KOORDINATOR_PASSWORD, else asked (on a terminal only)"
    )
    p.add_argument("--no-password", action="store_true", help="badge-only operator")
    p.add_argument("--badge", help="badge code scanned to sign in at a station")
    p = sub.add_parser("create-token", help="print a new API token for a user")
    p.add_argument("username")
    p.add_argument("--name", default="cli")
    sub.add_parser("recount-stock", help="rebuild stock counters from the items")
    p = sub.add_parser("backup", help="copy the SQLite database, consistent while it runs")
    p.add_argument("file", help="the backup file to write (mode 0600)")
    p = sub.add_parser("restore", help="replace the SQLite database by a backup (server stopped)")
    p.add_argument("file", help="a file written by `backup`")
    sub.add_parser("reason-codes", help="print docs/reason-codes.md")
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be 1 or more")
    return value


def _port(text: str) -> int:
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: a port is 1 to 65535")
    return value


COMMANDS = {
    "init-db": cmd_init_db,
    "migrate": cmd_init_db,
    "bootstrap": cmd_bootstrap,
    "serve": cmd_serve,
    "ingest": cmd_ingest,
    "dispatch": cmd_dispatch,
    "add-sink": cmd_add_sink,
    "mqtt-credentials": cmd_mqtt_credentials,
    "demo": cmd_demo,
    "create-user": cmd_create_user,
    "create-token": cmd_create_token,
    "recount-stock": cmd_recount_stock,
    "backup": cmd_backup,
    "restore": cmd_restore,
    "reason-codes": cmd_reason_codes,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.env_file:
            # into os.environ: the ingest reads its INGEST_* settings from there too
            os.environ.update(config_mod.read_env_file(args.env_file))
        settings = config_mod.from_env()
    except config_mod.ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings["LOG_LEVEL"], format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args, settings)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except config_mod.ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except DatabaseURLError as exc:
        print(f"configuration error: DATABASE_URL {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except pw.OperationalError as exc:
        print(f"database error ({redact_url(settings['DATABASE_URL'])}): {exc}", file=sys.stderr)
        return 1
