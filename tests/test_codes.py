"""Item codes and the parsing of scanned text: table-driven vectors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from server.core import codes
from server.core.errors import Rejected

GTIN = "09506000134352"


def test_item_code_shape_and_check():
    code = codes.make_item_code(123456)
    assert len(code) == codes.CODE_LEN and code.startswith("K")
    assert set(code) <= set(codes.ALPHABET)
    assert codes.is_valid_item_code(code)
    assert codes.make_item_code(123456) == code  # deterministic for a number


@pytest.mark.parametrize("number", [0, 1, 31, 32, 99999, 34359738367])
def test_every_single_substitution_is_caught(number):
    code = codes.make_item_code(number)
    for pos in range(1, len(code)):
        for ch in codes.ALPHABET:
            if ch != code[pos]:
                bad = code[:pos] + ch + code[pos + 1 :]
                assert not codes.is_valid_item_code(bad), bad


@pytest.mark.parametrize("number", [7, 4242, 123456789, 2**34])
def test_every_adjacent_swap_is_caught(number):
    code = codes.make_item_code(number)
    for pos in range(1, len(code) - 1):
        if code[pos] != code[pos + 1]:
            swapped = code[:pos] + code[pos + 1] + code[pos] + code[pos + 2 :]
            assert not codes.is_valid_item_code(swapped), swapped


def test_ambiguous_letters_never_appear():
    for n in range(0, 10**6, 7919):
        assert not set(codes.make_item_code(n)) & set("ILOU")


ITEM = codes.make_item_code(4711)

# text, expected fields (kind plus the fields that must match)
VECTORS = [
    (ITEM, {"kind": "item", "item_code": ITEM}),
    (ITEM.lower(), {"kind": "item", "item_code": ITEM}),
    ("]C0" + ITEM, {"kind": "item", "item_code": ITEM}),
    (f" {ITEM}\r\n", {"kind": "item", "item_code": ITEM}),
    # GS1 with FNC1 as GS, and each symbology prefix
    (
        f"]C101{GTIN}10LOT42\x1d17271231",
        {"gtin": GTIN, "lot": "LOT42", "expiry": dt.date(2027, 12, 31)},
    ),
    (f"]d201{GTIN}21SN9", {"gtin": GTIN, "serial": "SN9"}),
    (f"]Q301{GTIN}10A\x1d3712", {"gtin": GTIN, "lot": "A", "qty": Decimal(12)}),
    (f"]e001{GTIN}17260101", {"gtin": GTIN, "expiry": dt.date(2026, 1, 1)}),
    # without a prefix, fixed-length AIs first then variable ones, GS between
    (f"01{GTIN}10LOT7\x1d21X1", {"gtin": GTIN, "lot": "LOT7", "serial": "X1"}),
    (f"01{GTIN}3050", {"gtin": GTIN, "qty": Decimal(50)}),
    # human-readable form typed by hand
    (f"(01){GTIN}(10)L-1", {"gtin": GTIN, "lot": "L-1"}),
    # SSCC
    ("]C100106141412345678908", {"sscc": "106141412345678908"}),
    # a bare GTIN (EAN-13 on a box)
    ("9506000134352", {"gtin": GTIN}),
    # RFID EPC: SGTIN-96 and SSCC-96 (TDS examples)
    ("3074257BF7194E4000001A85", {"kind": "epc", "gtin": "80614141123458", "serial": "6789"}),
    ("3074257bf7194e4000001a85", {"kind": "epc", "gtin": "80614141123458", "serial": "6789"}),
    ("3174257BF4499602D2000000", {"kind": "epc", "sscc": "106141412345678908"}),
    (
        "urn:epc:tag:sgtin-96:3.0614141.812345.6789",
        {"kind": "epc", "gtin": "80614141123458", "serial": "6789"},
    ),
    # command labels
    ("CMD-OP-B-1234", {"kind": "command", "command": "OP", "arg": "B-1234"}),
    ("CMD-OUT", {"kind": "command", "command": "OUT", "arg": None}),
    ("CMD-ORD-WO-1001", {"kind": "command", "command": "ORD", "arg": "WO-1001"}),
    ("cmd-act-ship", {"kind": "command", "command": "ACT", "arg": "ship"}),
    ("CMD-DONE", {"kind": "command", "command": "DONE"}),
]


@pytest.mark.parametrize(("text", "expected"), VECTORS, ids=[repr(v[0])[:40] for v in VECTORS])
def test_parse_vectors(text, expected):
    parsed = codes.parse(text)
    expected = {"kind": "gs1", **expected}
    for field, value in expected.items():
        assert getattr(parsed, field) == value, (field, parsed)


def test_rfid_source_forces_epc():
    assert codes.parse("3074257BF7194E4000001A85", source="rfid").kind == "epc"


BAD = [
    ("", "unknown_code"),
    ("hello world", "unknown_code"),
    (ITEM[:-1] + ("0" if ITEM[-1] != "0" else "1"), "bad_check_digit"),
    ("K" + "Z" * 8, "bad_check_digit"),
    (f"]C101{GTIN[:-1]}9", "bad_check_digit"),  # GTIN check digit
    (f"(01){GTIN[:-1]}0(10)X", "bad_check_digit"),
    ("]C100106141412345678909", "bad_check_digit"),  # SSCC check digit
    ("]C110LOTONLY", "unknown_code"),  # no GTIN, no SSCC
    ("]C1", "unknown_code"),
    ("3074257BF7194E4000001A8", "unknown_code"),  # 92 bits
    ("E2801160600002054B8F1234", "unknown_code"),  # unknown EPC header via rfid
    ("CMD-FLY-HIGH", "unknown_code"),
    ("CMD-OP", "unknown_code"),
    ("CMD-DONE-NOW", "unknown_code"),
    ("\x00\x01\x02", "unknown_code"),
]


@pytest.mark.parametrize(("text", "reason"), BAD, ids=[repr(b[0])[:30] for b in BAD])
def test_parse_rejections(text, reason):
    source = "rfid" if text.startswith("E28") else "barcode"
    with pytest.raises(Rejected) as err:
        codes.parse(text, source)
    assert err.value.code == reason


@pytest.mark.parametrize("value", ["0", "-1", "abc", "NaN", "Infinity"])
def test_bad_quantities(value):
    with pytest.raises(Rejected) as err:
        codes.parse_qty(value)
    assert err.value.code == "bad_quantity"
