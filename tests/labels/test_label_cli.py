"""``python -m labels`` run as a subprocess, its outputs decoded by zxing-cpp."""

import csv
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from label_helpers import (
    GS,
    decode_image,  # noqa: I001
    decode_png,
    free_port,
    pdf_pages,
    svg_to_image,
)

ROOT = Path(__file__).resolve().parents[2]


def run(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "labels", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_render_png_svg_pdf_zpl(tmp_path):
    for ext in ("png", "svg", "pdf", "zpl"):
        out = tmp_path / f"item.{ext}"
        result = run("render", "K7M2QX4R9", "-o", out, "--title", "Hex bolt", "--line", "Lot 7",
                     "--stage", "Assembly")  # fmt: skip
        assert result.returncode == 0, result.stderr
    assert [r.raw for r in decode_png((tmp_path / "item.png").read_bytes())] == ["K7M2QX4R9"]
    svg = (tmp_path / "item.svg").read_text()
    assert [r.raw for r in decode_image(svg_to_image(svg))] == ["K7M2QX4R9"]
    page = pdf_pages((tmp_path / "item.pdf").read_bytes())[0]
    assert [r.raw for r in decode_image(page)] == ["K7M2QX4R9"]
    assert "^BCN," in (tmp_path / "item.zpl").read_text()


def test_gs1_command(tmp_path):
    out = tmp_path / "p.png"
    result = run("gs1", "09506000134352", "--lot", "LOT42", "--serial", "SN1", "--expiry",
                 "271231", "-o", out)  # fmt: skip
    assert result.returncode == 0, result.stderr
    (read,) = decode_png(out.read_bytes())
    assert read.raw == "01095060001343521727123110LOT42" + GS + "21SN1"
    assert read.symbology == "]C1"


def test_batch_csv_to_sheet_scans_back(tmp_path):
    source = tmp_path / "received.csv"
    with source.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["code", "symbology", "title", "lines", "stage"])
        for i in range(48):
            writer.writerow([f"K7M2QX{i:03d}", "", "Hex bolt", f"Lot 7|Serial {i}", "Goods in"])
        writer.writerow(["(01)09506000134352(10)LOT42", "gs1-128", "Widget", "", ""])
        writer.writerow(["CMD-OP-0042", "qr", "Operator 42", "", ""])
    out = tmp_path / "sheet.pdf"
    result = run("batch", "--csv", source, "-o", out, "--template", "a4-3x8")
    assert result.returncode == 0, result.stderr
    assert "50 labels written" in result.stderr
    pages = pdf_pages(out.read_bytes())
    assert len(pages) == 3
    reads = sorted(r.raw for page in pages for r in decode_image(page))
    expected = [f"K7M2QX{i:03d}" for i in range(48)]
    assert reads == sorted([*expected, "010950600013435210LOT42", "CMD-OP-0042"])


def test_batch_code_list_to_zpl_with_progress(tmp_path):
    codes = tmp_path / "codes.txt"
    codes.write_text("# received today\n" + "".join(f"K{i:08d}\n" for i in range(150)))
    out = tmp_path / "roll.zpl"
    result = run("batch", "--codes", codes, "-o", out, "-t", "thermal-2x1")
    assert result.returncode == 0, result.stderr
    assert "150/150 labels" in result.stderr and "[####" in result.stderr
    assert out.read_text().count("^XA") == 150


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["render", "K7", "-o", "x.gif"], "must end in one of"),
        (["render", "Ä7", "-o", "x.png"], "printable ASCII"),
        (["gs1", "09506000134353", "-o", "x.png"], "expected 2"),
        (["batch", "-o", "x.pdf"], "no labels"),
        (["batch", "K7", "-o", "x.png"], "must end in one of .pdf, .zpl"),
        (["batch", "K7", "-o", "x.zpl", "-t", "a4-3x8"], "needs a thermal template"),
        (["batch", "--codes", "missing.txt", "-o", "x.pdf"], "cannot read"),
        (["render", "K7", "-o", "x.pdf", "--template", "a9"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_without_traceback(tmp_path, args, message):
    result = run(*[tmp_path / a if a.startswith(("x.", "missing")) else a for a in args])
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_csv_row_names_its_line(tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text("code,symbology\nK7M2QX4R9,\n(01)123,gs1-128\n")
    result = run("batch", "--csv", source, "-o", tmp_path / "x.pdf")
    assert result.returncode == 2
    assert f"{source} line 3:" in result.stderr
    assert "Traceback" not in result.stderr


def test_send_to_printer_and_to_a_closed_port(tmp_path):
    job = tmp_path / "job.zpl"
    job.write_text("^XA^FDhello^FS^XZ\n")
    received = bytearray()
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(10)
        port = server.getsockname()[1]

        def accept():
            conn, _ = server.accept()
            with conn:
                while chunk := conn.recv(4096):
                    received.extend(chunk)

        thread = threading.Thread(target=accept)
        thread.start()
        result = run("send", "127.0.0.1", job, "--port", port)
        thread.join(10)
    assert result.returncode == 0, result.stderr
    assert bytes(received) == job.read_bytes()

    result = run("send", "127.0.0.1", job, "--port", free_port(), "--timeout", "2")
    assert result.returncode == 1
    assert "refused the connection" in result.stderr
    assert "Traceback" not in result.stderr
