"""Users, passwords, API tokens, signing in and browser sessions.

Passwords are scrypt-hashed (werkzeug); tokens are random 256-bit strings of which only
the SHA-256 is stored, so a stolen database gives no usable token. An unknown, revoked or
ownerless token answers exactly like a wrong one.

Signing in (`sign_in`) takes as long for an unknown user name, an inactive user or a user
without a password as for a wrong password (a dummy hash is checked), is throttled per
user name, per address and per both (`LoginThrottle` rows, so every web worker shares
them) and is audited (`LoginAttempt` rows and the `koordinator.auth` log).

Throttle (server/core/throttle.py): each key allows some failures (`FREE_FAILURES`); every
failure after that locks the key for 30 s, doubling up to 15 min. A lock always ends by
itself, a failure older than an hour is forgotten, and a success clears the user name's
counters (not the
address's: one own account must not reset an attacker's address). During a lock even the
right password is refused, without being checked, so a lock is no oracle.

A browser session holds the user id, the user's `session_version`, a fingerprint of the
user's password hash and role, and the sign-in time (`session_data`); `session_user`
accepts it only while all still match and the sign-in is younger than the role's
lifetime: so signing out (which raises `session_version`), a new password, a new role or
deactivation end every session of that user on the next request.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import secrets
import time
from collections.abc import Mapping

from werkzeug.security import check_password_hash, generate_password_hash

from server.core import throttle
from server.core.throttle import FORGET_AFTER as FORGET_AFTER
from server.core.throttle import LOCK_FIRST as LOCK_FIRST
from server.core.throttle import LOCK_MAX as LOCK_MAX
from server.models import ApiToken, LoginAttempt, User, database_proxy, utcnow

log = logging.getLogger("koordinator.auth")

#: ordered: a route needing a role admits that role and those after it. A clerk receives
#: goods and prints labels (items, label templates, sheets) without planning rights
ROLES = ("operator", "clerk", "supervisor", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
TOKEN_PREFIX = "kt_"


def has_role(user: User, needed: str) -> bool:
    return RANK.get(user.role, -1) >= RANK[needed]


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def create_user(
    username: str, role: str, password: str | None = None, badge: str | None = None
) -> User:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if password is not None and len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    return User.create(
        username=username,
        role=role,
        badge=badge,
        password_hash=hash_password(password) if password else None,
    )


def check_password(user: User, password: str) -> bool:
    return bool(user.password_hash) and check_password_hash(user.password_hash, password)


# --- signing in -----------------------------------------------------------------------------

#: failures allowed before a lock, per key kind
FREE_FAILURES = {"pair": 5, "addr": 20, "user": 50}
AUDIT_DAYS = 90
#: longer passwords are refused without hashing them (no hashing of megabytes)
MAX_PASSWORD = 1024


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(16))


class SignIn:
    """The outcome of a sign-in: `user` when it succeeded, else `retry_after` seconds
    when throttled (0: a plain wrong user name or password)."""

    def __init__(self, user: User | None, retry_after: int = 0):
        self.user = user
        self.retry_after = retry_after


def _keys(username: str, address: str) -> dict[str, str]:
    name = username.strip().lower()[:64]
    return {"pair": f"pair:{name}|{address}", "addr": f"addr:{address}", "user": f"user:{name}"}


def _audit(username: str, user: User | None, address: str, result: str, now) -> None:
    LoginAttempt.create(
        at=now,
        username=username[:64],
        user_id=user.id if user else None,
        address=address,
        result=result,
    )
    level = logging.INFO if result == "ok" else logging.WARNING
    log.log(level, "sign-in %s: user=%r address=%s", result, username[:64], address)


def _failure(user: User | None) -> str:
    if user is None:
        return "unknown_user"
    if not user.active:
        return "inactive"
    return "wrong_password" if user.password_hash else "no_password"


def sign_in(username: str, password: str, address: str) -> SignIn:
    """Check a user name and password from `address`, throttled and audited."""
    address = (address or "unknown")[:64]
    lookup = username if username and "\x00" not in username else None
    username = username.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL
    now = utcnow()
    keys = _keys(username, address)
    with database_proxy.atomic():
        wait = throttle.locked_for(keys.values(), now)
        if wait:
            _audit(username, None, address, "throttled", now)
            return SignIn(None, wait)
    user = User.get_or_none(User.username == lookup) if lookup else None
    usable = user is not None and user.active and bool(user.password_hash)
    # the same scrypt work whether or not the user exists, is active or has a password
    stored = user.password_hash if usable else _dummy_hash()
    ok = check_password_hash(stored, password[:MAX_PASSWORD]) and len(password) <= MAX_PASSWORD
    ok = ok and usable
    with database_proxy.atomic():
        if ok:
            throttle.clear([keys["pair"], keys["user"]])
            LoginAttempt.delete().where(
                LoginAttempt.at < now - dt.timedelta(days=AUDIT_DAYS)
            ).execute()
            _audit(username, user, address, "ok", now)
            return SignIn(user)
        throttle.count_failure(
            database_proxy, {key: FREE_FAILURES[kind] for kind, key in keys.items()}, now
        )
        result = _failure(user)
        _audit(username, user, address, result, now)
    return SignIn(None)


# --- browser sessions -----------------------------------------------------------------------


def _fingerprint(user: User) -> str:
    return hashlib.sha256(f"{user.password_hash}|{user.role}".encode()).hexdigest()[:16]


def session_data(user: User) -> dict:
    """What a browser session keeps of a signed-in user."""
    return {
        "user_id": user.id,
        "sv": user.session_version,
        "fp": _fingerprint(user),
        "iat": int(time.time()),
    }


def session_lifetime(user: User, config: Mapping) -> int:
    """Seconds a sign-in lasts: operators' (the floor's) shorter than the office's."""
    hours = config["FLOOR_SESSION_HOURS"] if user.role == "operator" else config["SESSION_HOURS"]
    return int(hours) * 3600


def session_user(session: Mapping, config: Mapping) -> User | None:
    """The user of a browser session, or None when it has ended (see module doc)."""
    user_id, iat = session.get("user_id"), session.get("iat")
    if not isinstance(user_id, int) or not isinstance(iat, int):
        return None
    user = User.get_or_none((User.id == user_id) & (User.active == True))  # noqa: E712
    if user is None or session.get("sv") != user.session_version:
        return None
    if not secrets.compare_digest(str(session.get("fp", "")), _fingerprint(user)):
        return None
    if not 0 <= time.time() - iat <= session_lifetime(user, config):
        return None
    return user


def end_sessions(user: User) -> None:
    """End every browser session of `user` (sign out everywhere)."""
    User.update(session_version=User.session_version + 1).where(User.id == user.id).execute()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str = "") -> str:
    """A new token for `user`; the plain text is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.create(user=user, name=name, token_hash=_digest(token))
    return token


def user_for_token(token: str) -> User | None:
    from server.core import hot  # the per-request lookup, without peewee's query building

    row = hot.get(ApiToken, "token_hash", _digest(token))
    if row is None or row.revoked:
        return None
    user = hot.get(User, "id", row.user_id)
    if user is None or not user.active:
        return None
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        ApiToken.update(last_used_at=now).where(ApiToken.id == row.id).execute()
    return user
