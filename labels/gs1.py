"""GS1 element strings: application identifiers, check digits and FNC1 placement.

This module owns the translation between the human-readable interpretation (HRI) of a
GS1-128 symbol, e.g. ``(01)09506000134352(10)LOT42``, and the element string that is
actually encoded, e.g. ``0109506000134352`` ``10LOT42``. It knows which application
identifiers (AIs) have a predefined length: every other element needs an FNC1 separator
when another element follows it. It imports nothing outside the standard library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

#: Function 1 as python-barcode spells it inside a Code 128 data string.
FNC1 = "\xf1"
#: What a scanner transmits for an FNC1 separator (ASCII group separator).
GS = "\x1d"

# GS1 General Specifications, figure 7.8.5-2: element strings whose length is fixed by
# the first two digits of the AI. Only these may be followed by another element without
# an FNC1 separator; a fixed-length AI outside this table (e.g. 8005) still needs one.
PREDEFINED_LENGTH = {
    "00": 20, "01": 16, "02": 16, "03": 16, "04": 18,
    "11": 8, "12": 8, "13": 8, "14": 8, "15": 8, "16": 8, "17": 8, "18": 8, "19": 8, "20": 4,
    "31": 10, "32": 10, "33": 10, "34": 10, "35": 10, "36": 10, "41": 16,
}  # fmt: skip

# The AIs this project prints: (description, regular expression for the data).
_CSET82 = r"[!\"%&'*+,\-./0-9:;<=>?A-Z_a-z]"
AIS: dict[str, tuple[str, str]] = {
    "00": ("SSCC", r"\d{18}"),
    "01": ("GTIN", r"\d{14}"),
    "02": ("GTIN of contained items", r"\d{14}"),
    "10": ("batch or lot", _CSET82 + r"{1,20}"),
    "11": ("production date", r"\d{6}"),
    "13": ("packaging date", r"\d{6}"),
    "15": ("best before date", r"\d{6}"),
    "17": ("expiry date", r"\d{6}"),
    "21": ("serial number", _CSET82 + r"{1,20}"),
    "30": ("count of items", r"\d{1,8}"),
    "37": ("count of trade items", r"\d{1,8}"),
    "240": ("additional product id", _CSET82 + r"{1,30}"),
}
_DATE_AIS = {"11", "13", "15", "17"}
_HRI_ELEMENT = re.compile(r"\((\d{2,4})\)([^()]*)")
# GS1 limits a GS1-128 symbol to 48 data characters (AIs and FNC1 separators included).
MAX_DATA_CHARS = 48


@dataclass(frozen=True)
class Element:
    """One application identifier with its data."""

    ai: str
    data: str

    @property
    def hri(self) -> str:
        return f"({self.ai}){self.data}"


def check_digit(digits: str) -> str:
    """Return the GS1 mod-10 check digit for ``digits`` (the number without it)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def normalize_gtin(gtin: str) -> str:
    """Return ``gtin`` as 14 digits, raising ValueError if it is malformed or its check
    digit is wrong. GTIN-8, -12 and -13 are padded with leading zeros."""
    text = str(gtin).strip()
    if not text.isascii() or not text.isdigit() or len(text) not in (8, 12, 13, 14):
        raise ValueError(f"GTIN {gtin!r} must be 8, 12, 13 or 14 digits")
    text = text.zfill(14)
    expected = check_digit(text[:-1])
    if text[-1] != expected:
        raise ValueError(
            f"GTIN {gtin!r} has check digit {text[-1]}, expected {expected}: "
            "the number is mistyped or is not a GTIN"
        )
    return text


def _check_element(ai: str, data: str) -> None:
    if ai not in AIS:
        raise ValueError(f"GS1 application identifier ({ai}) is not supported")
    name, pattern = AIS[ai]
    if not re.fullmatch(pattern, data):
        raise ValueError(f"GS1 ({ai}) {name}: {data!r} is not valid for this AI")
    if ai in ("00", "01", "02") and data[-1] != check_digit(data[:-1]):
        raise ValueError(
            f"GS1 ({ai}) {name}: {data!r} has check digit {data[-1]}, "
            f"expected {check_digit(data[:-1])}"
        )
    if ai in _DATE_AIS:
        yy, mm, dd = int(data[:2]), int(data[2:4]), int(data[4:])
        try:
            # Day 00 means "end of month" in GS1 dates.
            date(2000 + yy, mm, dd or 1)
        except ValueError:
            raise ValueError(f"GS1 ({ai}) {name}: {data!r} is not a YYMMDD date") from None


def parse_hri(text: str) -> tuple[Element, ...]:
    """Parse ``(01)…(10)…`` into elements, validating each; raise ValueError otherwise."""
    elements = []
    pos = 0
    for match in _HRI_ELEMENT.finditer(text):
        if match.start() != pos:
            break
        elements.append(Element(match.group(1), match.group(2)))
        pos = match.end()
    if not elements or pos != len(text):
        raise ValueError(
            f"GS1 code {text!r} must be written as (AI)data pairs, e.g. (01)09506000134352(10)LOT42"
        )
    seen = set()
    for element in elements:
        if element.ai in seen:
            raise ValueError(f"GS1 code {text!r} repeats AI ({element.ai})")
        seen.add(element.ai)
        _check_element(element.ai, element.data)
    if len(element_string(elements, separator=GS)) > MAX_DATA_CHARS:
        raise ValueError(f"GS1 code {text!r} exceeds {MAX_DATA_CHARS} data characters")
    return tuple(elements)


def element_string(elements: tuple[Element, ...] | list[Element], separator: str = FNC1) -> str:
    """Concatenate elements, with ``separator`` after each element that has no
    predefined length and is not the last. The leading FNC1 is not included."""
    parts = []
    for i, element in enumerate(elements):
        parts.append(element.ai + element.data)
        last = i == len(elements) - 1
        if not last and element.ai[:2] not in PREDEFINED_LENGTH:
            parts.append(separator)
    return "".join(parts)


def hri(elements: tuple[Element, ...] | list[Element]) -> str:
    return "".join(element.hri for element in elements)
