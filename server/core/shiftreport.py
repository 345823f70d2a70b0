"""The shift report a supervisor prints at shift end: for one plant day, or one shift of
that day (`shift`: its hours and the stations that work it), and optionally some stations
or a site: production by order (planned vs done), scrap by reason, holds raised in the
period and still open, the flags raised in it (when each rose and cleared, from the event
outbox's `flag.raised` / `flag.cleared`), the flags standing when it is printed, and the
machines' downtime (server/core/machines.py's log, clipped to the period).

A shift's report (docs/decisions.md "The shift report of one shift"): the figures of the
shift's window (start to end, breaks included: a scan in a break still counted), at the
stations that work that shift (a site's own shift, else the plant-wide one of that name);
the planned quantity of an order is its day's share (pro-rata, as for the day) times the
shift's share of the day's planned minutes (each active shift of its site: length less
breaks); downtime minutes leave out the breaks, as OEE's availability does.

`gather()` reads the figures; `render_pdf()` lays them out with reportlab. The words are
handed in by the adapter (`Words`, worded through gettext in the reader's language), so
this module stays free of any web concern.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from collections.abc import Callable
from decimal import Decimal

import peewee as pw

from server.core import adherence, exports, machines, plantday, scrapreport, shifts
from server.core import flags as flags_mod
from server.core.errors import Invalid, NotFound
from server.core.stages import GONE, Action
from server.models import Event, Item, LedgerEntry, Product, ProductionOrder, Shift, Station

#: rows listed per section at most (the totals count them all)
LIST_LIMIT = 200


@dataclasses.dataclass(frozen=True)
class OrderLine:
    number: str
    product: str
    name: str
    status: str
    planned: Decimal  # the day's share of the order (docs/planning.md, pro-rata)
    done: Decimal  # accepted complete scans in the shift
    qty: Decimal
    done_total: Decimal


@dataclasses.dataclass(frozen=True)
class HoldLine:
    item: str
    product: str
    why: str | None
    at: dt.datetime | None  # plant local time
    station: str | None


@dataclasses.dataclass(frozen=True)
class FlagLine:
    flag: str
    about: str  # the order, product or station
    detail: dict  # the flag's parameters at its rise (for its message)
    raised_at: dt.datetime  # plant local time
    cleared_at: dt.datetime | None  # plant local time; None: still standing


@dataclasses.dataclass(frozen=True)
class DownLine:
    machine: str
    station: str
    why: str
    start: dt.datetime  # plant local time
    end: dt.datetime | None  # plant local time; None: still down
    minutes: float  # within the day (and until the report was printed)


@dataclasses.dataclass(frozen=True)
class ShiftLine:
    """The shift a report is of: its name, hours, breaks and site (None: plant-wide)."""

    name: str
    start: str  # "HH:MM" local
    end: str
    breaks: list[str]  # "HH:MM-HH:MM"
    site: str | None
    share: Decimal  # of the day's planned minutes, for the planned quantities


@dataclasses.dataclass
class ShiftReport:
    day: dt.date
    stations: list[str]  # codes; empty: the whole plant
    printed_at: dt.datetime  # plant local time
    production: list[OrderLine]
    scrap: list[scrapreport.ParetoRow]
    holds_raised: list[HoldLine]
    holds_raised_count: int
    holds_open: list[HoldLine]
    holds_open_count: int
    flags: list[dict]
    #: flags that rose during the day, oldest first (at most LIST_LIMIT)
    flags_raised: list[FlagLine] = dataclasses.field(default_factory=list)
    flags_raised_count: int = 0
    downtime: list[DownLine] = dataclasses.field(default_factory=list)
    #: the shift the report is of (None: the whole plant day)
    shift: ShiftLine | None = None

    @property
    def down_minutes(self) -> float:
        return sum(d.minutes for d in self.downtime)

    @property
    def scrap_count(self) -> int:
        return sum(r.count for r in self.scrap)

    @property
    def scrap_qty(self) -> Decimal:
        return sum((r.qty for r in self.scrap), Decimal(0))


def _station_ids(codes: list[str]) -> dict[int, str]:
    found = {
        s.code: s.id
        for s in Station.select(Station.id, Station.code).where(Station.code.in_(codes))
    }
    missing = [c for c in codes if c not in found]
    if missing:
        raise NotFound("not_found", f"No station {', '.join(missing)}")
    return {i: c for c, i in found.items()}


def shift_share(shift: Shift, site_id: int | None = None) -> Decimal:
    """The shift's part of its site's working day: its planned minutes (length less breaks)
    over those of every active shift its stations work (shifts.of_site of the report's
    site `site_id`, else of the shift's own; with this one even if inactive); 1 when it is
    the only one."""

    def planned(s: Shift) -> int:
        return max(round(shifts.hours(s) * 60) - shifts.break_minutes(s), 0)

    site = site_id if site_id is not None else shift.site_id
    day = [s for s in shifts.of_site(site) if s.id != shift.id] + [shift]
    total = sum(planned(s) for s in day)
    return Decimal(1) if total <= 0 else Decimal(planned(shift)) / Decimal(total)


def resolve_shift(name: str, site_id: int | None, sites: set[int] | None = None) -> Shift:
    """The shift a report of shift `name` is of: at site `site_id`, the site's own shift
    of that name, else the plant-wide one; with no site, the plant-wide one, else the one
    site's that has it (`unknown_shift`; `bad_payload` when several sites have their own
    and none is plant-wide: the site must be named). `sites`: the only sites whose own
    shifts count (a limited user's; None: every site)."""
    if site_id is not None:
        shift = shifts.for_site(name, site_id)
        if shift is None:
            raise NotFound("unknown_shift", f"No shift {name} at that site")
        return shift
    rows = [
        s
        for s in Shift.select().where(Shift.name == name)
        if sites is None or s.site_id is None or s.site_id in sites
    ]  # a user limited to `sites` is not told of another site's shifts
    plant_wide = [s for s in rows if s.site_id is None]
    if plant_wide:
        return plant_wide[0]
    if not rows:
        raise NotFound("unknown_shift", f"No shift {name}")
    if len(rows) > 1:
        sites = shifts.site_code_map()
        named = ", ".join(sorted(sites.get(s.site_id, "?") for s in rows))
        raise Invalid("bad_payload", f"Shift {name} is a shift of sites {named}: name the site")
    return rows[0]


def _narrowed(
    ids: dict[int, str] | None, site_id: int | None, shift: Shift | None
) -> dict[int, str] | None:
    """The stations of `ids` (None: every station) at site `site_id` and working `shift`,
    each when given, as {id: code}; None when neither narrows. `unknown_station` when none
    is left (a report of no station would read as the whole plant)."""
    if site_id is None and shift is None:
        return ids
    sites = shifts.station_sites(list(ids) if ids is not None else None)
    keep = set(sites)
    if site_id is not None:
        keep = {st for st in keep if sites[st] == site_id}
    if shift is not None:
        keep &= shifts.stations_working(shift, sites)
    if ids is None:
        ids = dict(Station.select(Station.id, Station.code).tuples())
    out = {i: c for i, c in ids.items() if i in keep}
    if not out:
        raise NotFound(
            "unknown_station",
            "No station "
            + ("works that shift" if shift is not None else "at that site")
            + (" there" if shift is not None and site_id is not None else ""),
        )
    return out


def gather(
    day: dt.date,
    *,
    stations: list[str] | None = None,
    tz: str | None,
    now: dt.datetime,
    shift: Shift | None = None,
    site_id: int | None = None,
) -> ShiftReport:
    """The figures of plant day `day` (`tz`, IANA), at `stations` (codes) or everywhere;
    at site `site_id` when given; with `shift`, of that shift of the day, at those of the
    stations that work it."""
    codes = sorted(set(stations or []))
    ids = _station_ids(codes) if codes else None
    breaks: list[tuple[dt.datetime, dt.datetime]] = []
    line = None
    whole = ids is None and site_id is None  # orders with no line are the whole plant's
    ids = _narrowed(ids, site_id, shift)
    if ids is not None:
        codes = sorted(ids.values())
        if whole and len(ids) == Station.select().count():
            codes = []  # every station works the shift: "all"
    if shift is not None:
        lo, hi = shifts.window(shift, day, tz)
        breaks = shifts.break_windows(shift, day, tz)
        line = ShiftLine(
            shift.name,
            shift.start,
            shift.end,
            shifts.break_texts(shift),
            shifts.site_code_map().get(shift.site_id) if shift.site_id else None,
            shift_share(shift, site_id),
        )
    else:
        lo = plantday.day_start(day, tz)
        hi = plantday.day_start(day + dt.timedelta(days=1), tz)
    local = exports._local(exports.Filters(tz=tz))
    production = _production(day, lo, hi, ids, line.share if line else Decimal(1), whole)
    scrap = scrapreport.scrap_pareto(lo, hi, "reason", stations=list(ids) if ids else None)
    raised_q = (
        LedgerEntry.select(LedgerEntry.received_at, LedgerEntry.why, Item.code, Product.sku)
        .join(Item, on=(LedgerEntry.item == Item.id))
        .join(Product, on=(Item.product == Product.id))
        .where(
            (LedgerEntry.received_at >= lo)
            & (LedgerEntry.received_at < hi)
            & (LedgerEntry.action == Action.HOLD.value)
            & (LedgerEntry.status == "accepted")
            & (LedgerEntry.station.in_(list(ids)) if ids else pw.SQL("1 = 1"))
        )
        .switch(LedgerEntry)
        .join(Station, pw.JOIN.LEFT_OUTER, on=(LedgerEntry.station == Station.id))
        .select_extend(Station.code)
    )
    raised_count = raised_q.count()
    raised = [
        HoldLine(code, sku, why, local(at), st)
        for at, why, code, sku, st in raised_q.order_by(LedgerEntry.id).limit(LIST_LIMIT).tuples()
    ]
    open_q = (
        Item.select(Item.code, Product.sku, Item.held_why, Item.held_at, Station.code)
        .join(Product, on=(Item.product == Product.id))
        .switch(Item)
        .join(Station, pw.JOIN.LEFT_OUTER, on=(Item.station == Station.id))
        .where(
            Item.held
            & Item.stage.not_in([s.value for s in GONE])
            & (Item.station.in_(list(ids)) if ids else pw.SQL("1 = 1"))
        )
    )
    open_count = open_q.count()
    still_open = [
        HoldLine(code, sku, why, local(at), st)
        for code, sku, why, at, st in open_q.order_by(Item.held_at, Item.id)
        .limit(LIST_LIMIT)
        .tuples()
    ]
    shown = {o.number for o in production}

    def concerns(f: dict) -> bool:
        """A flag belongs in a report of some stations when it is about an order listed
        there or is the dwell flag of one of them; product flags are everyone's."""
        return ids is None or not (
            ("order" in f and f["order"] not in shown)
            or (f["flag"] == "dwell" and f.get("station") not in codes)
        )

    standing = [f for f in flags_mod.compute(now, tz=tz).flat() if concerns(f)]
    flag_lines = [line for line in _flags_raised(lo, hi, local) if concerns(line.detail)]
    station_ids = list(ids) if ids is not None else [s.id for s in Station.select(Station.id)]
    return ShiftReport(
        day=day,
        stations=codes,
        printed_at=local(now),
        production=production,
        scrap=scrap,
        holds_raised=raised,
        holds_raised_count=raised_count,
        holds_open=still_open,
        holds_open_count=open_count,
        flags=standing,
        flags_raised=flag_lines[:LIST_LIMIT],
        flags_raised_count=len(flag_lines),
        downtime=_downtime(station_ids, lo, min(hi, now), local, breaks),
        shift=line,
    )


def _flags_raised(lo: dt.datetime, hi: dt.datetime, local) -> list[FlagLine]:
    """The `flag.raised` events of [lo, hi), each with the first `flag.cleared` of the
    same flag after it (at any time before now)."""
    rose = list(
        Event.select(Event.id, Event.subject, Event.payload, Event.created_at)
        .where((Event.type == "flag.raised") & (Event.created_at >= lo) & (Event.created_at < hi))
        .order_by(Event.id)
    )
    if not rose:
        return []
    cleared: dict[str, list[tuple[int, dt.datetime]]] = {}
    subjects = sorted({e.subject for e in rose})
    for i in range(0, len(subjects), 500):
        for e in (
            Event.select(Event.id, Event.subject, Event.created_at)
            .where(
                (Event.type == "flag.cleared")
                & (Event.id > rose[0].id)
                & Event.subject.in_(subjects[i : i + 500])
            )
            .order_by(Event.id)
        ):
            cleared.setdefault(e.subject, []).append((e.id, e.created_at))
    out = []
    for e in rose:
        f = e.payload or {}
        end = next((at for cid, at in cleared.get(e.subject, []) if cid > e.id), None)
        about = f.get("order") or f.get("product") or f.get("station") or ""
        out.append(FlagLine(f.get("flag", ""), about, f, local(e.created_at), local(end)))
    return out


def _overlap(a: dt.datetime, b: dt.datetime, lo: dt.datetime, hi: dt.datetime) -> float:
    return max((min(b, hi) - max(a, lo)).total_seconds(), 0.0)


def _downtime(
    station_ids: list[int],
    lo: dt.datetime,
    hi: dt.datetime,
    local,
    breaks: list[tuple[dt.datetime, dt.datetime]] = (),
) -> list[DownLine]:
    """Each machine's down stretches at the stations overlapping [lo, hi), with the minutes
    inside it (an open one counts until `hi`), less those inside `breaks` (planned stops)."""
    if not station_ids or hi <= lo:
        return []
    codes = dict(Station.select(Station.id, Station.code).tuples())
    out = []
    for d, machine in machines.downtimes(station_ids, lo, hi):
        end = min(d.ended_at or hi, hi)
        inside = _overlap(d.started_at, end, lo, hi)
        inside -= sum(_overlap(d.started_at, end, max(b0, lo), min(b1, hi)) for b0, b1 in breaks)
        inside /= 60
        out.append(
            DownLine(
                machine,
                codes.get(d.station_id, ""),
                d.why,
                local(d.started_at),
                local(d.ended_at),
                round(max(inside, 0.0), 1),
            )
        )
    return out


def _production(
    day,
    lo,
    hi,
    ids: dict[int, str] | None,
    share: Decimal = Decimal(1),
    unlined: bool = False,
) -> list[OrderLine]:
    """Orders scheduled over `day` or completing something in [lo, hi); with stations,
    those whose line is one of them (or that have no line, with `unlined`) or that
    completed at one of them. Planned: the day's share of the order times `share` (a
    shift's part of the day), to a tenth."""
    done_q = LedgerEntry.select(LedgerEntry.order, pw.fn.SUM(LedgerEntry.qty)).where(
        (LedgerEntry.received_at >= lo)
        & (LedgerEntry.received_at < hi)
        & (LedgerEntry.action == Action.COMPLETE.value)
        & (LedgerEntry.status == "accepted")
        & LedgerEntry.order.is_null(False)
    )
    if ids is not None:
        done_q = done_q.where(LedgerEntry.station.in_(list(ids)))
    done = {oid: Decimal(q or 0) for oid, q in done_q.group_by(LedgerEntry.order).tuples()}
    scheduled = (ProductionOrder.start <= day) & (ProductionOrder.due >= day)
    if ids is not None:
        line = ProductionOrder.station.in_(list(ids))
        scheduled &= (line | ProductionOrder.station.is_null()) if unlined else line
    cond = scheduled | ProductionOrder.id.in_(list(done) or [0])
    orders = (
        ProductionOrder.select(ProductionOrder, Product)
        .join(Product)
        .where(cond)
        .order_by(ProductionOrder.due, ProductionOrder.number)
        .limit(LIST_LIMIT)
    )
    out = []
    for o in orders:
        planned = adherence.daily_plan(Decimal(o.qty), o.start, o.due, day, day).get(
            day, Decimal(0)
        )
        if share != 1:
            planned = (planned * share).quantize(Decimal("0.1"))
        out.append(
            OrderLine(
                number=o.number,
                product=o.product.sku,
                name=o.product.name,
                status=o.status,
                planned=planned,
                done=done.get(o.id, Decimal(0)),
                qty=Decimal(o.qty),
                done_total=Decimal(o.completed),
            )
        )
    return out


# --- the PDF -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Words:
    """Every word of the report in the reader's language, and how to word codes."""

    title: str
    day: str
    stations: str
    all_stations: str
    printed: str
    production: str
    order: str
    product: str
    status: str
    planned: str
    done: str
    order_qty: str
    done_total: str
    total: str
    no_production: str
    scrap: str
    reason: str
    count: str
    qty: str
    no_scrap: str
    holds_raised: str
    holds_open: str
    item: str
    why: str
    when: str
    station: str
    no_holds: str
    flags: str
    flag: str
    about: str
    message: str
    no_flags: str
    downtime: str
    no_downtime: str
    more: str  # "%(n)s more not listed"
    page: str  # "Page %(n)s"
    flags_raised: str = "Flags raised on this day"
    raised: str = "Raised"
    cleared: str = "Cleared"
    still_standing: str = "still standing"
    machine: str = "Machine"
    start: str = "From"
    end: str = "To"
    minutes: str = "Minutes"
    still_down: str = "still down"
    # a shift's report (ShiftReport.shift) says "in this shift" where a day's says "on this day"
    shift: str = "Shift"
    breaks: str = "breaks"
    site: str = "site"
    planned_shift: str = "Planned (shift)"
    done_shift: str = "Done (shift)"
    no_production_shift: str = "No order planned or completed in this shift."
    no_scrap_shift: str = "No scrap in this shift."
    holds_raised_shift: str = "Holds raised in this shift"
    flags_raised_shift: str = "Flags raised in this shift"
    no_downtime_shift: str = "No machine was down in this shift."
    status_text: Callable[[str], str] = str
    reason_text: Callable[[str | None], str] = lambda code: code or ""
    flag_text: Callable[[str], str] = str
    flag_message: Callable[[dict], str] = lambda f: f.get("message", "")
    number: Callable[[Decimal], str] = lambda d: f"{Decimal(d).normalize():f}"
    moment: Callable[[dt.datetime | None], str] = lambda t: (
        t.strftime("%Y-%m-%d %H:%M") if t else ""
    )
    date: Callable[[dt.date], str] = lambda d: d.isoformat()


def render_pdf(report: ShiftReport, w: Words) -> bytes:
    """The report as an A4 PDF."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    body, head, title = styles["BodyText"], styles["Heading2"], styles["Title"]
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)

    def p(text, style=small):
        from xml.sax.saxutils import escape

        return Paragraph(escape(str(text)), style)

    def table(header, rows, widths=None, total=None):
        data = [[p(h) for h in header]] + [[p(c) for c in r] for r in rows]
        if total is not None:
            data.append([p(c) for c in total])
        t = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
        style = [
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e0e0e0")),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
        if total is not None:
            style.append(("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f3f3f3")))
        t.setStyle(TableStyle(style))
        return t

    def more(shown: int, count: int):
        return [p(w.more % {"n": count - shown}, body)] if count > shown else []

    n = w.number
    sh = report.shift
    if sh is not None:  # the words of a shift in place of a day's
        w = dataclasses.replace(
            w,
            planned=w.planned_shift,
            done=w.done_shift,
            no_production=w.no_production_shift,
            no_scrap=w.no_scrap_shift,
            holds_raised=w.holds_raised_shift,
            flags_raised=w.flags_raised_shift,
            no_downtime=w.no_downtime_shift,
        )
    story = [p(w.title, title), p(f"{w.day}: {w.date(report.day)}", body)]
    if sh is not None:
        text = f"{w.shift}: {sh.name} {sh.start}–{sh.end}"
        if sh.breaks:
            text += f" ({w.breaks} {', '.join(sh.breaks)})"
        if sh.site:
            text += f", {w.site} {sh.site}"
        story.append(p(text, body))
    story += [
        p(f"{w.stations}: {', '.join(report.stations) or w.all_stations}", body),
        p(f"{w.printed}: {w.moment(report.printed_at)}", body),
        Spacer(1, 4 * mm),
        p(w.production, head),
    ]
    if report.production:
        rows = [
            (o.number, f"{o.product} {o.name}", w.status_text(o.status), n(o.planned), n(o.done),
             n(o.qty), n(o.done_total))
            for o in report.production
        ]  # fmt: skip
        planned = sum((o.planned for o in report.production), Decimal(0))
        done = sum((o.done for o in report.production), Decimal(0))
        story.append(
            table(
                (w.order, w.product, w.status, w.planned, w.done, w.order_qty, w.done_total),
                rows,
                total=(w.total, "", "", n(planned), n(done), "", ""),
            )
        )
    else:
        story.append(p(w.no_production, body))
    story += [Spacer(1, 4 * mm), p(w.scrap, head)]
    if report.scrap:
        rows = [(w.reason_text(r.key), str(r.count), n(r.qty)) for r in report.scrap]
        story.append(
            table(
                (w.reason, w.count, w.qty),
                rows,
                total=(w.total, str(report.scrap_count), n(report.scrap_qty)),
            )
        )
    else:
        story.append(p(w.no_scrap, body))
    for heading, lines, count in (
        (w.holds_raised, report.holds_raised, report.holds_raised_count),
        (w.holds_open, report.holds_open, report.holds_open_count),
    ):
        story += [Spacer(1, 4 * mm), p(f"{heading} ({count})", head)]
        if lines:
            rows = [
                (h.item, h.product, w.reason_text(h.why), h.station or "", w.moment(h.at))
                for h in lines
            ]
            story.append(table((w.item, w.product, w.why, w.station, w.when), rows))
            story += more(len(lines), count)
        else:
            story.append(p(w.no_holds, body))
    story += [Spacer(1, 4 * mm), p(f"{w.flags_raised} ({report.flags_raised_count})", head)]
    if report.flags_raised:
        rows = [
            (
                w.flag_text(f.flag),
                f.about,
                w.flag_message(f.detail),
                w.moment(f.raised_at),
                w.moment(f.cleared_at) if f.cleared_at else w.still_standing,
            )
            for f in report.flags_raised
        ]
        widths = (25 * mm, 30 * mm, None, 28 * mm, 28 * mm)
        story.append(table((w.flag, w.about, w.message, w.raised, w.cleared), rows, widths))
        story += more(len(report.flags_raised), report.flags_raised_count)
    else:
        story.append(p(w.no_holds, body))
    story += [Spacer(1, 4 * mm), p(w.flags, head)]
    if report.flags:
        rows = [
            (
                w.flag_text(f["flag"]),
                f.get("order") or f.get("product") or f.get("station") or "",
                w.flag_message(f),
            )
            for f in report.flags[:LIST_LIMIT]
        ]
        story.append(table((w.flag, w.about, w.message), rows, widths=(30 * mm, 40 * mm, None)))
        story += more(min(len(report.flags), LIST_LIMIT), len(report.flags))
    else:
        story.append(p(w.no_flags, body))
    story += [Spacer(1, 4 * mm), p(w.downtime, head)]
    if report.downtime:
        rows = [
            (
                d.machine,
                d.station,
                w.reason_text(d.why),
                w.moment(d.start),
                w.moment(d.end) if d.end else w.still_down,
                n(Decimal(str(d.minutes))),
            )
            for d in report.downtime[:LIST_LIMIT]
        ]
        story.append(
            table(
                (w.machine, w.station, w.why, w.start, w.end, w.minutes),
                rows,
                total=(w.total, "", "", "", "", n(Decimal(str(round(report.down_minutes, 1))))),
            )
        )
        story += more(min(len(report.downtime), LIST_LIMIT), len(report.downtime))
    else:
        story.append(p(w.no_downtime, body))

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, w.page % {"n": doc.page})
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=w.title,
        author="Koordinator",
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
