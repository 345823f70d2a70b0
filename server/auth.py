"""Users, passwords and API tokens. Passwords are scrypt-hashed (werkzeug); tokens are
random 256-bit strings of which only the SHA-256 is stored, so a stolen database gives
no usable token."""

from __future__ import annotations

import hashlib
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

from server.models import ApiToken, User, utcnow

ROLES = ("operator", "supervisor", "admin")
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
