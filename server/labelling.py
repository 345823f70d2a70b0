"""Labels for items and command labels, and the record of every print in the ledger.

The `labels` package only draws; this module decides what goes on an item's label and
writes each print (first print `print`, later ones `reprint`) into the item's history. It
has no Flask import: the API and the pages both call it.

Symbology, `auto` (the default): an item of a product with a GTIN and a serial number gets
a GS1-128 label with (01) and (21), which identifies exactly that unit (the scan resolves
it by its SGTIN key). Everything else gets Code 128 of the internal item code, which also
identifies exactly one item. A GS1 lot label ((01)+(10)) names a lot, not an item, so it
is printed only when asked for with `gs1-128`.

Printing goes to registered printers only (`Printer`, by name): `send_to_printer` sends a
job and, whatever went wrong (refused, timed out, unknown host, a CUPS error), raises
`PrinterUnavailable` naming the printer and nothing else. The cause is logged for the admin;
the caller never learns host, port or errno, so print jobs cannot probe the network.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import subprocess

from labels import Label, PrinterError, gs1_label, send_zpl
from server.models import Item, LedgerEntry, Printer, Product

log = logging.getLogger(__name__)

SYMBOLOGY_CHOICES = ("auto", "code128", "gs1-128", "qr", "datamatrix")


class LabelError(ValueError):
    """An item cannot be labelled the way asked (e.g. GS1 without a GTIN)."""


def item_label(item: Item, product: Product, symbology: str = "auto") -> Label:
    """The built-in item label (no template): product name, symbol, code, SKU, lot and
    serial. Never the stage: it changes with the next scan, a label stays on the item."""
    lines = [product.sku]
    if item.lot:
        lines.append(f"LOT {item.lot}")
    if item.serial:
        lines.append(f"S/N {item.serial}")
    title = product.name[:40]
    if symbology == "auto":
        symbology = "gs1-128" if (product.gtin and item.serial) else "code128"
    if symbology == "gs1-128":
        if not product.gtin or not (item.serial or item.lot):
            raise LabelError(f"{item.code}: GS1 labels need a product GTIN and a lot or serial")
        label = gs1_label(
            product.gtin,
            lot=None if item.serial else item.lot,
            serial=item.serial,
            expiry=item.expiry,
            title=title,
            lines=tuple([*lines, item.code]),
        )
        return label
    return Label(code=item.code, symbology=symbology, title=title, lines=tuple(lines))


COMMAND_TITLES = {
    "OP": "Operator badge",
    "OUT": "Sign out",
    "ORD": "Order",
    "ACT": "Action",
    "WHY": "Reason",
    "QC": "Quality check",
    "DONE": "Done - station defaults",
    "LOC": "Location",
    "DOWN": "Machine down",
    "UP": "Machine running again",
}


def command_label(text: str) -> Label:
    """A command label (`CMD-OP-<badge>`, `CMD-ORD-<n>`, ...) as Code 128."""
    from server.core import codes
    from server.core.errors import Rejected

    try:
        parsed = codes.parse(text)
    except Rejected as exc:
        raise LabelError(f"{text!r} is not a command label") from exc
    if parsed.kind != codes.CodeKind.COMMAND:
        raise LabelError(f"{text!r} is not a command label")
    title = COMMAND_TITLES[parsed.command]
    if parsed.command == "WHY":
        return reason_label(parsed.arg)
    if parsed.command == "LOC":
        return location_label(parsed.arg)
    return Label(code=text, title=title, lines=(parsed.arg,) if parsed.arg else ())


def location_label(code: str) -> Label:
    """The label `LOC-<code>` of a location (server/core/locations.py): scanned, it makes
    the location the scanner's current one (putaway, transfer, receive into a bin)."""
    from server.core import locations
    from server.models import Site

    loc = locations.by_code(code)
    if loc is None:
        raise LabelError(f"No location {code}")
    site = Site.get_or_none(Site.id == loc.site_id)
    lines = tuple(t for t in (loc.name if loc.name != loc.code else "", site and site.code) if t)
    return Label(
        code=locations.label_text(loc.code),
        title=f"{COMMAND_TITLES['LOC']} {loc.code}",
        lines=lines,
    )


def reason_label(code: str) -> Label:
    """The reason label `CMD-WHY-<code>` of an active reason of the list, with its English
    and Indonesian text: a worker reads the one and the scanner the other."""
    from server.core import reasonlist
    from server.core.errors import Rejected

    try:
        reason = reasonlist.check_reason(code, None)
    except Rejected as exc:
        raise LabelError(exc.message) from exc
    lines = tuple(t for t in (reason.text_en, reason.text_id) if t)
    return Label(
        code=f"CMD-WHY-{reason.code}", title=f"{COMMAND_TITLES['WHY']} {reason.code}", lines=lines
    )


def reason_labels() -> list[Label]:
    """The labels of every active reason, by code: the sheet to print for the stations."""
    from server.models import Reason

    rows = Reason.select().where(Reason.active == True).order_by(Reason.code)  # noqa: E712
    return [reason_label(r.code) for r in rows]


def record_prints(items: list[Item], how: str, operator_id: int | None, now: dt.datetime) -> None:
    """One ledger entry per item: `print` the first time, `reprint` after."""
    if not items:
        return
    ids = [i.id for i in items]
    printed: set[int] = set()
    for k in range(0, len(ids), 500):
        printed.update(
            r
            for (r,) in LedgerEntry.select(LedgerEntry.item)
            .where(
                LedgerEntry.item.in_(ids[k : k + 500])
                & LedgerEntry.action.in_(("print", "reprint"))
            )
            .tuples()
        )
    rows = [
        {
            "origin": "api",
            "action": "reprint" if item.id in printed else "print",
            "item": item.id,
            "from_stage": item.stage,
            "to_stage": item.stage,
            "qty": item.qty,
            "status": "accepted",
            "message": f"Label {'reprinted' if item.id in printed else 'printed'} ({how})",
            "operator": operator_id,
            "received_at": now,
            "warnings": [],
        }
        for item in items
    ]
    for k in range(0, len(rows), 500):
        LedgerEntry.insert_many(rows[k : k + 500]).execute()


PRINTER_KINDS = ("zpl-tcp", "pdf-cups")
#: the output format each kind of printer takes
PRINTER_FORMAT = {"zpl-tcp": "zpl", "pdf-cups": "pdf"}
_ZPL_ADDRESS = re.compile(
    r"^(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?$"
)
_CUPS_QUEUE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,126}$")


class MediaMismatch(LabelError):
    """A label larger than the media its printer holds (server/core/printers.py): its
    job fails with reason `media_mismatch`, never a cropped label."""

    code = "media_mismatch"

    def __str__(self) -> str:
        return f"{self.code}: {self.args[0]}"


class PrinterUnavailable(Exception):
    """The printer did not take the job; the message names the printer only."""


def check_address(kind: str, address: str) -> str | None:
    """Why `address` is not one for a printer of `kind`, or None when it is."""
    if kind == "zpl-tcp":
        m = _ZPL_ADDRESS.match(address)
        if m is None:
            return "a zpl-tcp address is host or host:port"
        if m["port"] is not None and not 1 <= int(m["port"]) <= 65535:
            return "the port is 1 to 65535"
        return None
    if kind == "pdf-cups":
        return None if _CUPS_QUEUE.match(address) else "a pdf-cups address is a CUPS queue name"
    return f"kind is one of {', '.join(PRINTER_KINDS)}"


def send_to_printer(printer: Printer, output: bytes | str, timeout: float = 5.0) -> int:
    """Send a rendered job to a registered printer; the bytes sent."""
    data = output.encode("utf-8") if isinstance(output, str) else bytes(output)
    try:
        if printer.kind == "zpl-tcp":
            m = _ZPL_ADDRESS.match(printer.address)
            if m is None:
                raise PrinterError("bad address")
            host = m["host"].strip("[]")
            return send_zpl(host, data, port=int(m["port"] or 9100), timeout=timeout)
        if printer.kind == "pdf-cups":
            lp = shutil.which("lp")
            if lp is None:
                raise PrinterError("no lp command on this server (CUPS client)")
            done = subprocess.run(
                [lp, "-d", printer.address, "-t", "Koordinator labels", "-"],
                input=data,
                capture_output=True,
                timeout=timeout * 2,
                check=False,
            )
            if done.returncode != 0:
                raise PrinterError(f"lp exited {done.returncode}: {done.stderr[:200]!r}")
            return len(data)
        raise PrinterError(f"unknown kind {printer.kind!r}")
    except (PrinterError, OSError, subprocess.TimeoutExpired) as exc:
        # the admin sees why in the log; the caller sees only that it failed
        log.warning(
            "printer %s (%s %s) did not take the job: %s",
            printer.name,
            printer.kind,
            printer.address,
            exc,
        )
        raise PrinterUnavailable(f"Printer {printer.name} did not take the job") from exc


def render_job(job, printer: Printer) -> tuple[bytes, int | None]:
    """The bytes of a print job (server/core/printjobs.py) for its printer's kind, and the
    template version drawn: the job's stored bytes, or its item with its template (the
    template's newest version now; the default template when the rule names none)."""
    from labels import render_design_pdf
    from labels.zpl import design_zpl
    from server.core import labeltemplates, printers
    from server.models import ProductionOrder

    if job.data is not None:
        return bytes(job.data), job.version
    if job.item_id is None:
        raise LabelError("the job names no item and holds no label")
    item = Item.get_by_id(job.item_id)
    product = Product.get_by_id(item.product_id)
    order = ProductionOrder.get_or_none(ProductionOrder.id == item.order_id)
    row = labeltemplates.get(job.template or labeltemplates.DEFAULT)
    design = labeltemplates.design_of(row)
    why = printers.misfit(printer, design.width, design.height, f"template {row.name}")
    if why is not None:  # never cropped: the job fails, the queue moves on
        raise MediaMismatch(why)
    values = labeltemplates.item_values(item, product, order)
    if PRINTER_FORMAT[printer.kind] == "zpl":
        return design_zpl(design, values, printer.dpi).encode("utf-8"), row.version
    return render_design_pdf(design, [values], None, title=f"Koordinator {item.code}"), row.version


def test_label(printer: Printer) -> bytes:
    """A printer's test label: Code 128 `TEST-<printer id>` with its name, in its format;
    in ZPL at its dpi, as large as its media (2 x 1 in when the media is not known, 1 in
    long on continuous media)."""
    from labels import render_pdf
    from labels.zpl import label_zpl

    label = Label(
        code=f"TEST-{printer.id}", title=f"Test {printer.name}"[:40], lines=("Koordinator",)
    )
    if PRINTER_FORMAT[printer.kind] == "zpl":
        width = printer.media_width_mm or 50.8
        height = (printer.media_width_mm and printer.media_height_mm) or 25.4
        return label_zpl(label, width, height, printer.dpi or 203).encode("utf-8")
    return render_pdf([label], "thermal-2x1", title="Koordinator test print")
