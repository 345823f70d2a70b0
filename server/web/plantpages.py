"""The pages of people and equipment: the plant floor (tiles, live), people (who is where,
hours and output by shift), the schedule as a timeline per line (drag to reschedule) and
OEE by station and shift with the formula's inputs.

Every figure comes from server/core (plantfloor, andon, people, labour, oee, planning):
these views only pick the window and render.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

from flask import current_app, jsonify, render_template, request, url_for
from flask_babel import get_locale, gettext
from jinja2.filters import do_urlencode
from markupsafe import Markup, escape

from server import scope
from server.core import flags as flags_mod
from server.core import labour, oee, planning, plantfloor, shifts, siteaccess
from server.core import people as people_mod
from server.core.errors import DomainError, Invalid, NotFound
from server.models import ProductionOrder, RoutingStep, Shift, Station, utcnow
from server.web import bp, i18n
from server.web.charts import oee_chart
from server.web.pages import age_in, age_words, qty, role_required, today, web_user

OPEN = ("planned", "released", "in_progress")
#: the timeline shows this many days before today and after it
BEFORE_DAYS, AFTER_DAYS = 7, 28


def _db():
    return current_app.extensions["koordinator.db"]


# --- the plant floor --------------------------------------------------------------------


def _memo(fn):
    """`fn` with its answers kept for this render: 200 tiles ask for a handful of texts,
    and each lookup of a lazy string goes through flask-babel's catalogue search."""
    cache: dict = {}

    def once(*args):
        try:
            return cache[args]
        except KeyError:
            cache[args] = text = fn(*args)
            return text

    return once


def _my_tiles(now: dt.datetime) -> list[dict]:
    """The floor's tiles, of a user limited to sites their stations' only (chosen in each
    statement, so the page costs in proportion to the user's sites)."""
    return plantfloor.tiles(now, scope.station_ids(web_user()))


def _floor() -> dict:
    now = utcnow()
    drawn = floor_tiles(_my_tiles(now), now)
    return {"floor_grid": _grid(drawn), "floor_version": drawn.version, "now": now}


#: Drawn tiles by what they show (`_shown()`: every value a tile prints, its ages as the
#: words printed, the page's language and the order link): a tile is drawn again only when
#: something on it changed, for every watcher this process serves. Bounded: emptied when
#: full (a floor of 200 stations fills a few hundred a minute while ages tick).
_DRAWN: dict[tuple, str] = {}
_DRAWN_MAX = 5_000
#: the floor's recent versions (`Drawn.version`) -> the tiles each showed, station code ->
#: markup: what `/floor/live?since=` answers against. A version this process never drew
#: (a restart, another worker) is answered with every tile.
_VERSIONS: dict[str, dict[str, str]] = {}
_VERSIONS_MAX = 256


class Drawn(list):
    """(station code, tile key, markup) per tile in the floor's order, and `version`: a
    digest of the markup, the same in every process for the same floor; `empty`: the
    grid's text when there is no station."""

    version: str = ""
    empty: str = ""


def _shown(t: dict, now: dt.datetime, ages, reasons: dict) -> tuple:
    """Everything a tile prints, as plain values: the tile is drawn from this alone, so
    equal values draw equal markup."""
    st = t["station"]
    order = t["order"]
    last = t["last"]
    return (
        st.code,
        st.name,
        bool(st.active),
        t["andon"],
        t["machine_state"],
        tuple(
            (
                m["code"],
                m["state"],
                (m["reason"], reasons[m["reason"]]) if m["state"] == "down" else None,
                age_in(ages, m["since"], now),
            )
            for m in t["machines"]
        ),
        tuple(t["operators"]),
        t["wip"],
        t["held"],
        (order.number, qty(order.completed), qty(order.qty)) if order else None,
        (
            last["status"],
            last["action"],
            last["reason"] if last["status"] == "rejected" else None,
            tuple(last["warnings"]),
            age_in(ages, last["at"], now),
        )
        if last
        else None,
    )


def floor_tiles(tiles: list[dict], now: dt.datetime) -> Drawn:
    """The floor's tiles drawn (see `Drawn`), each taken from `_DRAWN` when a tile showing
    the same was drawn before: on a floor where a few stations change a second, a render
    draws those few instead of 200."""
    lang = str(get_locale() or i18n.DEFAULT)
    why = {m["reason"] for t in tiles for m in t["down"]}
    reasons = plantfloor.reason_texts(why, lang)
    for code in why - reasons.keys():  # not as stored: the long way (any case, or none)
        reasons[code] = i18n.listed_reason_text(code)
    ages = age_words()
    order_url = url_for("web.order_edit", number="_")[:-1]
    words = None
    out = Drawn()
    for t in tiles:
        key = (lang, order_url, _shown(t, now, ages, reasons))
        markup = _DRAWN.get(key)
        if markup is None:
            if words is None:
                words = _words(order_url)
            markup = _tile(key[2], words)
            if len(_DRAWN) >= _DRAWN_MAX:
                _DRAWN.clear()
            _DRAWN[key] = markup
        out.append((key[2][0], key, markup))
    if not tiles:
        out.empty = f'<p class="muted">{escape(gettext("No stations yet."))}</p>'
    digest = hashlib.blake2b(out.empty.encode(), digest_size=9)
    for _code, _key, markup in out:  # the markup names its station
        digest.update(markup.encode())
    out.version = digest.hexdigest()
    if out.version not in _VERSIONS:
        if len(_VERSIONS) >= _VERSIONS_MAX:
            try:
                del _VERSIONS[next(iter(_VERSIONS))]  # the oldest
            except (KeyError, RuntimeError, StopIteration):  # another thread's doing
                pass
        _VERSIONS[out.version] = {code: markup for code, _key, markup in out}
    return out


def _grid(drawn: Drawn) -> Markup:
    """The whole grid: what `_floor_live.html` drew before, byte for byte."""
    if not drawn:
        return Markup(f'<div class="floor-grid">\n{drawn.empty}\n\n</div>')
    return Markup('<div class="floor-grid">\n' + "".join(m for _c, _k, m in drawn) + "\n</div>")


def floor_grid(tiles: list[dict], now: dt.datetime) -> Markup:
    """The floor's tiles as HTML (the whole grid)."""
    return _grid(floor_tiles(tiles, now))


def _words(order_url: str) -> dict:
    """The words and texts of a tile in the request's language, escaped once; the text
    helpers memoised for the render (each lazy string lookup is a catalogue search)."""
    w = {
        k: escape(gettext(v))
        for k, v in (
            ("down", "down"),
            ("running", "running"),
            ("idle", "idle"),
            ("for", "for"),
            ("operator", "Operator"),
            ("wip", "In work"),
            ("order", "Order"),
            ("last", "Last answer"),
            ("ok", "Accepted"),
            ("rejected", "Rejected"),
            ("none", "No machine"),
            ("inactive", "inactive"),
            ("andon", "Andon"),
        )
    }
    w["colour"] = {c: escape(gettext(c)) for c in ("red", "amber", "green", "grey")}
    w["order_url"] = escape(order_url)
    w["reason_text"] = _memo(i18n.reason_text)
    w["verb_text"] = _memo(i18n.verb_text)
    w["command_text"] = _memo(i18n.command_text)
    w["warning_text"] = _memo(i18n.warning_text)
    w["on_hold"] = _memo(lambda n: gettext("%(n)s on hold", n=n))
    return w


def _tile(shown: tuple, w: dict) -> str:
    """One tile's markup from `_shown()`'s values; every text is escaped. The markup is
    what the Jinja loop of `_floor_live.html` drew, byte for byte."""
    (code, name, active, andon, machine_state, machines, operators, wip, held, order, last) = shown
    code = escape(code)
    out = [
        f'\n<section class="card tile andon-{andon}" data-station="{code}" '
        f'data-andon="{andon}" data-machine-state="{escape(machine_state or "")}">\n'
        f'  <h2><span class="andon-lamp" title="{w["andon"]}: {w["colour"][andon]}"></span>'
        f"{code} <small>{escape(name)}</small>"
    ]
    add = out.append
    if not active:
        add(f' <span class="pill inactive">{w["inactive"]}</span>')
    add('</h2>\n  <ul class="machines">\n  ')
    for m_code, state, down, since in machines:
        m_code = escape(m_code)
        word = w[state] if state in ("down", "running") else w["idle"]
        state = escape(state)
        add(
            f'\n    <li data-machine="{m_code}" class="machine-{state}">'
            f"<strong>{m_code}</strong>\n"
            f'      <span class="pill machine-state state-{state}">{word}</span>\n      '
        )
        if down is not None:
            reason = escape(down[0])
            add(
                f'<span class="down-reason" data-reason="{reason}">{reason} · '
                f"{escape(down[1])}</span>"
            )
        add(f"\n      <small>{w['for']} {escape(since)}</small></li>\n  ")
    if not machines:
        add(f'<li class="muted">{w["none"]}</li>\n  ')
    add(
        f"\n  </ul>\n"
        f'  <dl class="tile-facts">\n'
        f"    <dt>{w['operator']}</dt><dd data-operator>"
        f"{escape(', '.join(operators)) if operators else '—'}</dd>\n"
        f"    <dt>{w['wip']}</dt><dd data-wip>{wip}"
    )
    if held:
        add(f' · <span class="pill flag-hold">{escape(w["on_hold"](held))}</span>')
    add(f"</dd>\n    <dt>{w['order']}</dt><dd data-order>")
    if order:
        number, completed, planned = order
        add(
            f'<a href="{w["order_url"]}{escape(do_urlencode(number))}">{escape(number)}</a> '
            f"<small>{escape(completed)} / {escape(planned)}</small>"
        )
    else:
        add("—")
    add(f"</dd>\n    <dt>{w['last']}</dt><dd data-last>")
    if last:
        status, action, reason, warnings, at = last
        ok = status == "accepted"
        add(
            f'<span class="pill {"ok" if ok else "bad"}">'
            f"{w['ok'] if ok else w['rejected']}</span>\n      "
        )
        if status == "rejected":
            add(escape(w["reason_text"](reason)))
        elif action and action.startswith("command"):
            add(escape(w["command_text"](action)))
        else:
            add(escape(w["verb_text"](action)))
        for code_w in warnings:
            add(f' <span class="pill warn">{escape(w["warning_text"](code_w))}</span>')
        add(f"\n      <small>{escape(at)}</small>")
    else:
        add("—")
    add("</dd>\n  </dl>\n</section>\n")
    return "".join(out)


@bp.route("/floor")
@role_required("supervisor")
def plant_floor():
    return render_template("floor.html", **_floor())


@bp.route("/floor/live")
@role_required("supervisor")
def plant_floor_live():
    """The floor for a watching page, every second: each station in order, with the markup
    of the tiles changed since the floor version the page holds (`?since=`) and null for
    the others; every tile's markup when that version is not known here (or not given).
    JSON: {"version", "tiles": [[station code, markup or null], ...], "empty"}."""
    now = utcnow()
    drawn = floor_tiles(_my_tiles(now), now)
    held = _VERSIONS.get(request.args.get("since", ""), {})
    resp = jsonify(
        {
            "version": drawn.version,
            "tiles": [[c, None if held.get(c) == m else m] for c, _key, m in drawn],
            "empty": drawn.empty,
        }
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


# --- shifts: which one and which day a page shows ----------------------------------------


def _shift_and_day(now: dt.datetime) -> tuple[list[Shift], Shift | None, dt.date]:
    """The shifts, the one asked for (?shift=, else the one running now, else the first)
    and the plant day (?day=, else today)."""
    tz = i18n.plant_timezone()
    query = Shift.select().where(Shift.active == True)  # noqa: E712
    mine = siteaccess.site_ids(web_user())  # a user limited to sites: theirs, plant-wide ones
    if mine is not None:
        query = query.where(Shift.site_id.is_null() | Shift.site_id.in_(sorted(mine) or [-1]))
    all_shifts = list(query.order_by(Shift.start))
    try:
        day = dt.date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        day = today()
    name = request.args.get("shift")
    # a name may be on several sites: the plant-wide one stands for it in the picker
    chosen = next(
        (s for s in sorted(all_shifts, key=lambda s: s.site_id or 0) if s.name == name), None
    )
    if chosen is None and all_shifts:
        for s in all_shifts:
            for d in (day, day - dt.timedelta(days=1)):
                start, end = shifts.window(s, d, tz)
                if start <= now < end:
                    chosen, day = s, d
                    break
            if chosen:
                break
        chosen = chosen or all_shifts[0]
    return all_shifts, chosen, day


# --- people ---------------------------------------------------------------------------


@bp.route("/people")
@role_required("supervisor")
def people_page():
    now = utcnow()
    tz = i18n.plant_timezone()
    all_shifts, shift, day = _shift_and_day(now)
    mine = scope.station_ids(web_user())  # a user limited to sites: their stations
    where = people_mod.people(now, tz, station_ids=mine)
    sites = shifts.station_sites()
    codes = shifts.site_code_map()
    by_shift = []
    for s in all_shifts:
        # a site's own shift counts the labour at that site's stations only
        shared = sum(x.name == s.name for x in all_shifts) > 1
        stations = shifts.stations_working(s, sites) if s.site_id or shared else None
        if mine is not None:
            stations = set(mine) if stations is None else set(stations) & set(mine)
        start, end = shifts.window(s, day, tz)
        figures = labour.labour(start, end, now, stations)
        by_shift.append(
            {
                "shift": s,
                "site": codes.get(s.site_id),
                "from": start,
                "to": end,
                "operators": figures["operators"],
            }
        )
    return render_template(
        "people.html",
        signed_in=where["signed_in"],
        by_shift=by_shift,
        shifts=_picker(all_shifts, codes),
        shift=shift,
        on_day=day,
    )


# --- OEE ------------------------------------------------------------------------------


@bp.route("/oee")
@role_required("supervisor")
def oee_page():
    now = utcnow()
    all_shifts, shift, day = _shift_and_day(now)
    rows = []
    if shift is not None:
        listed = Station.select().where(Station.active == True)  # noqa: E712
        mine = siteaccess.stations_query(web_user())  # a user limited to sites: theirs
        if mine is not None:
            listed = listed.where(Station.id.in_(mine))
        stations = list(listed.order_by(Station.code))
        sites = shifts.station_sites([st.id for st in stations])
        of_site: dict = {}
        for st in stations:
            site = sites.get(st.id)
            if site not in of_site:
                of_site[site] = shifts.for_site(shift.name, site)
            if of_site[site] is not None:  # the site has no shift of that name: left out
                rows.append(oee.station_oee(st, of_site[site], day, now, i18n.plant_timezone()))
    chart = oee_chart(
        rows,
        title=gettext("OEE by station"),
        words={
            "availability": gettext("Availability"),
            "performance": gettext("Performance"),
            "quality": gettext("Quality"),
            "oee": gettext("OEE"),
        },
    )
    return render_template(
        "oee.html",
        rows=rows,
        chart=chart,
        shifts=_picker(all_shifts, shifts.site_code_map()),
        shift=shift,
        on_day=day,
    )


def _picker(all_shifts: list[Shift], codes: dict[int, str]) -> list[dict]:
    """One choice per shift name, its label each site's hours ("Early (06:00-14:00; SITE2
    07:00-15:00)"), the plant-wide first."""
    by_name: dict[str, list[str]] = {}
    for s in sorted(all_shifts, key=lambda s: (s.site_id is not None, codes.get(s.site_id, ""))):
        hours = f"{s.start}–{s.end}"
        by_name.setdefault(s.name, []).append(
            f"{codes[s.site_id]} {hours}" if s.site_id in codes else hours
        )
    return [{"name": n, "label": f"{n} ({'; '.join(h)})"} for n, h in by_name.items()]


# --- the schedule as a timeline -------------------------------------------------------


def _std_minutes(product_ids: set[int]) -> dict[int, tuple[Decimal, Decimal]]:
    """product -> (standard minutes per unit over its routing, setup minutes per order)."""
    out: dict[int, list[Decimal]] = {}
    for step in RoutingStep.select().where(RoutingStep.product.in_(sorted(product_ids) or [0])):
        per = out.setdefault(step.product_id, [Decimal(0), Decimal(0)])
        per[0] += Decimal(step.std_minutes or 0)
        per[1] += Decimal(step.setup_minutes or 0)
    return {k: (v[0], v[1]) for k, v in out.items()}


def timeline(now: dt.datetime, stations: list[int] | None = None) -> dict:
    """The open orders per line, placed on a window of days, with each line's load
    (standard minutes of the quantity still to make, plus setup of orders not started)
    against its capacity (the active shifts' hours on each day from today to the line's
    last due day). `stations` (a user limited to sites): the orders of those lines only
    (an order with no line is at no site, as in the exports)."""
    first = today() - dt.timedelta(days=BEFORE_DAYS)
    days = BEFORE_DAYS + AFTER_DAYS + 1
    last = first + dt.timedelta(days=days - 1)
    fl = flags_mod.compute(now, tz=i18n.plant_timezone())
    # a limited user's lines chosen in SQL, before the limit (else a site with few orders
    # in a big plant could find the 500 taken by others)
    mine = None if stations is None else list(stations) or [-1]
    orders = list(planning.list_orders(statuses=list(OPEN), limit=500, stations=mine))
    std = _std_minutes({o.product_id for o in orders})
    sites = shifts.station_sites()
    hours_of_site: dict[int | None, float] = {}

    def shift_hours_at(station_id: int | None) -> float:
        """A line's hours of shifts a day: its site's shifts (its own, and the plant-wide
        ones it has no own of), less their breaks."""
        site = sites.get(station_id) if station_id else None
        if site not in hours_of_site:
            hours_of_site[site] = sum(
                shifts.hours(s) - shifts.break_minutes(s) / 60 for s in shifts.of_site(site)
            )
        return hours_of_site[site]

    lines: dict[str, dict] = {}
    day_pct = 100 / days
    for o in orders:
        key = o.station.code if o.station_id else ""
        line = lines.setdefault(
            key,
            {
                "code": key,
                "orders": [],
                "load_minutes": Decimal(0),
                "last_due": today(),
                "shift_hours": shift_hours_at(o.station_id),
            },
        )
        start = max(o.start, first)
        end = min(o.due, last)
        planned, done = Decimal(o.qty), Decimal(o.completed)
        per_unit, setup = std.get(o.product_id, (Decimal(0), Decimal(0)))
        left = max(planned - done, Decimal(0))
        line["load_minutes"] += left * per_unit + (setup if o.started == 0 else 0)
        line["last_due"] = max(line["last_due"], o.due)
        flags = fl.for_order(o.id)
        line["orders"].append(
            {
                "order": o,
                "visible": o.due >= first and o.start <= last,
                "left": (start - first).days * day_pct,
                "width": max(((end - start).days + 1) * day_pct, day_pct / 2),
                "pct": float(min(done / planned, 1) * 100) if planned else 0.0,
                "late": any(f["flag"] == "late" for f in flags) or o.due < today(),
                "flags": flags,
            }
        )
    out = []
    for key in sorted(lines):
        line = lines[key]
        work_days = (line["last_due"] - today()).days + 1
        capacity = Decimal(str(line["shift_hours"])) * 60 * max(work_days, 1)
        load = line["load_minutes"]
        out.append(
            {
                **line,
                "load_hours": float(load / 60),
                "capacity_hours": float(capacity / 60),
                "load_pct": float(load / capacity * 100) if capacity else None,
                "work_days": max(work_days, 1),
            }
        )
    ticks = [
        {"day": first + dt.timedelta(days=i), "left": i * day_pct}
        for i in range(days)
        if (first + dt.timedelta(days=i)).weekday() == 0 or i == 0
    ]
    return {
        "lines": out,
        "first": first,
        "days": days,
        "today_left": BEFORE_DAYS * day_pct,
        "ticks": ticks,
        "shift_hours": shift_hours_at(None),
    }


@bp.route("/timeline")
@role_required("supervisor")
def gantt():
    return render_template("timeline.html", t=timeline(utcnow(), scope.station_ids(web_user())))


@bp.route("/timeline/live")
@role_required("supervisor")
def gantt_live():
    t = timeline(utcnow(), scope.station_ids(web_user()))
    return render_template("_timeline_live.html", t=t)


@bp.route("/timeline/orders/<number>", methods=["POST"])
@role_required("supervisor")
def timeline_move(number: str):
    """Reschedule from the timeline (a drag, or the date fields): the same
    `planning.edit_order` and checks as PATCH /api/orders/<number>. Answers JSON for the
    script, or redirects back to the timeline with a message for the plain form."""
    from flask import flash, redirect, url_for

    body = request.get_json(silent=True) if request.is_json else request.form
    wants_json = request.is_json
    try:
        try:
            start = dt.date.fromisoformat(str((body or {}).get("start", "")).strip())
            due = dt.date.fromisoformat(str((body or {}).get("due", "")).strip())
        except ValueError:
            raise Invalid("bad_payload", "start and due are dates YYYY-MM-DD") from None
        with _db().atomic():
            order = planning.get_order(number)
            # another site's order (or one with no line) is unknown to a limited user
            mine = scope.station_ids(web_user())
            if mine is not None and order.station_id not in mine:
                raise NotFound("not_found", f"No order {number}")  # as get_order
            said = planning.edit_order(
                order,
                start=start,
                due=due,
                now=utcnow(),
                user_id=web_user().id,
                note=gettext("moved on the timeline"),
            )
    except DomainError as exc:
        text = i18n.error_text(getattr(exc, "code", None), getattr(exc, "message", str(exc)))
        message = gettext("Order %(n)s not moved: %(why)s", n=number, why=text)
        if wants_json:
            status = getattr(exc, "status", 400)
            return jsonify({"ok": False, "code": exc.code, "message": message}), status
        flash(message, "error")
        return redirect(url_for("web.gantt"))
    order = ProductionOrder.get(ProductionOrder.number == number)
    what = i18n.event_text("plan", "; ".join(said)) if said else "-"
    message = gettext("Order %(n)s: %(what)s", n=number, what=what)
    if wants_json:
        return jsonify(
            {
                "ok": True,
                "message": message,
                "start": order.start.isoformat(),
                "due": order.due.isoformat(),
            }
        )
    flash(message)
    return redirect(url_for("web.gantt"))
