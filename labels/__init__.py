"""Label rendering for Koordinator: Code 128, GS1-128, QR and Data Matrix labels as SVG,
PNG, vector PDF sheets and ZPL, plus raw-TCP printing to Zebra printers.

This package is a library with no web framework and no server import: the server and the
``python -m labels`` command line both call the functions re-exported here.
"""

from labels.design import Box, Design, default_design, layout_design
from labels.gs1 import check_digit, normalize_gtin
from labels.model import SYMBOLOGIES, Label, gs1_label
from labels.pdf import render_design_pdf, render_pdf
from labels.printer import PrinterError, send_zpl
from labels.render import render_design_png, render_design_svg, render_png, render_svg
from labels.templates import TEMPLATES, Template
from labels.zpl import design_zpl, render_zpl

__all__ = [
    "Box",
    "Design",
    "default_design",
    "design_zpl",
    "layout_design",
    "render_design_pdf",
    "render_design_png",
    "render_design_svg",
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
