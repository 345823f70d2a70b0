"""The schedule board: orders with progress and flags; plan, edit, release, close, import.

Every change goes through `server.core.planning`, the same functions the JSON API calls.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

import pydantic
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from server.api.orders import order_dict
from server.core import flags as flags_mod
from server.core import planning
from server.core.errors import DomainError
from server.models import Product, ProductionOrder, Station, utcnow
from server.web import bp, i18n
from server.web.pages import FormError, role_required, today, web_user

OPEN = ("planned", "released", "in_progress")
RECENT_DONE_DAYS = 7


def _db():
    return current_app.extensions["koordinator.db"]


def _date(name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(request.form.get(name, "").strip())
    except ValueError:
        raise FormError(
            "bad_payload", gettext("%(f)s is not a date", f=i18n.field_text(name))
        ) from None


def _qty(name: str, *, required: bool = True) -> Decimal | None:
    raw = request.form.get(name, "").strip()
    if not raw and not required:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise FormError(
            "bad_payload", gettext("%(f)s is not a number", f=i18n.field_text(name))
        ) from None
    if not value.is_finite() or value <= 0:
        raise FormError("bad_payload", gettext("%(f)s must be above zero", f=i18n.field_text(name)))
    return value


def board_rows(show_closed: bool = False) -> list[dict]:
    flags = flags_mod.compute(utcnow(), tz=i18n.plant_timezone())
    statuses = list(OPEN) + ["done"] + (["closed"] if show_closed else [])
    since = flags.today - dt.timedelta(days=RECENT_DONE_DAYS)
    rows = []
    for o in planning.list_orders(statuses=statuses, limit=500):
        if o.status in ("done", "closed") and o.due < since and not show_closed:
            continue
        planned, done = Decimal(o.qty), Decimal(o.completed)
        expected = flags_mod.expected_by(o, flags.today) if o.status in OPEN else planned
        rows.append(
            {
                "order": o,
                "pct": float(min(done / planned, 1) * 100) if planned else 0.0,
                "started_pct": float(min(Decimal(o.started) / planned, 1) * 100)
                if planned
                else 0.0,
                "expected_pct": float(min(expected / planned, 1) * 100) if planned else 0.0,
                "flags": flags.for_order(o.id),
            }
        )
    return rows


def _form_choices() -> dict:
    return {
        "products": Product.select()
        .where(Product.kind.in_(("finished", "component")))
        .order_by(Product.sku),
        "station_list": Station.select().order_by(Station.code),
        "today": today(),
    }


@bp.route("/schedule")
@role_required("supervisor")
def schedule():
    show_closed = request.args.get("closed") == "1"
    return render_template(
        "schedule.html",
        rows=board_rows(show_closed),
        show_closed=show_closed,
        import_errors=None,
        can_import=_importer() is not None,
        **_form_choices(),
    )


@bp.route("/schedule/live")
@role_required("supervisor")
def schedule_live():
    return render_template(
        "_schedule_live.html", rows=board_rows(request.args.get("closed") == "1")
    )


def _fail(exc: Exception) -> None:
    if isinstance(exc, pydantic.ValidationError):
        for err in exc.errors(include_url=False):
            flash(i18n.invalid_text(err), "error")
    elif isinstance(exc, FormError):
        flash(exc.message, "error")
    else:
        code, message = getattr(exc, "code", None), getattr(exc, "message", str(exc))
        flash(i18n.error_text(code, message), "error")


@bp.route("/schedule/orders", methods=["POST"])
@role_required("supervisor")
def order_create():
    try:
        plan = planning.OrderPlan(
            number=request.form.get("number", "").strip(),
            product=request.form.get("product", "").strip(),
            qty=_qty("qty"),
            start=_date("start"),
            due=_date("due"),
            station=request.form.get("station", "").strip() or None,
        )
        if not plan.number:
            raise FormError("bad_payload", gettext("An order needs a number"))
        with _db().atomic():
            planning.create_order(plan, now=utcnow(), user_id=web_user().id)
        if request.form.get("release"):
            with _db().atomic():
                order = planning.get_order(plan.number)
                planning.release_order(order, now=utcnow(), user_id=web_user().id)
        flash(gettext("Order %(n)s planned.", n=plan.number))
    except DomainError as exc:
        _fail(exc)
    return redirect(url_for("web.schedule"))


@bp.route("/schedule/orders/<number>/release", methods=["POST"])
@role_required("supervisor")
def order_release(number: str):
    try:
        with _db().atomic():
            planning.release_order(planning.get_order(number), now=utcnow(), user_id=web_user().id)
        flash(gettext("Order %(n)s released.", n=number))
    except DomainError as exc:
        _fail(exc)
    return redirect(url_for("web.schedule"))


@bp.route("/schedule/orders/<number>/close", methods=["POST"])
@role_required("supervisor")
def order_close(number: str):
    try:
        with _db().atomic():
            how = planning.close_order(
                planning.get_order(number),
                reason=request.form.get("reason"),
                now=utcnow(),
                user_id=web_user().id,
            )
        flash(gettext("Order %(n)s: %(how)s.", n=number, how=i18n.close_text(how)))
    except DomainError as exc:
        _fail(exc)
    return redirect(url_for("web.schedule"))


def order_materials(order: ProductionOrder, flags) -> list[dict]:
    """Need, issued and short per material: the API's own figures (GET /api/orders/<n>)
    with the material's unit."""
    lines = order_dict(order, detail=True, flags=flags)["materials"]
    units = dict(
        Product.select(Product.sku, Product.unit)
        .where(Product.sku.in_([m["material"] for m in lines]))
        .tuples()
    )
    return [
        {
            **m,
            "unit": units.get(m["material"], ""),
            "short": max(Decimal(str(m["needed"])) - Decimal(str(m["issued"])), Decimal(0)),
        }
        for m in lines
    ]


@bp.route("/schedule/orders/<number>", methods=["GET", "POST"])
@role_required("supervisor")
def order_edit(number: str):
    try:
        order = planning.get_order(number)
    except DomainError:
        from flask import abort

        abort(404, gettext("No order %(n)s", n=number))
    if request.method == "POST":
        try:
            with _db().atomic():
                said = planning.edit_order(
                    order,
                    qty=_qty("qty", required=False),
                    start=_date("start"),
                    due=_date("due"),
                    station=request.form.get("station", "").strip() or None,
                    now=utcnow(),
                    user_id=web_user().id,
                    note=request.form.get("note", "").strip() or None,
                )
            what = i18n.event_text("plan", "; ".join(said)) if said else "-"
            flash(gettext("Order %(n)s: %(what)s", n=number, what=what))
            return redirect(url_for("web.schedule"))
        except DomainError as exc:
            _fail(exc)
    all_flags = flags_mod.compute(utcnow(), tz=i18n.plant_timezone())
    order = ProductionOrder.get_by_id(order.id)
    return render_template(
        "order.html",
        order=order,
        flags=all_flags.for_order(order.id),
        materials=order_materials(order, all_flags),
        events=[
            {**e, "when": dt.datetime.fromisoformat(e["at"].rstrip("Z"))}
            for e in planning.order_events(order)
        ],
        **_form_choices(),
    )


def _importer():
    """The planning API's CSV import (server.core.imports) for orders, when it exists."""
    try:
        from server.api.imports import MODELS
        from server.core import imports
    except ImportError:
        return None

    def import_orders(text: str, *, user_id: int):
        return imports.import_csv(
            _db(), "orders", text, models=MODELS, now=utcnow(), user_id=user_id
        )

    return import_orders


@bp.route("/schedule/import", methods=["POST"])
@role_required("supervisor")
def order_import():
    importer = _importer()
    upload = request.files.get("file")
    text = request.form.get("csv", "")
    if upload is not None and upload.filename:
        text = upload.read().decode("utf-8-sig", errors="replace")
    errors: list = []
    if importer is None:
        errors = [{"line": None, "error": gettext("CSV import is not available.")}]
    elif not text.strip():
        errors = [{"line": None, "error": gettext("Choose a CSV file.")}]
    else:
        try:
            result = importer(text, user_id=web_user().id)
            flash(
                gettext(
                    "Orders imported: %(c)s new, %(u)s changed, %(s)s unchanged.",
                    c=result.created,
                    u=result.updated,
                    s=result.unchanged,
                )
            )
            return redirect(url_for("web.schedule"))
        except DomainError as exc:
            details = exc.details if isinstance(exc.details, list) else []
            errors = details or [{"line": None, "error": exc.message}]
            if not i18n.english():  # the core's row errors are English: keep them as detail
                errors = [
                    {
                        "line": e.get("line"),
                        "error": gettext("Not a valid row"),
                        "detail": e.get("error"),
                    }
                    for e in errors
                ]
    return render_template(
        "schedule.html",
        rows=board_rows(),
        show_closed=False,
        import_errors=errors,
        can_import=importer is not None,
        **_form_choices(),
    ), 422
