"""Item codes and the parsing of everything a scanner can send.

Internal item codes
    ``K`` + 7 symbols + 1 check symbol, e.g. ``K00D4XRM7``. The alphabet is Crockford's
    base 32 (digits and upper-case letters without I, L, O and U), so a code read aloud
    over a noisy shop floor has no 0/O or 1/I/L confusion, and it is Code 128 friendly
    (upper case and digits only). The check symbol is Luhn mod 32 over the first eight
    symbols: every single-symbol misread and every swap of two neighbours is caught, so a
    misread gives ``bad_check_digit`` instead of matching another item.

Everything else goes through well-kept parsers rather than our own: GS1 element strings
through ``biip`` (AIs, FNC1 as ASCII 29, AIM symbology identifiers, check digits) and RFID
EPCs through ``epcpy`` (SGTIN-96, SSCC-96 and the other TDS 2.x schemes).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import secrets
from decimal import Decimal, InvalidOperation

import biip
import epcpy

from server.core.errors import Rejected

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
N = len(ALPHABET)
PREFIX = "K"
PAYLOAD_LEN = 7
CODE_LEN = 1 + PAYLOAD_LEN + 1
_ITEM_SHAPE = re.compile(rf"^K[0-9A-Z]{{{PAYLOAD_LEN + 1}}}$")

GS = "\x1d"
#: AIM symbology identifiers that announce GS1 data
GS1_PREFIXES = ("]C1", "]d2", "]Q3", "]e0", "]J1")
#: AIM identifiers of plain (non-GS1) symbols: stripped before anything else is tried
PLAIN_PREFIXES = ("]C0", "]d1", "]Q1", "]Q0", "]A0", "]E0", "]E4")
COMMAND_PREFIX = "CMD-"
#: a location label, `LOC-<code>`
LOCATION_PREFIX = "LOC-"
SHIPMENT_PREFIX = "SHP-"
EPC_HEX = re.compile(r"^[0-9A-F]{24}([0-9A-F]{8})*$")


class CodeKind:
    ITEM = "item"
    GS1 = "gs1"
    EPC = "epc"
    COMMAND = "command"


def check_symbol(body: str) -> str:
    """Luhn mod N check symbol over `body` (symbols of ALPHABET)."""
    factor = 2
    total = 0
    for ch in reversed(body):
        addend = factor * _INDEX[ch]
        factor = 1 if factor == 2 else 2
        total += addend // N + addend % N
    return ALPHABET[(N - total % N) % N]


def make_item_code(number: int | None = None) -> str:
    """A new internal item code; random unless `number` is given (tests, demos)."""
    if number is None:
        number = secrets.randbelow(N**PAYLOAD_LEN)
    if not 0 <= number < N**PAYLOAD_LEN:
        raise ValueError(f"item number {number} out of range")
    digits = []
    for _ in range(PAYLOAD_LEN):
        number, rem = divmod(number, N)
        digits.append(ALPHABET[rem])
    body = PREFIX + "".join(reversed(digits))
    return body + check_symbol(body)


def is_valid_item_code(code: str) -> bool:
    return (
        len(code) == CODE_LEN
        and all(c in _INDEX for c in code)
        and code.startswith(PREFIX)
        and check_symbol(code[:-1]) == code[-1]
    )


@dataclasses.dataclass(frozen=True)
class Parsed:
    """What a scanned text means. Only the fields of its kind are set."""

    kind: str
    text: str  # the normalised text
    item_code: str | None = None
    gtin: str | None = None
    lot: str | None = None
    serial: str | None = None
    sscc: str | None = None
    expiry: dt.date | None = None
    qty: Decimal | None = None
    command: str | None = None
    arg: str | None = None

    @property
    def ext_key(self) -> str | None:
        """The unique outside identity of a serialised unit or logistic unit."""
        if self.sscc:
            return f"00{self.sscc}"
        if self.gtin and self.serial:
            return f"01{self.gtin}21{self.serial}"
        return None


COMMANDS = {
    "OP": True,
    "OUT": False,
    "ORD": True,
    "ACT": True,
    "WHY": True,
    "QC": True,
    "DONE": False,
    "DOWN": True,
    "UP": False,
    "COUNT": True,
}


def _parse_command(text: str) -> Parsed:
    rest = text[len(COMMAND_PREFIX) :]
    name, _, arg = rest.partition("-")
    name = name.upper()
    needs_arg = COMMANDS.get(name)
    if needs_arg is None or needs_arg != bool(arg):
        raise Rejected("unknown_code", f"Unknown command label {text!r}")
    return Parsed(CodeKind.COMMAND, text, command=name, arg=arg or None)


def _parse_gs1(text: str) -> Parsed:
    try:
        if text.startswith("("):
            msg = biip.gs1_messages.GS1Message.parse_hri(text)
            result = None
        else:
            result = biip.parse(text)
            msg = result.gs1_message
    except biip.ParseError as exc:
        raise Rejected("unknown_code", "Not a readable GS1 label") from exc
    bare = result is not None and result.gtin is not None and not text.startswith(GS1_PREFIXES)
    if msg is None or (
        bare and not any(es.ai.ai in ("00", "01", "02") for es in msg.element_strings)
    ):
        # a bare GTIN (EAN-13, UPC-A, ITF-14) with no AIs
        gtin = result.gtin if result is not None else None
        if gtin is None:
            if result is not None and result.gtin_error:
                raise Rejected("bad_check_digit", "GTIN check digit wrong - scan again")
            raise Rejected("unknown_code", "Not a readable GS1 label")
        return Parsed(CodeKind.GS1, text, gtin=gtin.as_gtin_14())
    fields: dict = {}
    for es in msg.element_strings:
        ai = es.ai.ai
        if es.gtin_error or es.sscc_error:
            raise Rejected("bad_check_digit", f"Check digit wrong in ({ai}) - scan again")
        if ai in ("01", "02"):
            fields["gtin"] = es.gtin.as_gtin_14() if es.gtin else es.value
        elif ai == "00":
            fields["sscc"] = es.value
        elif ai == "10":
            fields["lot"] = es.value
        elif ai == "21":
            fields["serial"] = es.value
        elif ai == "17":
            fields["expiry"] = es.date
        elif ai in ("30", "37"):
            fields["qty"] = Decimal(es.value)
    if not (fields.get("gtin") or fields.get("sscc")):
        raise Rejected("unknown_code", "GS1 label without GTIN (01) or SSCC (00)")
    return Parsed(CodeKind.GS1, text, **fields)


def _parse_epc(hex_text: str) -> Parsed:
    try:
        tag = epcpy.hex_to_tag_encodable(hex_text)
    except (epcpy.ConvertException, ValueError) as exc:
        raise Rejected("unknown_code", "RFID tag of an unsupported scheme") from exc
    return _from_tag(tag, hex_text)


def _from_tag(tag, text: str) -> Parsed:
    hex_text = text
    name = type(tag).__name__
    if name == "SGTIN":
        gtin = tag.gtin()
        serial = tag.epc_uri.rsplit(".", 1)[1]
        return Parsed(CodeKind.EPC, hex_text, gtin=gtin, serial=serial)
    if name == "SSCC":
        return Parsed(CodeKind.EPC, hex_text, sscc=tag.gs1_key())
    raise Rejected("unknown_code", f"RFID tag scheme {name} is not used here")


def parse(raw: str, source: str = "barcode") -> Parsed:
    """Classify and parse one scanned text. Raises `Rejected` with a reason code."""
    text = raw.strip("\r\n\t ")
    for prefix in PLAIN_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    if not text:
        raise Rejected("unknown_code", "Empty scan")
    upper = text.upper()
    if upper.startswith(COMMAND_PREFIX):
        return _parse_command(text)
    if upper.startswith(SHIPMENT_PREFIX):
        # a shipment label (server/core/shipments.py): the scanner's ship scans go out in it
        ref = text[len(SHIPMENT_PREFIX) :].strip()
        if not ref:
            raise Rejected("unknown_code", "Shipment label without a ref")
        return Parsed(CodeKind.COMMAND, text, command="SHP", arg=ref.upper())
    if upper.startswith(LOCATION_PREFIX):
        # a location label (server/core/locations.py): a command that sets the scanner's
        # current location
        code = text[len(LOCATION_PREFIX) :].strip()
        if not code:
            raise Rejected("unknown_code", "Location label without a code")
        return Parsed(CodeKind.COMMAND, text, command="LOC", arg=code.upper())
    if upper.startswith("URN:EPC:"):
        try:
            tag = epcpy.tag_uri_to_tag_encodable(text)
        except (epcpy.ConvertException, ValueError) as exc:
            raise Rejected("unknown_code", "RFID tag URI not readable") from exc
        return _from_tag(tag, text)
    if source == "rfid" or (EPC_HEX.match(upper) and upper[:2] in ("30", "31", "36")):
        if not EPC_HEX.match(upper):
            raise Rejected("unknown_code", "RFID read is not EPC hex")
        return _parse_epc(upper)
    if _ITEM_SHAPE.match(upper):
        if not is_valid_item_code(upper):
            raise Rejected("bad_check_digit")
        return Parsed(CodeKind.ITEM, upper, item_code=upper)
    if text.startswith(GS1_PREFIXES) or GS in text or text.startswith("(") or text.isdigit():
        return _parse_gs1(text)
    raise Rejected("unknown_code")


def parse_qty(value) -> Decimal | None:
    """A quantity from a payload; None when absent. Raises Rejected(bad_quantity)."""
    if value is None:
        return None
    try:
        qty = Decimal(str(value))
    except InvalidOperation as exc:
        raise Rejected("bad_quantity") from exc
    if not qty.is_finite() or qty <= 0:
        raise Rejected("bad_quantity")
    return qty
