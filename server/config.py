"""Settings from the environment, checked at start.

- `DATABASE_URL`: `sqlite:///var/koordinator.db` (default) or
  `postgresql://user:pass@host/db`.
- `SECRET_KEY`: signs browser sessions; random per process in development, required in
  production.
- `KOORDINATOR_ENV`: `development` (default), `test` or `production` (refuses unsafe
  defaults).
- `MQTT_URL`: the broker of the ingest; unset means the embedded broker of the zero-setup
  run.
- `MQTT_PASSWORD`: the password of MQTT_URL's user, given apart (wins over one in the URL).
- `DISPATCH_MQTT_URL`: the broker, with the dispatcher's own user, of the `mqtt` and
  `andon` sinks without a url of their own; unset: MQTT_URL (docs/deploy.md: give the
  dispatcher its own user, the broker pins client ids to user names).
  `DISPATCH_MQTT_PASSWORD`: its user's password, given apart (needs DISPATCH_MQTT_URL).
- `MQTT_TOPIC_PREFIX`: `koordinator` by default.
- `LOG_LEVEL`: `INFO` by default.
- `PLANT_TIMEZONE`: the plant's IANA time zone (`Asia/Jakarta`), `UTC` by default: where
  a day begins for the flags, the schedule and the scans of today, and the times on pages.
- `SESSION_COOKIE_SECURE`: send the session cookie over HTTPS only; on by default in
  production, `0` for a plant that serves plain HTTP on its LAN (docs/deploy.md).
- `SESSION_HOURS` / `FLOOR_SESSION_HOURS`: how long a sign-in lasts, for supervisors and
  admins (168) and for operators (12, one shift and a margin).
- `SMTP_HOST`, `SMTP_PORT`, `SMTP_SECURITY` (`starttls`, `tls` or `none`), `SMTP_USER`,
  `SMTP_PASSWORD`, `SMTP_FROM`: the mail server of e-mail alerts (`smtp_settings`); no
  `SMTP_HOST`, no mail (the alerts still show on the pages). `ALERT_BATCH_S` (60): alerts
  are collected this long, then mailed as one.
- `TRUSTED_PROXIES`: how many reverse proxies in front set `X-Forwarded-For`/`-Proto`
  (0 by default), so sign-in throttling sees the client's address, not the proxy's.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Mapping

from server.core import plantday

DEFAULT_DATABASE_URL = "sqlite:///var/koordinator.db"


class ConfigError(ValueError):
    """A setting is missing or wrong; the message says which and how to fix it."""


def from_env(environ: Mapping[str, str] | None = None) -> dict:
    env = os.environ if environ is None else environ
    mode = env.get("KOORDINATOR_ENV", "development")
    if mode not in ("development", "production", "test"):
        raise ConfigError(f"KOORDINATOR_ENV={mode!r}: use development, production or test")
    secret = env.get("SECRET_KEY")
    if not secret:
        if mode == "production":
            raise ConfigError("SECRET_KEY must be set in production (e.g. `openssl rand -hex 32`)")
        secret = secrets.token_hex(32)
    elif mode == "production" and len(secret) < 16:
        raise ConfigError("SECRET_KEY is too short for production: use 32 random bytes")
    plant_tz = env.get("PLANT_TIMEZONE", "").strip() or "UTC"
    try:
        plantday.zone(plant_tz)
    except ValueError:
        raise ConfigError(
            f"PLANT_TIMEZONE={plant_tz!r} is not an IANA time zone name "
            "(e.g. Asia/Jakarta, Europe/Berlin, UTC)"
        ) from None
    secure = _flag(env, "SESSION_COOKIE_SECURE", default=mode == "production")
    if env.get("DISPATCH_MQTT_PASSWORD") and not (env.get("DISPATCH_MQTT_URL") or "").strip():
        raise ConfigError(
            "DISPATCH_MQTT_PASSWORD is set but DISPATCH_MQTT_URL is not: set "
            "DISPATCH_MQTT_URL=mqtt://koordinator-dispatch@host:1883 (the dispatcher's user)"
        )
    return {
        "ENV_MODE": mode,
        "PLANT_TIMEZONE": plant_tz,
        "SECRET_KEY": secret,
        "DATABASE_URL": env.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        "MQTT_URL": env.get("MQTT_URL") or None,
        "DISPATCH_MQTT_URL": _mqtt_url(env, "DISPATCH_MQTT_URL"),
        "MQTT_TOPIC_PREFIX": env.get("MQTT_TOPIC_PREFIX", "koordinator"),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        "JSON_SORT_KEYS": False,
        # Flask defines these keys already, so they are set here, not by setdefault
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_HOURS": _hours(env, "SESSION_HOURS", 168),
        "FLOOR_SESSION_HOURS": _hours(env, "FLOOR_SESSION_HOURS", 12),
        "PERMANENT_SESSION_LIFETIME": dt.timedelta(
            hours=max(_hours(env, "SESSION_HOURS", 168), _hours(env, "FLOOR_SESSION_HOURS", 12))
        ),
        "TRUSTED_PROXIES": _count(env, "TRUSTED_PROXIES", 0),
        # label sheets drawn in the background (server/printsheets.py); None: a directory
        # under the system's temporary directory
        "PRINT_SHEETS_DIR": env.get("PRINT_SHEETS_DIR") or None,
    }


def _mqtt_url(env: Mapping[str, str], name: str) -> str | None:
    """An MQTT broker URL setting, checked at start (None: unset)."""
    from server.mqtt_session import MqttConfigError, parse_mqtt_url

    url = (env.get(name) or "").strip()
    if not url:
        return None
    try:
        parse_mqtt_url(url, name)
    except MqttConfigError as exc:
        raise ConfigError(str(exc)) from None
    return url


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r}: use 1 or 0")


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) > 10:
        raise ConfigError(f"{name}={raw!r}: use a whole number from 0 to 10")
    return int(raw)


def _hours(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 24 * 90:
        raise ConfigError(f"{name}={raw!r}: use a whole number of hours from 1 to 2160")
    return int(raw)


def redact(config: Mapping) -> dict:
    """A copy safe to log: secrets and passwords in URLs replaced."""
    from server.db import redact_url

    out = {}
    for key, value in config.items():
        if key in ("SECRET_KEY",) or "PASSWORD" in key:
            out[key] = "***"
        elif isinstance(value, str) and "://" in value:
            out[key] = redact_url(value)
        else:
            out[key] = value
    return out


def read_env_file(path: str) -> dict[str, str]:
    """The variables of a systemd `EnvironmentFile` (e.g. /etc/koordinator.env), read the
    way systemd reads it, so that a command run by hand sees what the services see.

    `KEY=value` lines; blank lines and lines starting with `#` or `;` are skipped; a value
    may be in single or double quotes. systemd keeps a `# comment` after a value as part of
    the value, so such a line is refused here rather than read differently."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise ConfigError(f"--env-file {path}: {exc.strerror or exc}") from None
    out: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text[0] in "#;":
            continue
        key, sep, value = text.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key.replace("_", "a").isalnum() or key[0].isdigit():
            raise ConfigError(f"{path} line {number}: not KEY=value")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value or "\t#" in value:
            raise ConfigError(
                f"{path} line {number}: {key}: systemd would keep the '# ...' in the value; "
                "put comments on their own line"
            )
        out[key] = value
    return out


SMTP_SECURITY = {"starttls": 587, "tls": 465, "none": 25}


def smtp_settings(env: Mapping[str, str]) -> dict | None:
    """The SMTP server of e-mail alerts from the environment, or None without SMTP_HOST."""
    host = (env.get("SMTP_HOST") or "").strip()
    if not host:
        return None
    security = (env.get("SMTP_SECURITY") or "starttls").strip().lower()
    if security not in SMTP_SECURITY:
        raise ConfigError(f"SMTP_SECURITY={security!r}: use starttls, tls or none")
    port_text = (env.get("SMTP_PORT") or "").strip()
    try:
        port = int(port_text) if port_text else SMTP_SECURITY[security]
    except ValueError:
        raise ConfigError(f"SMTP_PORT={port_text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"SMTP_PORT={port}: a port is 1 to 65535")
    sender = (env.get("SMTP_FROM") or "").strip()
    if "@" not in sender:
        raise ConfigError("SMTP_FROM must be the sender's address (koordinator@plant.example)")
    user = (env.get("SMTP_USER") or "").strip() or None
    password = env.get("SMTP_PASSWORD") or None
    if (user is None) != (password is None):
        raise ConfigError("SMTP_USER and SMTP_PASSWORD go together")
    return {
        "host": host,
        "port": port,
        "security": security,
        "user": user,
        "password": password,
        "from": sender,
    }
