"""Agent settings: a TOML file, command-line flags over it, checked once at start.

Everything the agent needs is in one frozen :class:`Config`.  :func:`load` raises
:class:`ConfigError` with a message meant for the person editing the file; ``__main__``
prints it and exits with status 2.  :func:`redacted` gives a copy safe to log (the MQTT
password is replaced by ``***``).
"""

from __future__ import annotations

import argparse
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

READER_KINDS = ("serial", "stdin", "rfid")
RFID_INPUTS = ("serial", "stdin")
TERMINATORS = {
    "\r": b"\r",
    "\n": b"\n",
    "\r\n": b"\r\n",
    "cr": b"\r",
    "lf": b"\n",
    "crlf": b"\r\n",
}
SCANNER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
PASSWORD_ENV = "KOORDINATOR_MQTT_PASSWORD"
REDACTED = "***"


class ConfigError(ValueError):
    """A setting is missing or wrong; the message says which and how to fix it."""


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None = field(repr=False)
    topic_prefix: str = "koordinator"
    client_id: str | None = None
    keepalive: int = 30
    ca_file: str | None = None

    def url(self, redact: bool = True) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        auth = ""
        if self.username is not None:
            auth = self.username
            if self.password is not None:
                auth += ":" + (REDACTED if redact else self.password)
            auth += "@"
        return f"{scheme}://{auth}{self.host}:{self.port}"


@dataclass(frozen=True)
class Config:
    scanner_id: str
    mqtt: MqttSettings
    reader: str = "serial"
    rfid_input: str = "serial"
    serial_port: str | None = None
    baud: int = 9600
    terminator: bytes = b"\r"
    max_line: int = 4096
    rfid_window: float = 5.0
    station: str | None = None
    outbox_path: Path = Path("koordinator-outbox.sqlite3")
    resend_after: float = 10.0
    feedback_good: bytes = b""
    feedback_bad: bytes = b""
    feedback_warn: bytes | None = None
    color: str = "auto"
    log_level: str = "INFO"

    @property
    def client_id(self) -> str:
        return self.mqtt.client_id or f"koordinator-agent-{self.scanner_id}"

    def topic(self, leaf: str) -> str:
        return f"{self.mqtt.topic_prefix}/scanners/{self.scanner_id}/{leaf}"

    @property
    def uses_serial(self) -> bool:
        return self.reader == "serial" or (self.reader == "rfid" and self.rfid_input == "serial")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m scanner_agent",
        description="Koordinator scanner agent: scanner -> durable outbox -> MQTT.",
    )
    p.add_argument("-c", "--config", type=Path, help="TOML settings file")
    p.add_argument("--scanner-id", help="this scanner's id, as registered on the server")
    p.add_argument("--station", help="station code sent with every scan")
    p.add_argument("--mqtt-url", help="mqtt[s]://user:password@host:port")
    p.add_argument("--topic-prefix", help="MQTT topic prefix (default koordinator)")
    p.add_argument("--client-id", help="MQTT client id (default koordinator-agent-<id>)")
    p.add_argument("--reader", choices=READER_KINDS, help="where scans come from")
    p.add_argument("--rfid-input", choices=RFID_INPUTS, help="line source of the RFID reader")
    p.add_argument("--port", dest="serial_port", help="serial port, e.g. /dev/serial/by-id/...")
    p.add_argument("--baud", type=int)
    p.add_argument("--terminator", help=r"line terminator: CR, LF or CRLF (or \r, \n, \r\n)")
    p.add_argument("--rfid-window", type=float, help="seconds a tag's repeated reads count once")
    p.add_argument("--outbox", dest="outbox_path", help="path of the SQLite outbox file")
    p.add_argument("--resend-after", type=float, help="seconds before an unanswered scan is resent")
    p.add_argument(
        "--feedback-good", help="bytes sent to the scanner on accept (hex:.. or escapes)"
    )
    p.add_argument("--feedback-bad", help="bytes sent to the scanner on reject")
    p.add_argument("--color", choices=("auto", "always", "never"))
    p.add_argument("--log-level", type=str.upper, choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return p


def load(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> Config:
    """Parse flags, read the TOML file they name, merge (flags win) and validate."""
    args = build_parser().parse_args(argv)
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    if args.config is not None:
        raw = read_toml(args.config)
    flat = flatten(raw)
    for key, value in vars(args).items():
        if key != "config" and value is not None:
            flat[key] = value
    return validate(flat, environ)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


# TOML (section, key) -> flat name used by the flags and validate().
_TOML_KEYS = {
    ("", "scanner_id"): "scanner_id",
    ("", "station"): "station",
    ("", "log_level"): "log_level",
    ("mqtt", "url"): "mqtt_url",
    ("mqtt", "topic_prefix"): "topic_prefix",
    ("mqtt", "client_id"): "client_id",
    ("mqtt", "keepalive"): "keepalive",
    ("mqtt", "ca_file"): "ca_file",
    ("reader", "kind"): "reader",
    ("reader", "rfid_input"): "rfid_input",
    ("reader", "port"): "serial_port",
    ("reader", "baud"): "baud",
    ("reader", "terminator"): "terminator",
    ("reader", "max_line"): "max_line",
    ("reader", "rfid_window"): "rfid_window",
    ("outbox", "path"): "outbox_path",
    ("outbox", "resend_after"): "resend_after",
    ("feedback", "good"): "feedback_good",
    ("feedback", "bad"): "feedback_bad",
    ("feedback", "warn"): "feedback_warn",
    ("feedback", "color"): "color",
}


def flatten(raw: dict[str, Any]) -> dict[str, Any]:
    """Map the TOML tables onto flat setting names, rejecting unknown keys."""
    flat: dict[str, Any] = {}
    sections = {s for s, _ in _TOML_KEYS if s}
    for key, value in raw.items():
        if isinstance(value, dict):
            if key not in sections:
                raise ConfigError(f"unknown section [{key}] (known: {', '.join(sorted(sections))})")
            for sub, subvalue in value.items():
                name = _TOML_KEYS.get((key, sub))
                if name is None:
                    raise ConfigError(f"unknown setting {key}.{sub}")
                flat[name] = subvalue
        else:
            name = _TOML_KEYS.get(("", key))
            if name is None:
                raise ConfigError(f"unknown setting {key!r}")
            flat[name] = value
    return flat


def validate(flat: dict[str, Any], environ: dict[str, str] | os._Environ[str]) -> Config:
    scanner_id = _str(flat, "scanner_id", required=True)
    if not SCANNER_ID_RE.match(scanner_id):
        raise ConfigError(
            f"scanner_id {scanner_id!r} must be 1-64 letters, digits, '_', '.' or '-' "
            "(it is part of MQTT topic names)"
        )
    mqtt = parse_mqtt_url(_str(flat, "mqtt_url", default="mqtt://127.0.0.1:1883"))
    prefix = _str(flat, "topic_prefix", default="koordinator").strip("/")
    if not prefix or any(c in prefix for c in "+#"):
        raise ConfigError(f"topic_prefix {prefix!r} must be non-empty without '+' or '#'")
    password = environ.get(PASSWORD_ENV) or mqtt.password
    ca_file = _str(flat, "ca_file")
    if ca_file is not None and not Path(ca_file).is_file():
        raise ConfigError(f"mqtt.ca_file {ca_file} does not exist")
    mqtt = MqttSettings(
        host=mqtt.host,
        port=mqtt.port,
        tls=mqtt.tls,
        username=mqtt.username,
        password=password,
        topic_prefix=prefix,
        client_id=_str(flat, "client_id"),
        keepalive=_int(flat, "keepalive", 30, low=5, high=3600),
        ca_file=ca_file,
    )

    reader = _choice(flat, "reader", READER_KINDS, "serial")
    rfid_input = _choice(flat, "rfid_input", RFID_INPUTS, "serial")
    serial_port = _str(flat, "serial_port")
    uses_serial = reader == "serial" or (reader == "rfid" and rfid_input == "serial")
    if uses_serial and not serial_port:
        raise ConfigError(
            "reader.port (--port) is required for a serial reader, "
            "e.g. /dev/serial/by-id/usb-Honeywell_..."
        )
    terminator_text = _str(flat, "terminator", default="\r")
    terminator = TERMINATORS.get(terminator_text.lower()) or TERMINATORS.get(
        parse_bytes(terminator_text).decode("latin-1")
    )
    if terminator is None:
        raise ConfigError(f"terminator {terminator_text!r} must be CR, LF or CRLF")

    outbox_path = Path(_str(flat, "outbox_path", default="koordinator-outbox.sqlite3"))
    if not outbox_path.parent.is_dir():
        raise ConfigError(f"outbox.path: directory {outbox_path.parent} does not exist")

    warn = flat.get("feedback_warn")
    return Config(
        scanner_id=scanner_id,
        mqtt=mqtt,
        reader=reader,
        rfid_input=rfid_input,
        serial_port=serial_port,
        baud=_int(flat, "baud", 9600, low=50, high=4_000_000),
        terminator=terminator,
        max_line=_int(flat, "max_line", 4096, low=16, high=1_000_000),
        rfid_window=_float(flat, "rfid_window", 5.0, low=0.0, high=86400.0),
        station=_str(flat, "station") or None,
        outbox_path=outbox_path,
        resend_after=_float(flat, "resend_after", 10.0, low=0.5, high=86400.0),
        feedback_good=_bytes(flat, "feedback_good"),
        feedback_bad=_bytes(flat, "feedback_bad"),
        feedback_warn=None if warn is None else _bytes(flat, "feedback_warn"),
        color=_choice(flat, "color", ("auto", "always", "never"), "auto"),
        log_level=_choice(flat, "log_level", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"),
    )


def parse_mqtt_url(url: str) -> MqttSettings:
    """``mqtt://user:pass@host:port`` or ``mqtts://...``; user and password are %-decoded."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"mqtt.url is not a valid URL: {_redact_url(url)} ({exc})") from None
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ConfigError(f"mqtt.url must start with mqtt:// or mqtts://, got {_redact_url(url)}")
    if not parts.hostname:
        raise ConfigError(f"mqtt.url has no host: {_redact_url(url)}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"mqtt.url must not carry a path or query: {_redact_url(url)}")
    tls = parts.scheme == "mqtts"
    return MqttSettings(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        tls=tls,
        username=None if parts.username is None else unquote(parts.username),
        password=None if parts.password is None else unquote(parts.password),
    )


def _redact_url(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1" + REDACTED + "@", url)


def parse_bytes(text: str) -> bytes:
    r"""Byte sequence from ``hex:07 1b`` or a string with escapes such as ``\x07\r``."""
    if text.lower().startswith("hex:"):
        digits = re.sub(r"[\s:,-]", "", text[4:])
        try:
            return bytes.fromhex(digits)
        except ValueError:
            raise ConfigError(f"{text!r} is not a valid hex byte sequence") from None
    out = bytearray()
    i = 0
    simple = {"r": 13, "n": 10, "t": 9, "e": 27, "0": 0, "\\": 92, "a": 7}
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "xX":
                hex_digits = text[i + 2 : i + 4]
                if len(hex_digits) != 2 or not re.fullmatch(r"[0-9A-Fa-f]{2}", hex_digits):
                    raise ConfigError(rf"bad escape \x{hex_digits} in {text!r}")
                out.append(int(hex_digits, 16))
                i += 4
                continue
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            raise ConfigError(rf"unknown escape \{nxt} in {text!r}")
        out.extend(ch.encode("utf-8"))
        i += 1
    return bytes(out)


def redacted(config: Config) -> dict[str, Any]:
    """The settings as a plain dict safe for logs: the password never appears."""
    return {
        "scanner_id": config.scanner_id,
        "station": config.station,
        "mqtt_url": config.mqtt.url(redact=True),
        "topic_prefix": config.mqtt.topic_prefix,
        "client_id": config.client_id,
        "reader": config.reader,
        "rfid_input": config.rfid_input if config.reader == "rfid" else None,
        "serial_port": config.serial_port if config.uses_serial else None,
        "baud": config.baud,
        "terminator": config.terminator.decode("ascii"),
        "rfid_window": config.rfid_window,
        "outbox": str(config.outbox_path),
        "resend_after": config.resend_after,
        "feedback_good": config.feedback_good.hex(" "),
        "feedback_bad": config.feedback_bad.hex(" "),
    }


def _str(flat: dict[str, Any], key: str, default: str | None = None, required: bool = False):
    value = flat.get(key, default)
    if value is None:
        if required:
            raise ConfigError(f"{key} is required (in the config file or as --{_flag(key)})")
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise ConfigError(f"{key} must not be empty")
    return value


def _choice(flat: dict[str, Any], key: str, choices: tuple[str, ...], default: str) -> str:
    value = _str(flat, key, default=default)
    if key == "log_level":
        value = value.upper()
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _number(flat, key, default, kind, low, high):
    value = flat.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
        raise ConfigError(f"{key} must be a {kind.__name__}, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{key} must be between {low} and {high}, got {value}")
    return kind(value)


def _int(flat: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    return _number(flat, key, default, int, low, high)


def _float(flat: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    return _number(flat, key, default, float, low, high)


def _bytes(flat: dict[str, Any], key: str) -> bytes:
    value = flat.get(key, "")
    if isinstance(value, list):
        if not all(isinstance(b, int) and 0 <= b <= 255 for b in value):
            raise ConfigError(f"{key}: a list must hold byte values 0-255")
        return bytes(value)
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string (hex:.. or escapes) or a list of bytes")
    try:
        return parse_bytes(value)
    except ConfigError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _flag(key: str) -> str:
    return key.replace("_", "-")
