"""CSV import and export of products, bills of materials, routings, stations, orders and the
reason list.

A file is applied in one transaction or not at all. Every row is checked — first against
the same pydantic model the JSON API validates with (handed in by the caller, so this module
needs no Flask), then against the database while it is applied — and every bad row is
reported with its line number in the file (the header is line 1; a quoted cell spanning
lines counts its first line). One bad row and nothing is written.

Except for what moves kept totals: a location moved to another parent and a product whose
unit changes (`stock.move_subtree`, `stock.unit_change`, which on PostgreSQL lock
`location_total` against every scan batch to the commit). The file's transaction checks
each such move against the committed tree with the file's earlier moves laid over it in
memory (so a later row's loop check sees them), never writing a parent there (a parent
written and put back would undo a move someone else commits meanwhile), and moves no
totals and takes no lock; after that transaction commits, each move and unit change is
made in a short transaction of its own, in the file's order, checked again under the
totals' lock against the tree as it is then. A dry run stops before that: it reports the moves and unit
changes it would make (`moves`, `unit_changes`) and locks nothing. One of them refused
then (the tree or the product changed meanwhile) leaves the others made and the rest of
the file committed, and is reported (`ImportIncomplete`: the counts, the moves and unit
changes made, the refused ones by line); the file imported again is then unchanged where it
landed and finishes the rest.

| file | columns (* required) | a row means |
|---|---|---|
| products | sku*, name*, kind*, tracking, gtin, unit, reorder_point | the whole product, created or replaced by sku |
| bom | product*, component*, qty* | one line; each product in the file gets exactly the file's lines |
| routings | product*, station*, seq | one step; each product's steps in seq order (else file order) |
| stations | code*, name*, default_action*, operator_required, dwell_limit_minutes, policy, rework_to | the whole station, by code; policy as `check=warn;check=reject;scrap_by=operator`; rework_to a station that exists or is in the file |
| orders | number*, product*, qty*, start*, due*, station, status | a new order, or an edit of an open one; status `released` releases a planned order, other values are ignored |
| locations | code*, kind*, name, site, parent, allow_products, allow_kinds, active | the whole location, by code; parent a location that exists or is in the file (in any order); allow_* as `A;B` |
| shifts | name*, start*, end*, active, site, breaks | the whole shift, by name and site (empty: every site); times HH:MM local on quarter hours; breaks as `10:00-10:15;12:00-12:30` |
| machines | code*, name*, station*, rate_per_hour, active | the whole machine, by code (its state is left as it is) |
| standard_times | product*, station*, std_minutes, setup_minutes | the times of the product's routing step at that station (empty: not set) |

Empty cells take the model's default. Exports write the same columns, so an export imports
back unchanged.

Formulas: a spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, tab or CR as a
formula (CSV injection). An export writes such a cell with a leading `'` (a spreadsheet's
"this is text"), and so a cell that starts with `'` followed by one of those or by another
`'`; an import drops that one `'` again, so the round trip stays exact.
"""  # noqa: E501 - the table reads better unbroken

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import types
from collections.abc import Callable
from decimal import Decimal

import peewee as pw
import pydantic

from server.core import locations, planning, reasonlist, shifts, stock
from server.core.errors import DomainError, Invalid
from server.models import (
    BomLine,
    Item,
    Location,
    Machine,
    Product,
    ProductionOrder,
    Reason,
    RoutingStep,
    Shift,
    Site,
    Station,
)

MAX_ROWS = 100_000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """A cell a spreadsheet will show as text, never run as a formula."""
    if cell.startswith(FORMULA_START) or (
        cell.startswith("'") and cell[1:2] in (*FORMULA_START, "'")
    ):
        return "'" + cell
    return cell


def restore(cell: str) -> str:
    """The cell `neutralise` was given (the inverse on everything it writes)."""
    if cell.startswith("'") and cell[1:2] and cell[1:2] in (*FORMULA_START, "'"):
        return cell[1:]
    return cell


KINDS = (
    "products",
    "bom",
    "routings",
    "stations",
    "orders",
    "reasons",
    "locations",
    "shifts",
    "machines",
    "standard_times",
)


@dataclasses.dataclass(frozen=True)
class Spec:
    columns: tuple[str, ...]
    required: tuple[str, ...]


SPECS = {
    "products": Spec(
        ("sku", "name", "kind", "tracking", "gtin", "unit", "reorder_point"),
        ("sku", "name", "kind"),
    ),
    "bom": Spec(("product", "component", "qty"), ("product", "component", "qty")),
    "routings": Spec(("product", "station", "seq"), ("product", "station")),
    "stations": Spec(
        (
            "code",
            "name",
            "default_action",
            "operator_required",
            "dwell_limit_minutes",
            "policy",
            "rework_to",
        ),
        ("code", "name", "default_action"),
    ),
    "orders": Spec(
        ("number", "product", "qty", "start", "due", "station", "status"),
        ("number", "product", "qty", "start", "due"),
    ),
    "reasons": Spec(
        ("code", "text_en", "text_id", "applies_to", "active"),
        ("code", "text_en", "applies_to"),
    ),
    "locations": Spec(
        ("code", "kind", "name", "site", "parent", "allow_products", "allow_kinds", "active"),
        ("code", "kind"),
    ),
    "shifts": Spec(("name", "start", "end", "active", "site", "breaks"), ("name", "start", "end")),
    "machines": Spec(
        ("code", "name", "station", "rate_per_hour", "active"), ("code", "name", "station")
    ),
    "standard_times": Spec(
        ("product", "station", "std_minutes", "setup_minutes"), ("product", "station")
    ),
}


class BadCSV(Invalid):
    """The file is refused; `details` lists `{"line", "error"}` per bad row."""

    def __init__(self, message: str, errors: list[dict]):
        super().__init__("bad_csv", message)
        self.details = errors  # a list, so the JSON answer carries it as is


class ImportIncomplete(DomainError):
    """The file's rows are in, but some of its moves or unit changes were refused after it
    committed; importing the file again finishes them. `details` is what was done, for a
    script: the result's counts, `moves` and `unit_changes` limited to those made, and
    `refused` (`{"line", "error"}` each)."""

    status = 409

    def __init__(self, message: str, errors: list[dict], result: Result):
        super().__init__("import_incomplete", message)
        refused = {e["line"] for e in errors}
        done = result.as_dict()
        done["moves"] = [m for m in result.moves if m["line"] not in refused]
        done["unit_changes"] = [u for u in result.unit_changes if u["line"] not in refused]
        done["refused"] = errors
        self.details = done
        self.refused = errors
        self.result = result


class _Abort(Exception):
    """Leaves the transaction so that it rolls back."""


@dataclasses.dataclass
class Row:
    line: int
    cells: dict[str, str]
    model: pydantic.BaseModel | None = None


@dataclasses.dataclass
class Result:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    #: locations moved to another parent: {"line", "code", "from", "to"} (parent codes)
    moves: list[dict] = dataclasses.field(default_factory=list)
    #: products whose unit changed: {"line", "sku", "from", "to"}
    unit_changes: list[dict] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class _Later:
    """A move or unit change, made after the file's transaction in one of its own."""

    line: int
    kind: str  # "move" or "unit"
    target_id: int  # the location's or the product's id
    to: str | None  # the new parent's code (None: the top) or the new unit
    to_id: int | None = None  # a move: the new parent's id (the file's overlay of the tree)


def _checkpoint(stage: str, line: int) -> None:
    """Called after each row applied in the file's transaction (`stage` "row") and after
    each move or unit change committed ("committed"); tests hold an import here."""


def _pydantic_error(exc: pydantic.ValidationError) -> str:
    parts = []
    for e in exc.errors(include_url=False, include_context=False, include_input=False):
        loc = ".".join(str(p) for p in e["loc"])
        parts.append(f"{loc}: {e['msg']}" if loc else e["msg"])
    return "; ".join(parts)


def read_rows(kind: str, text: str) -> tuple[list[Row], list[dict]]:
    """The file's rows as dicts of non-empty cells, and the errors of its shape."""
    spec = SPECS[kind]
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    errors: list[dict] = []
    try:
        header = next(reader)
    except StopIteration:
        raise BadCSV("The file is empty", [{"line": 1, "error": "no header row"}]) from None
    except csv.Error as exc:
        raise BadCSV("Not a CSV file", [{"line": 1, "error": str(exc)}]) from exc
    names = [h.strip().lower() for h in header]
    unknown = [n for n in names if n not in spec.columns]
    missing = [c for c in spec.required if c not in names]
    if unknown or missing or len(set(names)) != len(names):
        why = []
        if unknown:
            why.append(f"unknown column(s) {', '.join(unknown)}")
        if missing:
            why.append(f"missing column(s) {', '.join(missing)}")
        if len(set(names)) != len(names):
            why.append("a column appears twice")
        why.append(f"expected {', '.join(spec.columns)}")
        raise BadCSV("Bad header row", [{"line": 1, "error": "; ".join(why)}])
    rows: list[Row] = []
    last = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append({"line": last + 1, "error": f"not CSV: {exc}"})
            break
        line, last = last + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(rows) >= MAX_ROWS:
            errors.append({"line": line, "error": f"more than {MAX_ROWS} rows"})
            break
        if len(cells) > len(names):
            errors.append({"line": line, "error": f"{len(cells)} cells, header has {len(names)}"})
            continue
        values = {n: restore(c.strip()) for n, c in zip(names, cells, strict=False) if c.strip()}
        rows.append(Row(line, values))
    return rows, errors


def import_csv(
    db: pw.Database,
    kind: str,
    text: str,
    *,
    models: dict[str, type[pydantic.BaseModel]],
    now: dt.datetime,
    user_id: int | None = None,
    dry_run: bool = False,
) -> Result:
    """Apply a CSV file of `kind` in one transaction; BadCSV lists every bad row.

    `models` are the API's request models: `product` (products), `bom_line` (bom),
    `routing` (routings), `station` (stations), `order` (orders), `reason` (reasons),
    `shift` (shifts), `machine` (machines), `step_times` (standard_times).

    Moves in the tree and unit changes are made after the file's commit, each in a
    transaction of its own (the module's doc); ImportIncomplete lists those refused then.
    Called inside an open transaction, all of it is that transaction's (savepoints), and
    the totals' lock is held to its commit: callers open none (the API does not).
    """
    if kind not in SPECS:
        raise Invalid("not_found", f"No import for {kind}")
    rows, errors = read_rows(kind, text)
    prepare, apply = _HANDLERS[kind]
    for row in rows:
        try:
            row.model = prepare(row.cells, models)
        except pydantic.ValidationError as exc:
            errors.append({"line": row.line, "error": _pydantic_error(exc)})
        except ValueError as exc:
            errors.append({"line": row.line, "error": str(exc)})
    good = [r for r in rows if r.model is not None]
    result = Result(kind=kind, rows=len(rows), dry_run=dry_run)
    later: list[_Later] = []
    try:
        with db.atomic():
            # no move is written here (checked against the tree and the file's own moves,
            # `_upsert_location`); each is made below, with its totals, on its own
            apply(db, good, errors, result, models=models, now=now, user_id=user_id, later=later)
            if errors or dry_run:
                raise _Abort
    except _Abort:
        pass
    if errors:
        errors.sort(key=lambda e: e["line"])
        raise BadCSV(f"{len(errors)} bad row(s) in the {kind} file; nothing was imported", errors)
    if dry_run:
        return result
    refused = _make_later(db, later)
    if refused:
        made = len(later) - len(refused)
        raise ImportIncomplete(
            f"{len(refused)} of the {kind} file's {len(later)} move(s) or unit change(s) "
            f"refused ({made} made, every other row imported); import the file again to "
            "finish",
            refused,
            result,
        )
    return result


def _make_later(db: pw.Database, later: list[_Later]) -> list[dict]:
    """Each move or unit change in a short transaction of its own, in the file's order:
    the totals' lock (PostgreSQL) is held for one of them at a time. Returns the refused
    ones by line; the ones made stay made."""
    refused: list[dict] = []
    for change in later:
        try:
            with db.atomic():
                if change.kind == "move":
                    loc = Location.get_or_none(Location.id == change.target_id)
                    if loc is None:
                        raise Invalid("unknown_location", "the location is gone")
                    # checks the parent again; move_subtree locks the totals and reads where
                    # the place is now (a re-run, or a move made meanwhile, moves nothing)
                    locations.edit(loc, parent=change.to)
                else:
                    with stock.unit_change(change.target_id):  # locks, reads the unit now
                        Product.update(unit=change.to).where(
                            Product.id == change.target_id
                        ).execute()
        except DomainError as exc:
            refused.append({"line": change.line, "error": exc.message})
            continue
        except pw.IntegrityError as exc:
            error = f"conflicts with existing data ({exc})"[:300]
            refused.append({"line": change.line, "error": error})
            continue
        _checkpoint("committed", change.line)
    return refused


def _row_step(db: pw.Database, row: Row, errors: list[dict], fn: Callable[[], str | None]):
    """Run one row's change in a savepoint; a refusal becomes the row's error."""
    try:
        with db.atomic():
            outcome = fn()
        _checkpoint("row", row.line)
        return outcome
    except DomainError as exc:
        errors.append({"line": row.line, "error": exc.message})
    except pw.IntegrityError as exc:
        errors.append({"line": row.line, "error": f"conflicts with existing data ({exc})"[:300]})
    return None


def _count(result: Result, outcome: str | None) -> None:
    if outcome is not None:
        setattr(result, outcome, getattr(result, outcome) + 1)


def _first_seen(rows: list[Row], key: Callable[[Row], object], errors, what: str) -> list[Row]:
    seen: dict[object, int] = {}
    out = []
    for r in rows:
        k = key(r)
        if k in seen:
            errors.append({"line": r.line, "error": f"{what} repeats line {seen[k]}"})
        else:
            seen[k] = r.line
            out.append(r)
    return out


# --- products ----------------------------------------------------------------------------


def _prep_product(cells, models):
    return models["product"].model_validate(cells)


def _apply_products(db, rows, errors, result, later, **_):
    rows = _first_seen(rows, lambda r: r.model.sku, errors, "sku")
    rows = _first_seen(rows, lambda r: r.model.gtin or f"none-{r.line}", errors, "gtin")
    for row in rows:
        step = lambda row=row: _upsert_product(row, result, later)  # noqa: E731
        _count(result, _row_step(db, row, errors, step))


def _upsert_product(row: Row, result: Result, later: list[_Later]) -> str:
    m = row.model
    data = m.model_dump()
    if m.gtin:
        other = Product.get_or_none((Product.gtin == m.gtin) & (Product.sku != m.sku))
        if other is not None:
            raise Invalid("exists", f"GTIN {m.gtin} belongs to {other.sku}")
    product = Product.get_or_none(Product.sku == m.sku)
    if product is None:
        Product.create(**data)
        return "created"
    if (product.kind, product.tracking) != (m.kind, m.tracking) and (
        Item.select().where(Item.product == product.id).exists()
    ):
        raise Invalid(
            "bad_payload", f"{m.sku} has items: its kind and tracking can no longer change"
        )
    if _same(product, data):
        return "unchanged"
    if "unit" in data and data["unit"] != product.unit:
        # the rest of the row now; the unit (its stock by place moves to the new unit's
        # totals) after the file's transaction, in one of its own (the module's doc)
        unit = data.pop("unit")
        Product.update(**data).where(Product.id == product.id).execute()
        later.append(_Later(row.line, "unit", product.id, unit))
        result.unit_changes.append(
            {"line": row.line, "sku": product.sku, "from": product.unit, "to": unit}
        )
        return "updated"
    Product.update(**data).where(Product.id == product.id).execute()
    return "updated"


def _same(obj, data: dict) -> bool:
    for key, value in data.items():
        have = getattr(obj, key)
        if isinstance(value, Decimal) or isinstance(have, Decimal):
            if (have is None) != (value is None) or (
                have is not None and Decimal(have) != Decimal(value)
            ):
                return False
        elif have != value:
            return False
    return True


# --- bills of materials --------------------------------------------------------------------


def _prep_bom(cells, models):
    product = cells.get("product", "")
    line = models["bom_line"].model_validate(
        {k: v for k, v in cells.items() if k in ("component", "qty")}
    )
    if not product:
        raise ValueError("product: Field required")
    return _Keyed(product, line)


@dataclasses.dataclass
class _Keyed:
    key: str
    model: pydantic.BaseModel


def _products_by_sku(skus) -> dict[str, Product]:
    return {p.sku: p for p in Product.select().where(Product.sku.in_(list(skus) or [""]))}


def _apply_bom(db, rows, errors, result, **_):
    skus = {r.model.key for r in rows} | {r.model.model.component for r in rows}
    products = _products_by_sku(skus)
    rows = _first_seen(rows, lambda r: (r.model.key, r.model.model.component), errors, "line")
    lines: dict[int, list[dict]] = {}
    for row in rows:
        sku, comp_sku = row.model.key, row.model.model.component
        product, comp = products.get(sku), products.get(comp_sku)
        if product is None or comp is None:
            errors.append(
                {"line": row.line, "error": f"no product {sku if not product else comp_sku}"}
            )
            continue
        if comp.id == product.id:
            errors.append({"line": row.line, "error": f"{sku} cannot contain itself"})
            continue
        if comp.kind not in ("raw", "component", "supplies"):
            errors.append({"line": row.line, "error": f"{comp_sku} is {comp.kind}"})
            continue
        lines.setdefault(product.id, []).append(
            {"product": product.id, "component": comp.id, "qty": row.model.model.qty}
        )
    for product_id, new in lines.items():
        old = {
            (c, Decimal(q))
            for c, q in BomLine.select(BomLine.component, BomLine.qty)
            .where(BomLine.product == product_id)
            .tuples()
        }
        if old == {(r["component"], Decimal(r["qty"])) for r in new}:
            result.unchanged += 1
            continue
        BomLine.delete().where(BomLine.product == product_id).execute()
        BomLine.insert_many(new).execute()
        result.updated += 1 if old else 0
        result.created += 0 if old else 1


# --- routings -------------------------------------------------------------------------------


def _prep_routing(cells, models):
    if not cells.get("product"):
        raise ValueError("product: Field required")
    seq = cells.get("seq")
    if seq is not None:
        try:
            seq = int(seq)
        except ValueError:
            raise ValueError(f"seq: {seq!r} is not a whole number") from None
        if seq < 1:
            raise ValueError("seq: must be 1 or more")
    step = models["routing"].model_validate({"stations": [cells.get("station", "")]})
    return _Keyed(cells["product"], step)


def _apply_routings(db, rows, errors, result, models, **_):
    products = _products_by_sku({r.model.key for r in rows})
    stations = {
        s.code: s
        for s in Station.select().where(
            Station.code.in_([r.cells["station"] for r in rows] or [""])
        )
    }
    steps: dict[str, list[tuple[int, int, Row]]] = {}
    for row in rows:
        sku, code = row.model.key, row.cells["station"]
        if sku not in products:
            errors.append({"line": row.line, "error": f"no product {sku}"})
            continue
        if code not in stations:
            errors.append({"line": row.line, "error": f"no station {code}"})
            continue
        seq = int(row.cells["seq"]) if "seq" in row.cells else None
        steps.setdefault(sku, []).append((seq if seq is not None else row.line, row.line, row))
    for sku, product_steps in steps.items():
        product_steps.sort(key=lambda s: (s[0], s[1]))
        seen_seq: dict[int, int] = {}
        seen_station: dict[str, int] = {}
        ok = True
        for seq, line, row in product_steps:
            code = row.cells["station"]
            if "seq" in row.cells and seq in seen_seq:
                errors.append({"line": line, "error": f"seq {seq} repeats line {seen_seq[seq]}"})
                ok = False
            if code in seen_station:
                errors.append(
                    {"line": line, "error": f"station {code} repeats line {seen_station[code]}"}
                )
                ok = False
            seen_seq[seq], seen_station[code] = line, line
        codes = [row.cells["station"] for _s, _l, row in product_steps]
        try:
            models["routing"].model_validate({"stations": codes})
        except pydantic.ValidationError as exc:
            errors.append({"line": product_steps[0][1], "error": _pydantic_error(exc)})
            ok = False
        if not ok:
            continue
        product = products[sku]
        old = [
            s
            for (s,) in RoutingStep.select(RoutingStep.station)
            .where(RoutingStep.product == product.id)
            .order_by(RoutingStep.seq)
            .tuples()
        ]
        new = [stations[c].id for c in codes]
        if old == new:
            result.unchanged += 1
            continue
        RoutingStep.delete().where(RoutingStep.product == product.id).execute()
        RoutingStep.insert_many(
            [{"product": product.id, "seq": i, "station": s} for i, s in enumerate(new, 1)]
        ).execute()
        result.updated += 1 if old else 0
        result.created += 0 if old else 1


# --- stations -------------------------------------------------------------------------------


def _prep_station(cells, models):
    data = dict(cells)
    if "policy" in data:
        policy = {}
        for part in data["policy"].replace(",", ";").split(";"):
            if not part.strip():
                continue
            check, sep, answer = part.partition("=")
            if not sep:
                raise ValueError(
                    f"policy: {part.strip()!r} is not check=reject|warn or scrap_by=..."
                )
            policy[check.strip()] = answer.strip()
        data["policy"] = policy
    return models["station"].model_validate(data)


def _apply_stations(db, rows, errors, result, **_):
    rows = _first_seen(rows, lambda r: r.model.code, errors, "code")
    later = []  # rows whose rework_to is a station this file creates after them
    for row in rows:
        _count(result, _row_step(db, row, errors, lambda row=row: _upsert_station(row, later)))
    for row in later:
        _row_step(db, row, errors, lambda row=row: _set_rework_to(row.model))


def _upsert_station(row, later: list) -> str:
    m = row.model
    data = m.model_dump()
    rework_to = data.pop("rework_to", None)
    target = Station.get_or_none(Station.code == rework_to) if rework_to is not None else None
    if rework_to is not None and target is None:
        later.append(row)
    data["rework_to_id"] = target.id if target is not None else None
    data.pop("location", None)  # not a column of the stations file: kept as it is
    station = Station.get_or_none(Station.code == m.code)
    if station is None:
        locations.line_side(Station.create(**data))
        return "created"
    if _same(station, data):
        return "unchanged"
    Station.update(**data).where(Station.id == station.id).execute()
    return "updated"


def _set_rework_to(m) -> None:
    target = Station.get_or_none(Station.code == m.rework_to)
    if target is None:
        raise Invalid("unknown_station", f"rework_to: no station {m.rework_to}")
    Station.update(rework_to_id=target.id).where(Station.code == m.code).execute()


# --- orders ---------------------------------------------------------------------------------


def _prep_order(cells, models):
    status = cells.get("status")
    model = models["order"].model_validate({k: v for k, v in cells.items() if k != "status"})
    if status is not None and status not in planning.STATUSES:
        raise ValueError(f"status: {status!r} is not one of {', '.join(planning.STATUSES)}")
    return model


def _apply_orders(db, rows, errors, result, now, user_id, **_):
    rows = _first_seen(rows, lambda r: r.model.number, errors, "number")
    for row in rows:
        _count(
            result,
            _row_step(
                db, row, errors, lambda row=row: _upsert_order(row, now=now, user_id=user_id)
            ),
        )


def _upsert_order(row: Row, *, now, user_id) -> str:
    m = row.model
    status = row.cells.get("status")
    plan = planning.OrderPlan(
        number=m.number, product=m.product, qty=m.qty, start=m.start, due=m.due, station=m.station
    )
    order = ProductionOrder.get_or_none(ProductionOrder.number == m.number)
    if order is None:
        if status not in (None, "planned", "released"):
            raise Invalid("bad_status", f"a new order starts planned or released, not {status}")
        order = planning.create_order(plan, now=now, user_id=user_id)
        if status == "released":
            planning.release_order(order, now=now, user_id=user_id)
        return "created"
    if order.product.sku != m.product:
        raise Invalid("bad_payload", f"order {m.number} is for {order.product.sku}")
    station = Station.get_by_id(order.station_id).code if order.station_id else None
    changed = False
    if (Decimal(order.qty), order.start, order.due, station) != (m.qty, m.start, m.due, m.station):
        changed = bool(
            planning.edit_order(
                order,
                qty=m.qty,
                start=m.start,
                due=m.due,
                station=m.station,
                now=now,
                user_id=user_id,
                note="CSV import",
            )
        )
    # the status column only releases; other values (as exported) describe, not command
    if status == "released" and order.status == "planned":
        planning.release_order(order, now=now, user_id=user_id)
        changed = True
    return "updated" if changed else "unchanged"


# --- reasons (the plant's reason list, server/core/reasonlist.py) --------------------------


def _prep_reason(cells, models):
    data = dict(cells)
    if "applies_to" in data:
        parts = data["applies_to"].replace(",", ";").split(";")
        data["applies_to"] = [u.strip() for u in parts if u.strip()]
    if "active" in data:
        flag = data["active"].lower()
        if flag not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"active: {data['active']!r} is not true or false")
        data["active"] = flag in ("true", "1", "yes")
    return models["reason"].model_validate(data)


def _apply_reasons(db, rows, errors, result, **_):
    rows = _first_seen(rows, lambda r: r.model.code, errors, "code")
    for row in rows:
        _count(result, _row_step(db, row, errors, lambda row=row: _upsert_reason(row.model)))


def _upsert_reason(m) -> str:
    data = m.model_dump()
    data["applies_to"] = reasonlist.in_order(data["applies_to"])
    reason = Reason.get_or_none(Reason.code == m.code)
    if reason is None:
        Reason.create(**data)
        return "created"
    if _same(reason, data):
        return "unchanged"
    Reason.update(**data).where(Reason.id == reason.id).execute()
    return "updated"


# --- locations (server/core/locations.py) ---------------------------------------------------


def _flag(data: dict, name: str) -> None:
    if name in data:
        flag = data[name].lower()
        if flag not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{name}: {data[name]!r} is not true or false")
        data[name] = flag in ("true", "1", "yes")


def _prep_location(cells, models):
    data = dict(cells)
    products = [p.strip() for p in data.pop("allow_products", "").split(";") if p.strip()]
    kinds = [k.strip() for k in data.pop("allow_kinds", "").split(";") if k.strip()]
    if products or kinds:
        data["allow"] = {"products": products, "kinds": kinds}
    _flag(data, "active")
    active = data.pop("active", True)
    model = models["location"].model_validate(data)
    # active is not a field of the API's create body: carried beside it
    return types.SimpleNamespace(**dict(model), active=active)


def _apply_locations(db, rows, errors, result, later, **_):
    rows = _first_seen(rows, lambda r: r.model.code.upper(), errors, "code")
    pending = list(rows)
    # parents first: a row waits while its parent is a location of the file not made yet
    in_file = {r.model.code.upper() for r in rows}
    while pending:
        ready = [
            r
            for r in pending
            if not r.model.parent
            or locations.by_code(r.model.parent) is not None
            or r.model.parent.upper() not in in_file
        ]
        if not ready:
            for r in pending:
                errors.append({"line": r.line, "error": f"parent {r.model.parent}: a loop"})
            break
        for row in ready:
            step = lambda row=row: _upsert_location(row, result, later)  # noqa: E731
            _count(result, _row_step(db, row, errors, step))
            in_file.discard(row.model.code.upper())
        pending = [r for r in pending if r not in ready]


def _upsert_location(row: Row, result: Result, later: list[_Later]) -> str:
    m = row.model
    allow = m.allow.model_dump() if m.allow is not None else None
    active = m.active
    loc = locations.by_code(m.code)
    if loc is None:
        loc = locations.create(
            code=m.code, kind=m.kind, name=m.name, site=m.site, parent=m.parent, allow=allow
        )
        if not active:
            locations.edit(loc, active=False)
        return "created"
    if loc.kind != m.kind:
        raise Invalid("bad_parent", f"{loc.code} is a {loc.kind}; its kind cannot change")
    if m.site and locations.site_by_code(m.site) is not None:
        if locations.site_by_code(m.site).id != loc.site_id:
            raise Invalid("bad_parent", f"{loc.code} is in another site")
    parent_code = locations.codes_of([loc.parent_id]).get(loc.parent_id)
    want_parent = locations.normal_code(m.parent) if m.parent else None
    want_allow = locations._check_allow(allow)
    same = (
        loc.name == (m.name or loc.code)
        and parent_code == want_parent
        and (loc.allow or None) == want_allow
        and loc.active == active
    )
    if same:
        return "unchanged"
    locations.edit(loc, name=m.name or loc.code, allow=allow, active=active)
    if parent_code != want_parent:
        # checked here against the tree with the file's earlier moves laid over it, never
        # written: made with its totals after the commit (the module's doc)
        parent = locations._parent(want_parent)
        site = Site.get_by_id(loc.site_id)
        locations._check_parent(loc.kind, site, parent)
        overlay = {c.target_id: c.to_id for c in later if c.kind == "move"}
        if parent is not None and loc.id in _ancestors_of(parent, overlay):
            raise Invalid("bad_parent", "A location cannot lie inside itself")
        to_id = parent.id if parent else None
        later.append(_Later(row.line, "move", loc.id, want_parent, to_id=to_id))
        result.moves.append(
            {"line": row.line, "code": loc.code, "from": parent_code, "to": want_parent}
        )
    return "updated"


def _ancestors_of(place: Location, overlay: dict[int, int | None]) -> list[int]:
    """`place` and the ids above it, nearest first, in the tree as the file would leave it
    so far: the database's parents, but the parent a move earlier in the file gives."""
    out: list[int] = []
    place_id: int | None = place.id
    while place_id is not None and place_id not in out:
        out.append(place_id)
        if place_id in overlay:
            place_id = overlay[place_id]
        else:
            place_id = Location.select(Location.parent_id).where(Location.id == place_id).scalar()
    return out


# --- shifts, machines, standard times (server/core/shifts.py, machines.py, labour.py) -------


def _prep_shift(cells, models):
    data = dict(cells)
    _flag(data, "active")
    if "breaks" in data:
        data["breaks"] = [b.strip() for b in (data["breaks"] or "").split(";") if b.strip()]
    return models["shift"].model_validate(data)


def _apply_shifts(db, rows, errors, result, **_):
    rows = _first_seen(
        rows, lambda r: (r.model.name, (r.model.site or "").upper()), errors, "name and site"
    )
    for row in rows:
        m = row.model
        step = lambda m=m: shifts.upsert(  # noqa: E731
            m.name, m.start, m.end, m.active, site=m.site, breaks=m.breaks
        )
        _count(result, _row_step(db, row, errors, step))


def _prep_machine(cells, models):
    data = dict(cells)
    _flag(data, "active")
    return models["machine"].model_validate(data)


def _apply_machines(db, rows, errors, result, **_):
    rows = _first_seen(rows, lambda r: r.model.code, errors, "code")
    for row in rows:
        _count(result, _row_step(db, row, errors, lambda row=row: _upsert_machine(row.model)))


def _upsert_machine(m) -> str:
    station = Station.get_or_none(Station.code == m.station)
    if station is None:
        raise Invalid("unknown_station", f"no station {m.station}")
    data = {
        "name": m.name,
        "station_id": station.id,
        "rate_per_hour": m.rate_per_hour,
        "active": m.active,
    }
    machine = Machine.get_or_none(Machine.code == m.code)
    if machine is None:
        Machine.create(code=m.code, **data)
        return "created"
    if _same(machine, data):
        return "unchanged"
    Machine.update(**data).where(Machine.id == machine.id).execute()
    return "updated"


def _prep_times(cells, models):
    if not cells.get("product"):
        raise ValueError("product: Field required")
    data = {k: cells[k] for k in ("std_minutes", "setup_minutes") if k in cells}
    times = models["step_times"].model_validate(data)
    return _Keyed((cells["product"], cells.get("station", "")), times)


def _apply_times(db, rows, errors, result, **_):
    rows = _first_seen(rows, lambda r: r.model.key, errors, "product and station")
    for row in rows:
        _count(result, _row_step(db, row, errors, lambda row=row: _set_times(row.model)))


def _set_times(keyed) -> str:
    sku, code = keyed.key
    step = (
        RoutingStep.select()
        .join(Product)
        .switch(RoutingStep)
        .join(Station)
        .where((Product.sku == sku) & (Station.code == code))
        .first()
    )
    if step is None:
        raise Invalid("not_found", f"{code} is not on the routing of {sku}")
    m = keyed.model
    data = {"std_minutes": m.std_minutes, "setup_minutes": m.setup_minutes}
    if _same(step, data):
        return "unchanged"
    RoutingStep.update(**data).where(RoutingStep.id == step.id).execute()
    return "updated"


_HANDLERS = {
    "products": (_prep_product, _apply_products),
    "bom": (_prep_bom, _apply_bom),
    "routings": (_prep_routing, _apply_routings),
    "stations": (_prep_station, _apply_stations),
    "orders": (_prep_order, _apply_orders),
    "reasons": (_prep_reason, _apply_reasons),
    "locations": (_prep_location, _apply_locations),
    "shifts": (_prep_shift, _apply_shifts),
    "machines": (_prep_machine, _apply_machines),
    "standard_times": (_prep_times, _apply_times),
}


# --- export ---------------------------------------------------------------------------------


def _q(value) -> str:
    if value is None:
        return ""
    d = Decimal(value).normalize()
    return f"{d:f}"


def export_rows(kind: str) -> list[list[str]]:
    """The rows of an export of `kind`, header first."""
    if kind not in SPECS:
        raise Invalid("not_found", f"No export for {kind}")
    out: list[list[str]] = [list(SPECS[kind].columns)]
    if kind == "products":
        for p in Product.select().order_by(Product.sku):
            out.append(
                [p.sku, p.name, p.kind, p.tracking, p.gtin or "", p.unit, _q(p.reorder_point)]
            )
    elif kind == "bom":
        comp = Product.alias()
        rows = (
            BomLine.select(Product.sku, comp.sku, BomLine.qty)
            .join(Product, on=(BomLine.product == Product.id))
            .switch(BomLine)
            .join(comp, on=(BomLine.component == comp.id))
            .order_by(Product.sku, BomLine.id)
            .tuples()
        )
        out.extend([p, c, _q(q)] for p, c, q in rows)
    elif kind == "routings":
        rows = (
            RoutingStep.select(Product.sku, Station.code, RoutingStep.seq)
            .join(Product)
            .switch(RoutingStep)
            .join(Station)
            .order_by(Product.sku, RoutingStep.seq)
            .tuples()
        )
        out.extend([p, s, str(seq)] for p, s, seq in rows)
    elif kind == "stations":
        stations = list(Station.select().order_by(Station.code))
        codes = {s.id: s.code for s in stations}
        for s in stations:
            policy = ";".join(f"{k}={v}" for k, v in sorted((s.policy or {}).items()))
            out.append(
                [
                    s.code,
                    s.name,
                    s.default_action,
                    "true" if s.operator_required else "false",
                    str(s.dwell_limit_minutes or ""),
                    policy,
                    codes.get(s.rework_to_id, ""),
                ]
            )
    elif kind == "locations":
        for row in locations.listing():
            allow = row["allow"] or {}
            out.append(
                [
                    row["code"],
                    row["kind"],
                    row["name"],
                    row["site"] or "",
                    row["parent"] or "",
                    ";".join(allow.get("products", [])),
                    ";".join(allow.get("kinds", [])),
                    "true" if row["active"] else "false",
                ]
            )
    elif kind == "shifts":
        sites = shifts.site_code_map()
        rows = sorted(Shift.select(), key=lambda s: (s.start, s.name, sites.get(s.site_id, "")))
        for sh in rows:
            out.append(
                [
                    sh.name,
                    sh.start,
                    sh.end,
                    "true" if sh.active else "false",
                    sites.get(sh.site_id, ""),
                    ";".join(shifts.break_texts(sh)),
                ]
            )
    elif kind == "machines":
        rows = Machine.select(Machine, Station.code).join(Station).order_by(Machine.code)
        for mc in rows:
            out.append(
                [
                    mc.code,
                    mc.name,
                    mc.station.code,
                    _q(mc.rate_per_hour),
                    "true" if mc.active else "false",
                ]
            )
    elif kind == "standard_times":
        rows = (
            RoutingStep.select(
                Product.sku, Station.code, RoutingStep.std_minutes, RoutingStep.setup_minutes
            )
            .join(Product)
            .switch(RoutingStep)
            .join(Station)
            .order_by(Product.sku, RoutingStep.seq)
            .tuples()
        )
        out.extend([p, st, _q(a), _q(b)] for p, st, a, b in rows)
    elif kind == "reasons":
        for r in Reason.select().order_by(Reason.code):
            out.append(
                [
                    r.code,
                    r.text_en,
                    r.text_id,
                    ";".join(r.applies_to or []),
                    "true" if r.active else "false",
                ]
            )
    else:
        rows = (
            ProductionOrder.select(ProductionOrder, Product, Station)
            .join(Product)
            .switch(ProductionOrder)
            .join(Station, pw.JOIN.LEFT_OUTER)
            .order_by(ProductionOrder.due, ProductionOrder.number)
        )
        for o in rows:
            out.append(
                [
                    o.number,
                    o.product.sku,
                    _q(o.qty),
                    o.start.isoformat(),
                    o.due.isoformat(),
                    o.station.code if o.station_id else "",
                    o.status,
                ]
            )
    return out


def export_csv(kind: str) -> str:
    """The export as CSV text, every cell neutralised against formulas."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(
        [neutralise(c) for c in row] for row in export_rows(kind)
    )
    return buf.getvalue()
