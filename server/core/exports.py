"""Exports for spreadsheets: stock, items, ledger, production and scrap as CSV or XLSX,
streamed so that a million ledger rows never sit in memory at once.

Rows are read by keyset pagination (`WHERE id > last ORDER BY id LIMIT CHUNK`), the same
on SQLite and PostgreSQL: each query holds at most CHUNK rows (psycopg2's ordinary cursor
fetches a whole result at once, so one big SELECT would not stream) and no transaction
stays open while a slow client downloads. The ledger is append-only and the upper id is
fixed when the export starts, so a ledger export is an exact prefix of the ledger; stock,
items and orders may change between two chunks and a row shows the state of its chunk.

- CSV is written row by row, UTF-8 with a byte order mark (spreadsheets then read the
  names right), CRLF lines, every cell through `imports.neutralise` (no formula runs).
- XLSX is written by XlsxWriter in constant_memory mode (each row flushed to a temporary
  file, strings inline: memory stays flat however many rows) to a temporary file, which is
  then streamed and removed. Text is written as text, never as a formula; numbers as
  numbers; times as spreadsheet times. Past 1,048,575 rows a sheet continues on the next.

Times are the plant's local time (the IANA zone handed in, None is UTC); the date range
`day_from..day_to` is of plant days, inclusive (server/core/plantday.py).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal

import peewee as pw

from server.core import plantday, siteaccess
from server.core.errors import NotFound
from server.core.imports import neutralise
from server.core.stages import GONE, Stage
from server.models import (
    Item,
    LedgerEntry,
    Location,
    Product,
    ProductionOrder,
    Reason,
    Site,
    Station,
    StockCounter,
    User,
)

KINDS = ("stock", "items", "ledger", "production", "scrap")
FORMATS = ("csv", "xlsx")
MEDIA = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: rows per query
CHUNK = 2000
#: bytes per piece of a streamed answer
PIECE = 64 * 1024
#: data rows per XLSX sheet (Excel's 1,048,576 rows less the header)
SHEET_ROWS = 1_048_575

COLUMNS = {
    "stock": ("product", "name", "stage", "station", "count", "qty", "unit"),
    "items": (
        "code",
        "product",
        "name",
        "stage",
        "qty",
        "unit",
        "lot",
        "serial",
        "expiry",
        "station",
        "order",
        "held",
        "held_why",
        "created_at",
        "stage_at",
    ),
    "ledger": (
        "id",
        "received_at",
        "scanned_at",
        "origin",
        "scanner",
        "status",
        "action",
        "item",
        "product",
        "from_stage",
        "to_stage",
        "qty",
        "station",
        "order",
        "operator",
        "reason",
        "why",
        "message",
        "note",
        "raw_code",
    ),
    "production": (
        "order",
        "product",
        "name",
        "status",
        "station",
        "start",
        "due",
        "planned",
        "done_in_period",
        "done_total",
        "started",
        "remaining",
        "released_at",
        "done_at",
    ),
    "scrap": (
        "received_at",
        "item",
        "product",
        "name",
        "qty",
        "unit",
        "reason",
        "reason_text",
        "station",
        "order",
        "operator",
        "note",
    ),
}


@dataclasses.dataclass(frozen=True)
class Filters:
    """What to export: plant days `day_from..day_to` (inclusive; either may be open) and
    the natural filters of each kind (codes as people know them). `tz` is the plant's
    IANA time zone, `lang` the reader's language (reason texts of the scrap export)."""

    day_from: dt.date | None = None
    day_to: dt.date | None = None
    stage: str | None = None
    product: str | None = None
    order: str | None = None
    station: str | None = None
    status: str | None = None
    #: a site's code: the rows of the stations whose line side lies in it
    site: str | None = None
    #: a user limited to sites: the rows of those sites' stations only (None: every row;
    #: server/core/siteaccess.py)
    station_ids: list[int] | pw.Select | None = None
    tz: str | None = None
    lang: str = "en"

    def window(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The stored (naive UTC) times [lo, hi) of the plant days asked for."""
        lo = plantday.day_start(self.day_from, self.tz) if self.day_from else None
        hi = (
            plantday.day_start(self.day_to + dt.timedelta(days=1), self.tz) if self.day_to else None
        )
        return lo, hi


def _id_of(model, field, value: str | None, what: str) -> int | None:
    if value is None:
        return None
    row = model.select(model.id).where(field == value).first()
    if row is None:
        raise NotFound("not_found", f"No {what} {value}")
    return row.id


#: the filters given as codes, and where their ids are looked up
_BY_CODE = {
    "product": (Product, Product.sku),
    "station": (Station, Station.code),
    "order": (ProductionOrder, ProductionOrder.number),
}


def _narrowed(f: Filters, **columns) -> pw.Expression:
    """The condition of the filters `f` gives, each on the column named for it
    (`product=Item.product`, ...): codes resolved to ids now, so an unknown one is a 404
    before any byte; `stage` and `status` compared as they are; `site` through the
    `station` column."""
    cond = pw.SQL("1 = 1")
    for name, column in columns.items():
        value = getattr(f, name)
        if value is None:
            continue
        if name in _BY_CODE:
            value = _id_of(*_BY_CODE[name], value, name)
        cond &= column == value
    if f.site is not None:
        # every export has a station column: a row is the site's when its station is
        site_id = _id_of(Site, Site.code, f.site, "site")
        stations = (
            Station.select(Station.id)
            .join(Location, on=(Station.location_id == Location.id))
            .where(Location.site_id == site_id)
        )
        cond &= columns["station"].in_(stations)
    if f.station_ids is not None:
        cond &= siteaccess.among(columns["station"], f.station_ids)
    return cond


def _between(column, lo, hi):
    cond = pw.SQL("1 = 1")
    if lo is not None:
        cond &= column >= lo
    if hi is not None:
        cond &= column < hi
    return cond


def keyset(query: pw.Select, key: pw.Field, chunk: int) -> Iterator[tuple]:
    """The rows of `query` (tuples whose first value is `key`) in key order, `chunk` rows
    per query."""
    last = None
    while True:
        q = query if last is None else query.where(key > last)
        batch = list(q.order_by(key).limit(chunk).tuples())
        yield from batch
        if len(batch) < chunk:
            return
        last = batch[-1][0]


# --- the rows of each kind -------------------------------------------------------------------


def rows(kind: str, f: Filters, *, chunk: int | None = None) -> Iterator[tuple]:
    """The export of `kind`: its header, then its rows as tuples of plain values (str,
    int, Decimal, date, naive local datetime, bool or None)."""
    if kind not in KINDS:
        raise NotFound("not_found", f"No export {kind}; use one of {', '.join(KINDS)}")
    make = _KINDS[kind]
    body = make(
        f, chunk or CHUNK
    )  # resolves the filters now: an unknown code fails before any byte
    return _prepend(COLUMNS[kind], body)


def _prepend(header, body: Iterator[tuple]) -> Iterator[tuple]:
    yield header
    yield from body


def _local(f: Filters) -> Callable[[dt.datetime | None], dt.datetime | None]:
    zone = plantday.zone(f.tz)

    def to_local(moment):
        if moment is None:
            return None
        return moment.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None)

    return to_local


def _stock(f: Filters, chunk: int) -> Iterator[tuple]:
    cond = _narrowed(
        f,
        product=StockCounter.product,
        station=StockCounter.station_id,
        stage=StockCounter.stage,
    )
    cond &= (StockCounter.count != 0) | (StockCounter.qty != 0)
    if (
        f.stage is None
    ):  # stock is what is in the plant; shipped, consumed and scrapped only when asked
        cond &= StockCounter.stage.not_in([s.value for s in GONE])
    query = (
        StockCounter.select(
            StockCounter.id,
            Product.sku,
            Product.name,
            StockCounter.stage,
            Station.code,
            StockCounter.count,
            StockCounter.qty,
            Product.unit,
        )
        .join(Product)
        .switch(StockCounter)
        .join(Station, pw.JOIN.LEFT_OUTER, on=(StockCounter.station_id == Station.id))
        .where(cond)
    )
    return ((*r[1:6], _dec(r[6]), r[7]) for r in keyset(query, StockCounter.id, chunk))


def _items(f: Filters, chunk: int) -> Iterator[tuple]:
    cond = _narrowed(
        f, product=Item.product, station=Item.station, order=Item.order, stage=Item.stage
    )
    cond &= _between(Item.created_at, *f.window())
    query = (
        Item.select(
            Item.id,
            Item.code,
            Product.sku,
            Product.name,
            Item.stage,
            Item.qty,
            Product.unit,
            Item.lot,
            Item.serial,
            Item.expiry,
            Station.code,
            ProductionOrder.number,
            Item.held,
            Item.held_why,
            Item.created_at,
            Item.stage_at,
        )
        .join(Product, on=(Item.product == Product.id))
        .switch(Item)
        .join(Station, pw.JOIN.LEFT_OUTER, on=(Item.station == Station.id))
        .switch(Item)
        .join(ProductionOrder, pw.JOIN.LEFT_OUTER, on=(Item.order == ProductionOrder.id))
        .where(cond)
    )
    local = _local(f)
    return (
        (*r[1:5], _dec(r[5]), *r[6:12], bool(r[12]), r[13], local(r[14]), local(r[15]))
        for r in keyset(query, Item.id, chunk)
    )


def _ledger_window(f: Filters) -> tuple[int, int] | None:
    """The ids [first, last] of the ledger rows in the plant days asked for (through the
    received_at index), or None when there are none; the last id is fixed now."""
    lo, hi = f.window()
    first, last = (
        LedgerEntry.select(pw.fn.MIN(LedgerEntry.id), pw.fn.MAX(LedgerEntry.id))
        .where(_between(LedgerEntry.received_at, lo, hi))
        .tuples()
        .get()
    )
    return None if first is None else (first, last)


def _ledger(f: Filters, chunk: int) -> Iterator[tuple]:
    cond = _narrowed(
        f,
        product=Item.product,
        station=LedgerEntry.station,
        order=LedgerEntry.order,
        stage=LedgerEntry.to_stage,
        status=LedgerEntry.status,
    )
    span = _ledger_window(f)
    if span is None:
        return iter(())
    cond &= (LedgerEntry.id >= span[0]) & (LedgerEntry.id <= span[1])
    cond &= _between(LedgerEntry.received_at, *f.window())
    query = (
        LedgerEntry.select(
            LedgerEntry.id,
            LedgerEntry.received_at,
            LedgerEntry.scanned_at,
            LedgerEntry.origin,
            LedgerEntry.scanner_id,
            LedgerEntry.status,
            LedgerEntry.action,
            Item.code,
            Product.sku,
            LedgerEntry.from_stage,
            LedgerEntry.to_stage,
            LedgerEntry.qty,
            Station.code,
            ProductionOrder.number,
            User.username,
            LedgerEntry.reason,
            LedgerEntry.why,
            LedgerEntry.message,
            LedgerEntry.note,
            LedgerEntry.raw_code,
        )
        .join(Item, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.item == Item.id))
        .join(Product, pw.JOIN.LEFT_OUTER, on=(Item.product == Product.id))
        .switch(LedgerEntry)
        .join(Station, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.station == Station.id))
        .switch(LedgerEntry)
        .join(ProductionOrder, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.order == ProductionOrder.id))
        .switch(LedgerEntry)
        .join(User, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.operator == User.id))
        .where(cond)
    )
    local = _local(f)
    return (
        (r[0], local(r[1]), local(r[2]), *r[3:11], _dec(r[11]), *r[12:])
        for r in keyset(query, LedgerEntry.id, chunk)
    )


def _production(f: Filters, chunk: int) -> Iterator[tuple]:
    cond = _narrowed(
        f,
        product=ProductionOrder.product,
        station=ProductionOrder.station,
        order=ProductionOrder.id,
        status=ProductionOrder.status,
    )
    lo, hi = f.window()
    # an order belongs to the period when its schedule overlaps it or it completed
    # something in it
    if lo is not None or hi is not None:
        overlap = pw.SQL("1 = 1")
        if f.day_from is not None:
            overlap &= ProductionOrder.due >= f.day_from
        if f.day_to is not None:
            overlap &= ProductionOrder.start <= f.day_to
        done_in = LedgerEntry.select(LedgerEntry.order).where(
            _between(LedgerEntry.received_at, lo, hi)
            & (LedgerEntry.action == "complete")
            & (LedgerEntry.status == "accepted")
            & LedgerEntry.order.is_null(False)
        )
        cond &= overlap | ProductionOrder.id.in_(done_in)
    query = (
        ProductionOrder.select(
            ProductionOrder.id,
            ProductionOrder.number,
            Product.sku,
            Product.name,
            ProductionOrder.status,
            Station.code,
            ProductionOrder.start,
            ProductionOrder.due,
            ProductionOrder.qty,
            ProductionOrder.completed,
            ProductionOrder.started,
            ProductionOrder.released_at,
            ProductionOrder.done_at,
        )
        .join(Product)
        .switch(ProductionOrder)
        .join(Station, pw.JOIN.LEFT_OUTER)
        .where(cond)
    )
    return _production_batches(query, lo, hi, _local(f), chunk)


def _production_batches(query, lo, hi, local, chunk) -> Iterator[tuple]:
    batch: list[tuple] = []
    for r in keyset(query, ProductionOrder.id, chunk):
        batch.append(r)
        if len(batch) >= chunk:
            yield from _production_rows(batch, lo, hi, local)
            batch = []
    yield from _production_rows(batch, lo, hi, local)


def done_by_order(order_ids: list[int], lo, hi) -> dict[int, Decimal]:
    """Accepted complete scans in [lo, hi) per order: the quantity done in a period."""
    if not order_ids:
        return {}
    done = (
        LedgerEntry.select(LedgerEntry.order, pw.fn.SUM(LedgerEntry.qty))
        .where(
            LedgerEntry.order.in_(order_ids)
            & _between(LedgerEntry.received_at, lo, hi)
            & (LedgerEntry.action == "complete")
            & (LedgerEntry.status == "accepted")
        )
        .group_by(LedgerEntry.order)
        .tuples()
    )
    return {oid: _dec(q) for oid, q in done}


def _production_rows(batch, lo, hi, local) -> Iterator[tuple]:
    done = done_by_order([r[0] for r in batch], lo, hi)
    for r in batch:
        planned, completed = _dec(r[8]), _dec(r[9])
        yield (
            *r[1:8],
            planned,
            done.get(r[0], Decimal(0)),
            completed,
            _dec(r[10]),
            max(planned - completed, Decimal(0)),
            local(r[11]),
            local(r[12]),
        )


def _scrap(f: Filters, chunk: int) -> Iterator[tuple]:
    cond = _narrowed(f, product=Item.product, station=LedgerEntry.station, order=LedgerEntry.order)
    span = _ledger_window(f)
    if span is None:
        return iter(())
    cond &= (LedgerEntry.id >= span[0]) & (LedgerEntry.id <= span[1])
    cond &= _between(LedgerEntry.received_at, *f.window())
    cond &= (LedgerEntry.status == "accepted") & (LedgerEntry.to_stage == Stage.SCRAPPED.value)
    query = (
        LedgerEntry.select(
            LedgerEntry.id,
            LedgerEntry.received_at,
            Item.code,
            Product.sku,
            Product.name,
            LedgerEntry.qty,
            Product.unit,
            LedgerEntry.why,
            Station.code,
            ProductionOrder.number,
            User.username,
            LedgerEntry.note,
        )
        .join(Item, on=(LedgerEntry.item == Item.id))
        .join(Product, on=(Item.product == Product.id))
        .switch(LedgerEntry)
        .join(Station, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.station == Station.id))
        .switch(LedgerEntry)
        .join(ProductionOrder, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.order == ProductionOrder.id))
        .switch(LedgerEntry)
        .join(User, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.operator == User.id))
        .where(cond)
    )
    texts = reason_texts(f.lang)
    local = _local(f)
    return (
        (local(r[1]), *r[2:5], _dec(r[5]), r[6], r[7], texts.get(r[7], ""), *r[8:])
        for r in keyset(query, LedgerEntry.id, chunk)
    )


def reason_texts(lang: str) -> dict[str, str]:
    """The reason list's texts in `lang` (English where a text is missing)."""
    return {
        code: (text_id if lang == "id" and text_id else text_en)
        for code, text_en, text_id in Reason.select(
            Reason.code, Reason.text_en, Reason.text_id
        ).tuples()
    }


_KINDS: dict[str, Callable[[Filters, int], Iterator[tuple]]] = {
    "stock": _stock,
    "items": _items,
    "ledger": _ledger,
    "production": _production,
    "scrap": _scrap,
}


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(value)


# --- writing -----------------------------------------------------------------------------------


def cell_text(value) -> str:
    """A value as CSV text: numbers plain (no exponent, no trailing zeros), times to the
    second, booleans true/false, None empty."""
    if type(value) is str:  # most cells: first
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def csv_pieces(table: Iterable[tuple]) -> Iterator[bytes]:
    """The table as UTF-8 CSV (with a byte order mark), in pieces of about PIECE bytes;
    every cell neutralised against formulas."""
    buf = io.StringIO()
    buf.write("\ufeff")
    out = csv.writer(buf, lineterminator="\r\n")
    for row in table:
        out.writerow([neutralise(cell_text(v)) for v in row])
        if buf.tell() >= PIECE:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode("utf-8")


def xlsx_pieces(table: Iterable[tuple], *, sheet: str = "export") -> Iterator[bytes]:
    """The table as an XLSX workbook, built in constant memory in a temporary file and
    then read back in pieces of PIECE bytes (the file is removed at the end)."""
    import xlsxwriter  # only the XLSX exports need it

    fd, path = tempfile.mkstemp(prefix="koordinator-export-", suffix=".xlsx")
    os.close(fd)
    try:
        book = xlsxwriter.Workbook(
            path,
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "tmpdir": os.path.dirname(path),
            },
        )
        when = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        day = book.add_format({"num_format": "yyyy-mm-dd"})
        it = iter(table)
        header = next(it)
        ws, n, sheets = None, SHEET_ROWS, 0
        for row in it:
            if n >= SHEET_ROWS:
                sheets += 1
                ws = book.add_worksheet(sheet if sheets == 1 else f"{sheet} {sheets}")
                for c, name in enumerate(header):
                    ws.write_string(0, c, name)
                n = 0
            n += 1
            for c, v in enumerate(row):
                _xlsx_cell(ws, n, c, v, when, day)
        if ws is None:
            ws = book.add_worksheet(sheet)
            for c, name in enumerate(header):
                ws.write_string(0, c, name)
        book.close()
        with open(path, "rb") as fh:
            while piece := fh.read(PIECE):
                yield piece
    finally:
        os.unlink(path)


def _xlsx_cell(ws, r: int, c: int, v, when, day) -> None:
    if v is None:
        return
    if isinstance(v, bool):
        ws.write_boolean(r, c, v)
    elif isinstance(v, int):
        ws.write_number(r, c, v)
    elif isinstance(v, Decimal):
        # a spreadsheet number is a double: exact to 15 digits, past that kept as text
        if len(v.normalize().as_tuple().digits) <= 15:
            ws.write_number(r, c, float(v))
        else:
            ws.write_string(r, c, cell_text(v))
    elif isinstance(v, dt.datetime):
        ws.write_datetime(r, c, v.replace(microsecond=0), when)
    elif isinstance(v, dt.date):
        ws.write_datetime(r, c, dt.datetime.combine(v, dt.time()), day)
    else:
        ws.write_string(r, c, str(v))  # text stays text: never a formula


def export(kind: str, fmt: str, f: Filters, *, chunk: int | None = None) -> Iterator[bytes]:
    """The export of `kind` as `fmt` (csv or xlsx), in pieces. The filters are checked
    now (NotFound for an unknown product, order or station); rows are read as the pieces
    are taken."""
    if fmt not in FORMATS:
        raise NotFound("not_found", f"No export format {fmt}; use csv or xlsx")
    table = rows(kind, f, chunk=chunk)
    return csv_pieces(table) if fmt == "csv" else xlsx_pieces(table, sheet=kind)
