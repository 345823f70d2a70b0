"""Broker credentials for Mosquitto: a password file and an ACL for the registered scanners.

Each scanner logs in to the broker with its id as user name and its own password. The
password is generated here, printed once, and only its hash is kept (`Scanner.secret_hash`,
in Mosquitto's own `$7$` PBKDF2-SHA512 format), so the password file can be written again
at any time without knowing any password. The ACL lets a scanner write only its own
`scans` and `status` topics and read only its own `results`; the server's users (one per
ingest worker) read every scanner's scans and status and write every results topic; the
dispatcher's user (`koordinator-dispatch`, one per dispatcher process) writes the events
and the andon lights of its `mqtt` and `andon` sinks, and nothing else.

`BROKER_SECURITY` is the part of mosquitto.conf the ACL relies on: without
`use_username_as_clientid` a client may pick any client id, so a scanner's credentials could
connect with an ingest worker's id, and Mosquitto would drop the worker (and with a clean
session wipe its queued scans) - in a loop, no scan gets through. With it, every connection's
client id is its user name: a scanner can only ever replace its own session. See
docs/deploy.md and docs/decisions.md.

A site with its own broker (`--site`) gets a whole mosquitto.conf for it
(`site_broker_config`): its scanners' password file and ACL, and a bridge to the central
broker whose user `site.<code>` the central ACL allows exactly that site's topics
(`site_topics`, `central_site_acl`); docs/deploy.md "Sites and bridged brokers".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

#: Mosquitto 2's password hash: $7$<iterations>$<base64 salt>$<base64 PBKDF2-SHA512>
HASH_ITERATIONS = 1000
SALT_BYTES = 12
#: a scanner id must be a single, wildcard-free topic level to be a user name and a topic
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def hash_password(password: str, *, iterations: int = HASH_ITERATIONS, salt: bytes | None = None):
    """The password in Mosquitto's `$7$` format (what `mosquitto_passwd` writes)."""
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, hashed: str) -> bool:
    try:
        _, kind, iterations, salt, digest = hashed.split("$")
        if kind != "7":
            return False
        got = hashlib.pbkdf2_hmac(
            "sha512", password.encode("utf-8"), base64.b64decode(salt), int(iterations)
        )
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


def new_password() -> str:
    return secrets.token_urlsafe(24)


def read_password_file(path: str) -> dict[str, str]:
    """user -> hash of an existing Mosquitto password file ({} if there is none)."""
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                user, sep, hashed = line.strip().partition(":")
                if sep and user and not user.startswith("#"):
                    out[user] = hashed
    except FileNotFoundError:
        pass
    return out


def read_acl_roles(path: str) -> dict[str, str]:
    """user -> role of the users an earlier run wrote into the ACL at `path` ({} if there
    is none): `server` (an ingest worker's: it reads every scanner's scans), `dispatch` (the
    dispatcher's: it writes the events), `scanner` (it writes its own scans), `other`.
    Whatever the topic prefix was, so a changed prefix keeps the users; a user that reads
    the scans is a server user even if it also writes the events (as the ingest users of
    versions before the dispatcher's own user did)."""
    roles: dict[str, str] = {}
    user = None
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                words = line.split()
                if len(words) == 2 and words[0] == "user":
                    user = words[1]
                    roles.setdefault(user, "other")
                elif user and len(words) == 3 and words[0] == "topic":
                    access, topic = words[1], words[2]
                    if access == "read" and topic.endswith("/scanners/+/scans"):
                        roles[user] = "server"
                    elif access == "write" and topic.endswith("/events/#"):
                        # an ingest user of an earlier version wrote the events too
                        if roles[user] != "server":
                            roles[user] = "dispatch"
                    elif access == "write" and topic.endswith(f"/scanners/{user}/scans"):
                        roles[user] = "scanner"
    except FileNotFoundError:
        pass
    return roles


@dataclass(frozen=True)
class Account:
    user: str
    hashed: str


def password_file(accounts: Iterable[Account]) -> str:
    return "".join(f"{a.user}:{a.hashed}\n" for a in accounts)


#: mosquitto.conf lines the password file and ACL need (docs/deploy.md shows them in place)
BROKER_SECURITY = (
    "allow_anonymous false",
    # the client id of every connection is its user name: no client can take another's
    # session (an ingest worker's), whatever client id it sends
    "use_username_as_clientid true",
)


def broker_config(passwd: str, acl: str) -> str:
    """The security part of mosquitto.conf for the files written here, to follow a
    `listener` line: `use_username_as_clientid` is a listener option, and written before
    any listener Mosquitto 2.0 opens a default one on port 1883 for it."""
    return "\n".join([*BROKER_SECURITY, f"password_file {passwd}", f"acl_file {acl}", ""])


#: a machine's broker user name is its code behind this prefix (a scanner may have any id)
MACHINE_USER_PREFIX = "machine."


#: the dispatcher's broker user (DISPATCH_MQTT_URL) that `mqtt-credentials` writes by default
DISPATCH_USER = "koordinator-dispatch"


def acl_file(
    scanner_ids: Iterable[str],
    server_users: Iterable[str],
    prefix: str,
    machine_codes: Iterable[str] = (),
    dispatch_users: Iterable[str] = (),
) -> str:
    lines = [
        "# Koordinator broker ACL, written by `python -m server mqtt-credentials`.",
        "# Each scanner writes only its own scans/status and reads only its own results;",
        "# each machine writes only its own state and reads only its own results.",
        "",
    ]
    for user in server_users:
        lines += [
            f"user {user}",
            f"topic read {prefix}/scanners/+/scans",
            f"topic read {prefix}/scanners/+/status",
            f"topic write {prefix}/scanners/+/results",
            f"topic write {prefix}/server/+/status",
            f"topic read {prefix}/machines/+/state",
            f"topic write {prefix}/machines/+/results",
            "",
        ]
    for user in dispatch_users:
        # the dispatcher's MQTT and andon sinks (docs/events.md), retained flags and
        # lights included: an MQTT 5 broker refuses what its ACL does not allow, and the
        # sink retries it for good. Not an ingest user's: the sinks on an ingest's user
        # and the ingest would throw each other off (one client id per user).
        lines += [
            f"user {user}",
            f"topic write {prefix}/events/#",
            f"topic write {prefix}/stations/+/andon/#",
            "",
        ]
    for code in machine_codes:
        lines += [
            f"user {MACHINE_USER_PREFIX}{code}",
            f"topic write {prefix}/machines/{code}/state",
            f"topic read {prefix}/machines/{code}/results",
            "",
        ]
    for sid in scanner_ids:
        lines += [
            f"user {sid}",
            f"topic write {prefix}/scanners/{sid}/scans",
            f"topic write {prefix}/scanners/{sid}/status",
            f"topic read {prefix}/scanners/{sid}/results",
            f"topic read {prefix}/server/+/status",
            "",
        ]
    return "\n".join(lines)


def write_private(path: str, text: str) -> None:
    """Write `text` to `path`, readable by its owner only (the broker's user reads it)."""
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


# --- sites: a site broker bridged to the central one ----------------------------------------

#: a site's bridge logs in to the central broker as this prefix + the site's code
SITE_USER_PREFIX = "site."
#: the bridge's connection name, in the site broker's logs and notification topic
BRIDGE_NAME = "koordinator-central"


def site_user(code: str) -> str:
    return f"{SITE_USER_PREFIX}{code}"


@dataclass(frozen=True)
class SiteTopics:
    """The topics a site's bridge carries: `out` site -> central, `into` central -> site.
    Topics keep the plant's prefix unchanged (no site level): scanner ids and machine codes
    are unique over all sites, and one ingest subscription serves every site."""

    out: tuple[str, ...]
    into: tuple[str, ...]


def site_topics(prefix: str, scanner_ids: Iterable[str], machine_codes: Iterable[str] = ()):
    out: list[str] = []
    into: list[str] = []
    for sid in scanner_ids:
        out += [f"{prefix}/scanners/{sid}/scans", f"{prefix}/scanners/{sid}/status"]
        into.append(f"{prefix}/scanners/{sid}/results")
    for code in machine_codes:
        out.append(f"{prefix}/machines/{code}/state")
        into.append(f"{prefix}/machines/{code}/results")
    # the ingest workers' retained online/offline, which the agents show
    into.append(f"{prefix}/server/+/status")
    return SiteTopics(tuple(out), tuple(into))


def central_site_acl(user: str, topics: SiteTopics) -> str:
    """The central ACL's entry for a site's bridge: it may write exactly the site's outgoing
    topics and read exactly its incoming ones."""
    lines = [f"user {user}"]
    lines += [f"topic write {t}" for t in topics.out]
    lines += [f"topic read {t}" for t in topics.into]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BridgeTLS:
    """TLS towards the central broker: `cafile` or `capath` to check its certificate,
    `certfile` + `keyfile` when it asks for a client certificate."""

    cafile: str | None = None
    capath: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    version: str = "tlsv1.2"

    def lines(self) -> list[str]:
        out = []
        for key in ("cafile", "capath", "certfile", "keyfile"):
            value = getattr(self, key)
            if value:
                out.append(f"bridge_{key} {value}")
        out.append(f"bridge_tls_version {self.version}")
        return out


@dataclass(frozen=True)
class SiteBroker:
    """What a site broker's mosquitto.conf needs (`site_broker_config`)."""

    site: str
    central: tuple[str, ...]  # host[:port] of the central broker, several for failover
    password: str  # the bridge user's, in clear: the file is the site broker's (mode 0600)
    topics: SiteTopics
    passwd_path: str
    acl_path: str
    listener: str = "1883"  # "port [address]"
    persistence_location: str = "/var/lib/mosquitto/"
    tls: BridgeTLS | None = None


def site_broker_config(site: SiteBroker) -> str:
    user = site_user(site.site)
    lines = [
        f"# Koordinator site broker of site {site.site}, written by",
        f"# `python -m server mqtt-credentials --site {site.site}`; see docs/deploy.md.",
        "# Its scanners log in here; the bridge below carries their scans to the central",
        "# broker and the answers back. Written again when scanners are added: restart",
        "# Mosquitto then (bridge topics are read at start only).",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {site.passwd_path}",
        f"acl_file {site.acl_path}",
        "",
        f"listener {site.listener}",
        "use_username_as_clientid true",
        "",
        "persistence true",
        f"persistence_location {site.persistence_location}",
        "autosave_interval 30",
        "max_inflight_messages 1000",
        "max_queued_messages 100000",
        "set_tcp_nodelay true",
        "",
        f"connection {BRIDGE_NAME}",
        f"address {' '.join(site.central)}",
        "bridge_protocol_version mqttv311",
        f"remote_clientid {user}",
        f"remote_username {user}",
        f"remote_password {site.password}",
        f"local_clientid bridge.{site.site}",
        # the central broker keeps the bridge's subscriptions and queues the answers while
        # the link is down; the site broker queues the scans for it likewise
        "cleansession false",
        "local_cleansession false",
        # no unsubscribe requests for the `out` topics: the ACL would refuse them anyway
        "bridge_attempt_unsubscribe false",
        "start_type automatic",
        "restart_timeout 2 30",
        "keepalive_interval 30",
        # the bridge's state on the site broker only ($SYS/broker/connection/...)
        "notifications true",
        "notifications_local_only true",
    ]
    if site.tls is not None:
        lines += site.tls.lines()
    lines += [f"topic {t} out 1" for t in site.topics.out]
    lines += [f"topic {t} in 1" for t in site.topics.into]
    return "\n".join(lines) + "\n"


def remote_password_in(conf_path: str) -> str | None:
    """The bridge password an earlier run wrote into a site broker's config, if any."""
    try:
        with open(conf_path, encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.strip().partition(" ")
                if key == "remote_password" and value:
                    return value.strip()
    except FileNotFoundError:
        pass
    return None
