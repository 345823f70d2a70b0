"""Label values and GS1 element strings: check digits, AI order, FNC1 separators."""

from datetime import date

import pytest

from labels import Label, check_digit, gs1_label, normalize_gtin
from labels.gs1 import FNC1, Element, element_string, parse_hri


@pytest.mark.parametrize(
    ("digits", "expected"),
    [("0950600013435", "2"), ("400638133393", "1"), ("9638507", "4"), ("0000000000000", "0")],
)
def test_check_digit(digits, expected):
    assert check_digit(digits) == expected


@pytest.mark.parametrize(
    ("gtin", "normalized"),
    [
        ("09506000134352", "09506000134352"),
        ("9506000134352", "09506000134352"),  # GTIN-13
        ("96385074", "00000096385074"),  # GTIN-8
        ("036000291452", "00036000291452"),  # GTIN-12 (UPC-A)
    ],
)
def test_normalize_gtin(gtin, normalized):
    assert normalize_gtin(gtin) == normalized


@pytest.mark.parametrize(
    ("gtin", "message"),
    [
        ("09506000134353", "check digit 3, expected 2"),
        ("0950600013435", "check digit 5, expected"),
        ("12345", "must be 8, 12, 13 or 14 digits"),
        ("0950600013435X", "must be 8, 12, 13 or 14 digits"),
    ],
)
def test_bad_gtin_is_rejected_with_reason(gtin, message):
    with pytest.raises(ValueError, match=message):
        gs1_label(gtin, lot="L1")


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"lot": "LOT42"}, "(01)09506000134352(10)LOT42"),
        ({"serial": "SN1", "expiry": "271231"}, "(01)09506000134352(17)271231(21)SN1"),
        ({"lot": "A", "serial": "B", "expiry": date(2027, 1, 31)},
         "(01)09506000134352(17)270131(10)A(21)B"),
        ({}, "(01)09506000134352"),
    ],
)  # fmt: skip
def test_gs1_label_orders_ais(kwargs, code):
    label = gs1_label("09506000134352", title="Widget", **kwargs)
    assert label.code == code
    assert label.symbology == "gs1-128"
    assert label.text == code  # the parenthesised form is printed
    assert label.title == "Widget"


@pytest.mark.parametrize(
    ("hri", "encoded"),
    [
        # Fixed-length AIs need no separator, even before a variable one.
        ("(01)09506000134352(10)LOT42", "010950600013435210LOT42"),
        ("(01)09506000134352(17)271231(21)SN1", "01095060001343521727123121SN1"),
        # A variable-length AI that is not last is closed by FNC1.
        ("(10)LOT42(21)SN1", "10LOT42" + FNC1 + "21SN1"),
        ("(10)L1(17)271231", "10L1" + FNC1 + "17271231"),
        # AI 240 is fixed by nothing: separator too.
        ("(240)ABC(10)L1", "240ABC" + FNC1 + "10L1"),
        ("(21)SN1", "21SN1"),
    ],
)
def test_element_string_places_fnc1(hri, encoded):
    assert element_string(parse_hri(hri)) == encoded


@pytest.mark.parametrize(
    ("hri", "message"),
    [
        ("0109506000134352", "must be written as"),
        ("(01)09506000134352junk(", "must be written as"),
        ("(01)09506000134353", "check digit"),
        ("(17)271332", "not a YYMMDD date"),
        ("(99)X", "not supported"),
        ("(10)" + "L" * 21, "not valid for this AI"),
        ("(10)LOT 42", "not valid for this AI"),
        ("(10)A(10)B", "repeats"),
        ("(01)09506000134352(10)" + "L" * 20 + "(21)" + "S" * 20, "exceeds 48"),
    ],
)
def test_bad_gs1_codes_are_rejected(hri, message):
    with pytest.raises(ValueError, match=message):
        Label(hri, "gs1-128")


def test_day_zero_is_a_gs1_date():
    assert parse_hri("(17)270200") == (Element("17", "270200"),)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"code": ""}, "non-empty"),
        ({"code": "K7", "symbology": "ean13"}, "not one of"),
        ({"code": "K7\n"}, "printable ASCII"),
        ({"code": "Ä7"}, "printable ASCII"),
        ({"code": "K" * 61}, "longer than 60"),
    ],
)
def test_label_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Label(**kwargs)


def test_label_defaults_and_info():
    label = Label("K7M2QX4R9", lines="Lot 7", stage="Paint")
    assert label.symbology == "code128"
    assert label.lines == ("Lot 7",)
    assert label.text == "K7M2QX4R9"
    assert label.info == ("Lot 7", "Stage: Paint")
    assert Label("K7", human="K-7").text == "K-7"
    assert hash(label) == hash(Label("K7M2QX4R9", lines=("Lot 7",), stage="Paint"))
