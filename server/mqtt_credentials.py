"""Broker credentials for Mosquitto: a password file and an ACL for the registered scanners.

Each scanner logs in to the broker with its id as user name and its own password. The
password is generated here, printed once, and only its hash is kept (`Scanner.secret_hash`,
in Mosquitto's own `$7$` PBKDF2-SHA512 format), so the password file can be written again
at any time without knowing any password. The ACL lets a scanner write only its own
`scans` and `status` topics and read only its own `results`; the server's users (one per
ingest worker) read every scanner's scans and status and write every results topic.

`BROKER_SECURITY` is the part of mosquitto.conf the ACL relies on: without
`use_username_as_clientid` a client may pick any client id, so a scanner's credentials could
connect with an ingest worker's id, and Mosquitto would drop the worker (and with a clean
session wipe its queued scans) - in a loop, no scan gets through. With it, every connection's
client id is its user name: a scanner can only ever replace its own session. See
docs/deploy.md and docs/decisions.md.
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


def acl_file(
    scanner_ids: Iterable[str],
    server_users: Iterable[str],
    prefix: str,
    machine_codes: Iterable[str] = (),
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
