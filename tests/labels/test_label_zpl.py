"""ZPL: the printer's own barcode commands with the right data.

Code 128 fields are also read back the way a Zebra printer reads ``^BC`` in mode N (the
invocation codes of the ZPL II manual), drawn from the Code 128 bar table and decoded by
zxing-cpp, so a wrong FNC1 or code-set switch in the ZPL fails the test."""

import re

import pytest
from barcode.charsets import code128
from label_helpers import CASES, decode_image
from PIL import Image

from labels import Label, gs1_label, render_zpl

_START = {">9": (103, "A"), ">:": (104, "B"), ">;": (105, "C")}
_SWITCH = {">5": (99, "C"), ">6": (100, "B"), ">7": (101, "A")}


def unhex(field: str) -> str:
    """Undo ^FH escapes (underscore + two hex digits, UTF-8)."""
    return re.sub(
        r"(?:_[0-9A-F]{2})+",
        lambda m: bytes.fromhex(m.group(0).replace("_", "")).decode("utf-8"),
        field,
    )


def printer_bars(field: str) -> str:
    """Module pattern a printer makes of ``^BCN,…,N`` field data (after ^FH)."""
    start, charset = _START[field[:2]]
    values, i = [start], 2
    while i < len(field):
        pair = field[i : i + 2]
        if pair == ">8":
            values.append(102)
            i += 2
        elif pair in _SWITCH:
            value, charset = _SWITCH[pair]
            values.append(value)
            i += 2
        elif pair in ("><", ">="):
            values.append(ord(">" if pair == "><" else "~") - 32)
            i += 2
        elif charset == "C":
            values.append(int(pair))
            i += 2
        else:
            values.append(ord(field[i]) - 32)
            i += 1
    check = (values[0] + sum(i * v for i, v in enumerate(values[1:], start=1))) % 103
    return "".join(code128.CODES[v] for v in [*values, check]) + code128.STOP + "11"


def bars_image(pattern: str, module: int = 3) -> Image.Image:
    image = Image.new("L", ((len(pattern) + 20) * module, 80), 255)
    for i, bit in enumerate(pattern):
        if bit == "1":
            image.paste(0, ((i + 10) * module, 10, (i + 11) * module, 70))
    return image


def formats(zpl: str) -> list[str]:
    assert zpl.count("^XA") == zpl.count("^XZ")
    return re.findall(r"\^XA.*?\^XZ", zpl, flags=re.S)


@pytest.mark.parametrize(("label", "raw", "symbology"), CASES)
def test_each_label_uses_the_printer_symbol_command(label, raw, symbology):
    (fmt,) = formats(render_zpl([label]))
    command = {"]C0": "^BCN,", "]C1": "^BCN,", "]Q1": "^BQN,2,", "]d1": "^BXN,"}[symbology]
    assert fmt.count(command) == 1
    assert "^GF" not in fmt  # no bitmap graphics
    assert f"^FD{label.text}^FS" in fmt  # the human-readable line
    for line in label.info:
        assert f"^FD{line}^FS" in fmt
    if label.title:
        assert f"^FD{label.title}^FS" in fmt


@pytest.mark.parametrize(
    ("label", "raw", "symbology"), [c for c in CASES if c.values[2].startswith("]C")]
)
def test_code128_field_scans_back_as_the_printer_draws_it(label, raw, symbology):
    (fmt,) = formats(render_zpl([label], template="thermal-4x6", dpi=300))
    field = re.search(r"\^BCN,\d+,N,N,N,N\^FH\^FD(.*?)\^FS", fmt).group(1)
    reads = decode_image(bars_image(printer_bars(unhex(field))))
    assert [(r.raw, r.symbology) for r in reads] == [(raw, symbology)]


def test_gs1_field_starts_with_fnc1_and_separates_variable_fields():
    label = gs1_label("09506000134352", lot="LOT42", serial="SN1", expiry="271231")
    (fmt,) = formats(render_zpl([label]))
    assert "^FH^FD>;>8010950600013435217271231" in fmt
    assert "10>6LOT42>821SN1^FS" in fmt


def test_qr_and_datamatrix_data():
    zpl = render_zpl([Label("CMD-OP-0042", "qr"), Label("K7M2QX4R9", "datamatrix")])
    qr, dm = formats(zpl)
    assert re.search(r"\^BQN,2,\d+\^FH\^FDMA,CMD-OP-0042\^FS", qr)
    assert re.search(r"\^BXN,\d+,200\^FH\^FDK7M2QX4R9\^FS", dm)


def test_special_characters_are_escaped():
    label = Label("A^B~C_D>E", title="Bolt ^M8~ ü_1")
    (fmt,) = formats(render_zpl([label]))
    assert "^FDBolt _5EM8_7E _C3_BC_5F1^FS" in fmt
    field = re.search(r"\^BCN,\d+,N,N,N,N\^FH\^FD(.*?)\^FS", fmt).group(1)
    assert field == ">:A_5EB>=C_5FD><E"
    reads = decode_image(bars_image(printer_bars(unhex(field))))
    assert [r.raw for r in reads] == ["A^B~C_D>E"]


@pytest.mark.parametrize(
    ("template", "dpi", "size"),
    [("thermal-4x6", 203, "^PW812\n^LL1218"), ("thermal-2x1", 203, "^PW406\n^LL203"),
     ("thermal-2x1", 300, "^PW600\n^LL300")],
)  # fmt: skip
def test_page_size_in_dots(template, dpi, size):
    zpl = render_zpl([Label("K7M2QX4R9")] * 3, template=template, dpi=dpi)
    assert len(formats(zpl)) == 3
    assert all(size in fmt and "^CI28" in fmt for fmt in formats(zpl))


def test_ten_thousand_labels_make_ten_thousand_formats():
    labels = [Label(f"K{i:08d}") for i in range(10_000)]
    zpl = render_zpl(labels, template="thermal-2x1")
    assert zpl.count("^XA") == zpl.count("^XZ") == 10_000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"template": "a4-3x8"}, "needs a thermal template"),
        ({"dpi": 250}, "not a Zebra resolution"),
    ],
)
def test_bad_requests(kwargs, message):
    with pytest.raises(ValueError, match=message):
        render_zpl([Label("K7")], **kwargs)
