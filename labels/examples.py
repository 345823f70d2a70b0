"""Example labels, and the script that draws the pictures in ``docs/labels.md``.

    .venv/bin/python -m labels.examples docs/img/labels

writes one file per format into the folder: PNG and SVG labels, a PDF sheet and its first
page rasterised as PNG (this needs pypdfium2, a test dependency), and a ZPL job.
"""

from __future__ import annotations

import sys
from pathlib import Path

from labels.model import Label, gs1_label
from labels.pdf import render_pdf
from labels.render import render_png, render_svg
from labels.zpl import render_zpl


def examples() -> dict[str, Label]:
    return {
        "item": Label(
            "K7M2QX4R9",
            title="Hex bolt M8x40",
            lines=("Lot L2026-11", "Serial 123"),
            stage="Assembly",
        ),  # fmt: skip
        "gs1": gs1_label(
            "09506000134352",
            lot="LOT42",
            serial="SN1",
            expiry="271231",
            title="Widget 40 mm",
            stage="Goods in",
        ),  # fmt: skip
        "command": Label("CMD-OP-0042", title="Operator badge", lines=("Jane Roe",)),
        "qr": Label("CMD-ORD-2026-0107", "qr", title="Order 107", stage="Paint"),
        "datamatrix": Label("K8P3RT5W2", "datamatrix", title="Valve seat", lines=("Serial 9",)),
    }


def write_examples(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    labels = examples()
    written = []

    def write(name: str, data: str | bytes) -> None:
        path = folder / name
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        written.append(path)

    for name, label in labels.items():
        write(f"{name}.png", render_png(label, size="thermal-2x1" if name != "gs1" else None))
    write("item.svg", render_svg(labels["item"], size="thermal-2x1"))
    write("gs1-4x6.svg", render_svg(labels["gs1"], size="thermal-4x6"))
    sheet = [
        Label(f"K7M2QX{i:03d}", title="Hex bolt M8x40", lines=(f"Serial {i}",), stage="Goods in")
        for i in range(21)
    ] + [labels["gs1"], labels["qr"], labels["datamatrix"]]
    pdf = render_pdf(sheet, "a4-3x8")
    write("sheet-a4-3x8.pdf", pdf)
    write("gs1.zpl", render_zpl([labels["gs1"]], "thermal-4x6"))
    write("item-2x1.zpl", render_zpl([labels["item"]], "thermal-2x1"))

    import pypdfium2 as pdfium  # only for the picture of the sheet

    doc = pdfium.PdfDocument(pdf)
    try:
        page = doc[0]
        image = page.render(scale=150 / 72).to_pil()
        page.close()
    finally:
        doc.close()
    path = folder / "sheet-a4-3x8.png"
    image.convert("L").save(path, optimize=True)
    written.append(path)
    return written


if __name__ == "__main__":
    for path in write_examples(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img/labels")):
        print(path)
