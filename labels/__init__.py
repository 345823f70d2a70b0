"""Label rendering for Koordinator: Code 128, GS1-128, QR and Data Matrix labels as SVG,
PNG, vector PDF sheets and ZPL, plus raw-TCP printing to Zebra printers.

This package is a library with no web framework and no server import: the server and the
``python -m labels`` command line both call the functions re-exported here.
"""

from labels.gs1 import check_digit, normalize_gtin
from labels.model import SYMBOLOGIES, Label, gs1_label
from labels.pdf import render_pdf
from labels.printer import PrinterError, send_zpl
from labels.render import render_png, render_svg
from labels.templates import TEMPLATES, Template
from labels.zpl import render_zpl

__all__ = [
    "SYMBOLOGIES",
    "TEMPLATES",
    "Label",
    "PrinterError",
    "Template",
    "check_digit",
    "gs1_label",
    "normalize_gtin",
    "render_pdf",
    "render_png",
    "render_svg",
    "render_zpl",
    "send_zpl",
]
