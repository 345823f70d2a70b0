"""Admin pages: products with their BOM and routing, stations, scanners (and their broker
passwords), users and API tokens, webhooks with their delivery log, label printers and the
stations' print rules.

Creating master data goes through the JSON API's own operations (their pydantic bodies
and views), so a form and an API call accept and refuse exactly the same things.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

import peewee as pw
import pydantic
from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext

from server import auth, mqtt_credentials
from server.api import locations as api_locations
from server.api import printers as api_printers
from server.api import printjobs as api_printjobs
from server.api import products as api_products
from server.api import reasonlist as api_reasons
from server.api import scanners as api_scanners
from server.api import stations as api_stations
from server.api import webhooks as api_webhooks
from server.core import events, labeltemplates, siteaccess
from server.core import locations as core_locations
from server.core import printers as core_printers
from server.core import printjobs as core_printjobs
from server.core.errors import DomainError
from server.core.reasonlist import USES as REASON_USES
from server.core.stages import STATION_ACTIONS as _ACTIONS
from server.labelling import PRINTER_KINDS, test_label
from server.models import (
    ApiToken,
    BomLine,
    DeliveryAttempt,
    Event,
    Printer,
    PrintRule,
    Product,
    Reason,
    RoutingStep,
    Scanner,
    Sink,
    Site,
    Station,
    User,
    utcnow,
)
from server.web import bp, i18n
from server.web.pages import FormError, role_required, web_user

STATION_ACTIONS = [a.value for a in _ACTIONS]
#: delivery attempts shown on the webhooks page, newest first
WEBHOOK_LOG_ROWS = 100


def _db():
    return current_app.extensions["koordinator.db"]


def flash_invalid(exc: pydantic.ValidationError) -> None:
    for err in exc.errors(include_url=False):
        flash(i18n.invalid_text(err), "error")


def _call(operation, **kwargs) -> bool:
    """Run an API operation's view body; flash its refusal and answer False."""
    try:
        operation.__wrapped__(**kwargs)
        return True
    except pydantic.ValidationError as exc:
        flash_invalid(exc)
    except DomainError as exc:
        flash(i18n.error_text(exc.code, exc.message), "error")
    return False


def _submit(operation, model, data: dict, **kwargs):
    """Validate a form's `data` as the API operation's body and run the operation; the
    body when it went through, else None (the refusal is flashed)."""
    try:
        body = model.model_validate(data)
    except pydantic.ValidationError as exc:
        flash_invalid(exc)
        return None
    return body if _call(operation, body=body, **kwargs) else None


def _once(template: str, **context):
    """A page showing a secret once: never stored by the browser or a proxy."""
    resp = make_response(render_template(template, **context))
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _form(*names: str) -> dict:
    """The non-empty form fields among `names`, stripped."""
    out = {}
    for name in names:
        value = request.form.get(name, "").strip()
        if value:
            out[name] = value
    return out


@bp.route("/admin")
@role_required("admin")
def admin():
    return render_template(
        "admin/index.html",
        products=Product.select().order_by(Product.sku),
        stations=list(Station.select().order_by(Station.code)),
        scanners=Scanner.select().order_by(Scanner.id),
        users=User.select().order_by(User.username),
        reasons=Reason.select().order_by(Reason.code),
        reason_uses=REASON_USES,
        actions=STATION_ACTIONS,
    )


def _reason_form() -> dict:
    return {
        "text_en": request.form.get("text_en", "").strip(),
        "text_id": request.form.get("text_id", "").strip(),
        "applies_to": [u for u in REASON_USES if request.form.get(f"use_{u}") == "on"],
    }


@bp.route("/admin/reasons", methods=["POST"])
@role_required("admin")
def admin_reason_create():
    data = {"code": request.form.get("code", "").strip(), **_reason_form()}
    if body := _submit(api_reasons.create_reason, api_reasons.ReasonIn, data):
        flash(gettext("Reason %(code)s added.", code=body.code))
    return redirect(url_for("web.admin") + "#reasons")


@bp.route("/admin/reasons/labels.pdf")
@role_required("admin")
def admin_reason_labels():
    """The sheet of every active reason's label, to print for the stations."""
    from labels import render_pdf
    from server.labelling import reason_labels

    pdf = render_pdf(reason_labels(), "a4-3x8", title="Koordinator reason labels")
    return current_app.response_class(pdf, mimetype="application/pdf")


@bp.route("/admin/reasons/<code>", methods=["POST"])
@role_required("admin")
def admin_reason_edit(code: str):
    data = {**_reason_form(), "active": request.form.get("active") == "on"}
    if _submit(api_reasons.edit_reason, api_reasons.ReasonEdit, data, code=code):
        flash(gettext("Saved."))
    return redirect(url_for("web.admin") + "#reasons")


@bp.route("/admin/products", methods=["POST"])
@role_required("admin")
def admin_product_create():
    data = _form("sku", "name", "kind", "tracking", "gtin", "unit", "reorder_point")
    data["near_expiry_days"] = _days(request.form.get("near_expiry_days", ""))
    if body := _submit(api_products.create_product, api_products.ProductIn, data):
        flash(gettext("Product %(sku)s created.", sku=body.sku))
    return redirect(url_for("web.admin") + "#products")


def _days(text: str) -> int | str | None:
    """A form's whole number of days for the API body: empty is none, digits a number;
    anything else goes on as text, for the API's validation to refuse with its message."""
    text = text.strip()
    if not text:
        return None
    return int(text) if text.isdigit() else text


def _lines(text: str) -> list[list[str]]:
    return [line.replace(",", " ").split() for line in text.splitlines() if line.strip()]


def _product_edit() -> api_products.ProductEdit:
    """The product form as the API's PATCH body: every field is sent, an empty GTIN,
    reorder point or near-expiry days clears it, an unticked box deactivates."""
    form = request.form
    return api_products.ProductEdit.model_validate(
        {
            "name": form.get("name", "").strip(),
            "unit": form.get("unit", "").strip(),
            "gtin": form.get("gtin", "").strip() or None,
            "reorder_point": form.get("reorder_point", "").strip() or None,
            "near_expiry_days": _days(form.get("near_expiry_days", "")),
            "active": form.get("active") == "on",
        }
    )


@bp.route("/admin/products/<sku>", methods=["GET", "POST"])
@role_required("admin")
def admin_product(sku: str):
    product = Product.get_or_none(Product.sku == sku)
    if product is None:
        abort(404, gettext("No product %(sku)s", sku=sku))
    if request.method == "POST":
        what = request.form.get("what")
        try:
            if what == "bom":
                lines = []
                for parts in _lines(request.form.get("bom", "")):
                    if len(parts) != 2:
                        raise FormError("bad_payload", gettext("Each line: SKU quantity"))
                    lines.append({"component": parts[0], "qty": Decimal(parts[1])})
                ok = _call(api_products.put_bom, sku=sku, body=api_products.BomIn(lines=lines))
            elif what == "product":
                ok = _call(api_products.edit_product, sku=sku, body=_product_edit())
            elif what == "routing":
                codes = [c for parts in _lines(request.form.get("routing", "")) for c in parts]
                ok = _call(
                    api_products.put_routing,
                    sku=sku,
                    body=api_products.RoutingIn(stations=codes),
                )
            else:
                abort(400)
            if ok:
                flash(gettext("Saved."))
        except pydantic.ValidationError as exc:
            flash_invalid(exc)
        except FormError as exc:
            flash(exc.message, "error")
        except DomainError as exc:
            flash(i18n.error_text(exc.code, exc.message), "error")
        except InvalidOperation:
            flash(gettext("Not a valid quantity"), "error")
        return redirect(url_for("web.admin_product", sku=sku))
    bom = list(
        BomLine.select(BomLine, Product)
        .join(Product, on=(BomLine.component == Product.id))
        .where(BomLine.product == product.id)
        .order_by(Product.sku)
    )
    routing = list(
        RoutingStep.select(RoutingStep, Station)
        .join(Station)
        .where(RoutingStep.product == product.id)
        .order_by(RoutingStep.seq)
    )
    return render_template("admin/product.html", product=product, bom=bom, routing=routing)


@bp.route("/admin/stations", methods=["POST"])
@role_required("admin")
def admin_station_create():
    data = _form("code", "name", "default_action")
    if request.form.get("language") in i18n.languages():
        data["language"] = request.form["language"]
    if body := _submit(api_stations.create_station, api_stations.StationIn, data):
        flash(gettext("Station %(code)s created.", code=body.code))
    return redirect(url_for("web.admin") + "#stations")


@bp.route("/admin/stations/<code>", methods=["POST"])
@role_required("admin")
def admin_station_edit(code: str):
    """The station row's form, sent as a PATCH /api/stations/{code} body: the same checks
    (a rework target is a station code, a dwell limit a whole number of minutes)."""
    if Station.get_or_none(Station.code == code) is None:
        abort(404)
    form = request.form
    data: dict = {
        "language": form.get("language", "").strip() or None,
        "dwell_limit_minutes": form.get("dwell_limit_minutes", "").strip() or None,
        "operator_required": form.get("operator_required") == "on",
        "active": form.get("active") == "on",
    }
    if action := form.get("default_action", "").strip():
        data["default_action"] = action
    if "rework_to" in form:  # empty: no rework target
        data["rework_to"] = form["rework_to"].strip() or None
    if _submit(api_stations.edit_station, api_stations.StationEdit, data, code=code):
        flash(gettext("Station %(code)s saved.", code=code))
    return redirect(url_for("web.admin") + "#stations")


@bp.route("/admin/scanners", methods=["POST"])
@role_required("admin")
def admin_scanner_create():
    data = _form("id", "station", "name")
    if body := _submit(api_scanners.create_scanner, api_scanners.ScannerIn, data):
        flash(gettext("Scanner %(id)s registered.", id=body.id))
    return redirect(url_for("web.admin") + "#scanners")


@bp.route("/admin/scanners/<scanner_id>/active", methods=["POST"])
@role_required("admin")
def admin_scanner_active(scanner_id: str):
    """Deactivate (its scans are refused) or reactivate a scanner."""
    if Scanner.get_or_none(Scanner.id == scanner_id) is None:
        abort(404)
    active = request.form.get("active") == "on"
    body = api_scanners.ScannerEdit(active=active)
    if _call(api_scanners.edit_scanner, scanner_id=scanner_id, body=body):
        if active:
            flash(gettext("Scanner %(id)s reactivated.", id=scanner_id))
        else:
            flash(gettext("Scanner %(id)s deactivated: its scans are refused.", id=scanner_id))
    return redirect(url_for("web.admin") + "#scanners")


@bp.route("/admin/scanners/<scanner_id>/password", methods=["POST"])
@role_required("admin")
def admin_scanner_password(scanner_id: str):
    """A new broker password for the scanner: shown once, only its hash is kept."""
    scanner = Scanner.get_or_none(Scanner.id == scanner_id)
    if scanner is None:
        abort(404)
    password = mqtt_credentials.new_password()
    Scanner.update(secret_hash=mqtt_credentials.hash_password(password)).where(
        Scanner.id == scanner.id
    ).execute()
    return _once(
        "admin/secret.html",
        title=gettext("Broker password of scanner %(id)s", id=scanner.id),
        username=scanner.id,
        secret=password,
        note=gettext(
            "Put it in the agent's configuration, then rewrite the broker's password file "
            "(python -m server mqtt-credentials)."
        ),
    )


@bp.route("/admin/users", methods=["POST"])
@role_required("admin")
def admin_user_create():
    data = _form("username", "role", "password", "badge", "language")
    try:
        if not data.get("username"):
            raise ValueError(gettext("A user needs a name"))
        with _db().atomic():
            user = auth.create_user(
                data.get("username", ""),
                data.get("role", ""),
                data.get("password"),
                badge=data.get("badge"),
            )
            if data.get("language") in i18n.languages():
                User.update(language=data["language"]).where(User.id == user.id).execute()
        flash(gettext("User %(u)s created.", u=user.username))
    except ValueError as exc:
        flash(str(exc), "error")
    except pw.IntegrityError:
        flash(gettext("That user name or badge exists."), "error")
    return redirect(url_for("web.admin") + "#users")


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@role_required("admin")
def admin_user(user_id: int):
    user = User.get_or_none(User.id == user_id)
    if user is None:
        abort(404)
    if request.method == "POST":
        changes: dict = {}
        role = request.form.get("role")
        if role in auth.ROLES:
            if user.id == web_user().id and role != "admin":
                flash(gettext("You cannot take your own admin role."), "error")
            else:
                changes["role"] = role
        language = request.form.get("language")
        if language in i18n.languages():
            changes["language"] = language
        changes["badge"] = request.form.get("badge", "").strip() or None
        if user.id != web_user().id:
            changes["active"] = request.form.get("active") == "on"
        password = request.form.get("password", "")
        if password:
            if len(password) < 8:
                flash(gettext("A password needs at least 8 characters."), "error")
                return redirect(url_for("web.admin_user", user_id=user.id))
            changes["password_hash"] = auth.hash_password(password)
        try:
            with _db().atomic():
                User.update(**changes).where(User.id == user.id).execute()
                # none ticked: every site (server/core/siteaccess.py)
                siteaccess.set_sites(user, request.form.getlist("sites"))
            flash(gettext("User %(u)s saved.", u=user.username))
        except DomainError as exc:
            flash(i18n.error_text(exc.code, exc.message), "error")
        except pw.IntegrityError:
            flash(gettext("That user name or badge exists."), "error")
        return redirect(url_for("web.admin_user", user_id=user.id))
    tokens = ApiToken.select().where(ApiToken.user == user.id).order_by(ApiToken.id.desc())
    return render_template(
        "admin/user.html",
        user=user,
        tokens=tokens,
        roles=auth.ROLES,
        sites=list(Site.select().order_by(Site.code)),
        # the stored ones, an admin's too (site_ids() is None for an admin: saving wiped them)
        user_sites={int(i) for i in user.site_ids or []},
    )


@bp.route("/admin/users/<int:user_id>/tokens", methods=["POST"])
@role_required("admin")
def admin_token_create(user_id: int):
    user = User.get_or_none(User.id == user_id)
    if user is None:
        abort(404)
    name = request.form.get("name", "").strip()[:64] or "web"
    token = auth.create_token(user, name)
    return _once(
        "admin/secret.html",
        title=gettext("API token for %(u)s", u=user.username),
        username=user.username,
        secret=token,
        note=gettext("Send it as: Authorization: Bearer <token>. It is shown only now."),
    )


@bp.route("/admin/tokens/<int:token_id>/revoke", methods=["POST"])
@role_required("admin")
def admin_token_revoke(token_id: int):
    token = ApiToken.get_or_none(ApiToken.id == token_id)
    if token is None:
        abort(404)
    ApiToken.update(revoked=True).where(ApiToken.id == token.id).execute()
    flash(gettext("Token revoked."))
    return redirect(url_for("web.admin_user", user_id=token.user_id))


# --- sites and locations (server/core/locations.py) ---------------------------------------


@bp.route("/admin/locations")
@role_required("admin")
def admin_locations():
    return render_template(
        "admin/locations.html",
        locations=core_locations.listing(),
        sites=Site.select().order_by(Site.code),
        kinds=core_locations.KINDS,
    )


@bp.route("/admin/sites", methods=["POST"])
@role_required("admin")
def admin_site_create():
    data = _form("code", "name")
    if body := _submit(api_locations.create_site, api_locations.SiteIn, data):
        flash(gettext("Site %(code)s created.", code=body.code))
    return redirect(url_for("web.admin_locations"))


def _allow_form() -> dict | None:
    products = [p.strip() for p in request.form.get("allow_products", "").split(",") if p.strip()]
    kinds = [k for k in ("raw", "component", "finished", "supplies") if request.form.get(f"k_{k}")]
    return {"products": products, "kinds": kinds} if (products or kinds) else None


@bp.route("/admin/locations", methods=["POST"])
@role_required("admin")
def admin_location_create():
    data = _form("code", "kind", "name", "site", "parent")
    data["allow"] = _allow_form()
    if body := _submit(api_locations.create_location, api_locations.LocationIn, data):
        flash(gettext("Location %(code)s created.", code=body.code.upper()))
    return redirect(url_for("web.admin_locations"))


@bp.route("/admin/locations/<code>", methods=["POST"])
@role_required("admin")
def admin_location_edit(code: str):
    if core_locations.by_code(code) is None:
        abort(404)
    data: dict = {"active": request.form.get("active") == "on"}
    if request.form.get("name", "").strip():
        data["name"] = request.form["name"].strip()
    data["parent"] = request.form.get("parent", "").strip() or None
    data["allow"] = _allow_form()
    if _submit(api_locations.edit_location, api_locations.LocationEdit, data, code=code):
        flash(gettext("Location %(code)s saved.", code=code))
    return redirect(url_for("web.admin_locations"))


# --- webhooks: subscriptions, delivery log, replay (docs/events.md) -------------------------


@bp.route("/admin/webhooks")
@role_required("admin")
def admin_webhooks():
    newest = events.last_id()
    sinks = list(Sink.select().where(Sink.kind == "webhook").order_by(Sink.name))
    shown = request.args.get("webhook", "").strip()
    attempts = DeliveryAttempt.select(DeliveryAttempt, Sink.name).join(Sink)
    attempts = attempts.where(Sink.kind == "webhook")
    if shown:
        attempts = attempts.where(Sink.name == shown)
    log = list(attempts.order_by(DeliveryAttempt.id.desc()).limit(WEBHOOK_LOG_ROWS))
    types = {
        e.id: e.type
        for e in Event.select(Event.id, Event.type).where(
            Event.id.in_({a.event_id for a in log} or {0})
        )
    }
    return render_template(
        "admin/webhooks.html",
        webhooks=[(api_webhooks.webhook_dict(s, newest), s) for s in sinks],
        log=log,
        types=types,
        shown=shown,
        rows=WEBHOOK_LOG_ROWS,
    )


@bp.route("/admin/webhooks/<name>/replay", methods=["POST"])
@role_required("admin")
def admin_webhook_replay(name: str):
    data = {"from_event": request.form.get("from_event", "").strip()}
    if body := _submit(api_webhooks.replay_webhook, api_webhooks.ReplayIn, data, name=name):
        flash(gettext("Webhook %(name)s replays from event %(id)s.", name=name, id=body.from_event))
    return redirect(url_for("web.admin_webhooks"))


# --- printers and print rules (server/core/printers.py, printjobs.py; docs/labels.md) ------


@bp.route("/admin/printers")
@role_required("admin")
def admin_printers():
    printers = []
    for p in Printer.select().order_by(Printer.name):
        row = api_printers.printer_dict(p)
        at = row["last_error_at"]
        row["last_error_dt"] = dt.datetime.fromisoformat(at.rstrip("Z")) if at else None
        printers.append(row)
    stations = list(Station.select().order_by(Station.code))
    codes = {s.id: s.code for s in stations}
    rules = [
        {
            "station": codes.get(r.station_id, "?"),
            "event": r.event,
            "printer": r.printer.name,
            "template": r.template,
        }
        for r in PrintRule.select(PrintRule, Printer).join(Printer)
    ]
    rules.sort(key=lambda r: (r["station"], core_printjobs.RULE_EVENTS.index(r["event"])))
    return render_template(
        "admin/printers.html",
        printers=printers,
        rules=rules,
        stations=stations,
        sites=list(Site.select().order_by(Site.code)),
        templates=[t.name for t in labeltemplates.current()],
        kinds=PRINTER_KINDS,
        dpis=core_printers.DPIS,
        media_kinds=core_printers.MEDIA_KINDS,
        events=core_printjobs.RULE_EVENTS,
    )


def _printer_form(*, editing: bool) -> dict:
    """A printer form as the API's body: empty station, site or media width clears them
    when editing and leaves them out when adding; the dpi as the number it is."""
    data: dict = {}
    for name in ("name", "kind", "address"):
        value = request.form.get(name, "").strip()
        if value:
            data[name] = value
    for name in ("station", "site"):
        value = request.form.get(name, "").strip()
        if value or editing:
            data[name] = value or None
    dpi = request.form.get("dpi", "").strip()
    if dpi:
        data["dpi"] = int(dpi) if dpi.isdigit() else dpi
    width = request.form.get("media_width_mm", "").strip()
    if width:
        media = {"width_mm": width, "kind": request.form.get("media_kind", "gap")}
        height = request.form.get("media_height_mm", "").strip()
        if height:
            media["height_mm"] = height
        data["media"] = media
    elif editing:
        data["media"] = None
    return data


@bp.route("/admin/printers", methods=["POST"])
@role_required("admin")
def admin_printer_create():
    data = _printer_form(editing=False)
    if body := _submit(api_printers.create_printer, api_printers.PrinterIn, data):
        flash(gettext("Printer %(name)s added.", name=body.name))
    return redirect(url_for("web.admin_printers"))


def _printer_or_404(name: str) -> Printer:
    printer = Printer.get_or_none(Printer.name == name)
    if printer is None:
        abort(404)
    return printer


@bp.route("/admin/printers/<name>", methods=["POST"])
@role_required("admin")
def admin_printer_edit(name: str):
    _printer_or_404(name)
    data = _printer_form(editing=True)
    data.pop("name", None)
    if _submit(api_printers.edit_printer, api_printers.PrinterEdit, data, name=name):
        flash(gettext("Printer %(name)s saved.", name=name))
    return redirect(url_for("web.admin_printers"))


@bp.route("/admin/printers/<name>/active", methods=["POST"])
@role_required("admin")
def admin_printer_active(name: str):
    printer = _printer_or_404(name)
    active = not printer.active
    data = {"active": active}
    if _submit(api_printers.edit_printer, api_printers.PrinterEdit, data, name=name):
        if active:
            flash(gettext("Printer %(name)s switched on.", name=name))
        else:
            flash(gettext("Printer %(name)s switched off.", name=name))
    return redirect(url_for("web.admin_printers"))


@bp.route("/admin/printers/<name>/test", methods=["POST"])
@role_required("admin")
def admin_printer_test(name: str):
    printer = _printer_or_404(name)
    user_id = web_user().id
    try:
        with _db().atomic():
            core_printjobs.enqueue(
                printer, source="test", now=utcnow(), data=test_label(printer), user_id=user_id
            )
        flash(gettext("Test label queued for %(printer)s", printer=printer.name), "ok")
    except DomainError as exc:
        flash(i18n.error_text(exc.code, exc.message), "error")
    return redirect(url_for("web.admin_printers"))


@bp.route("/admin/print-rules", methods=["POST"])
@role_required("admin")
def admin_rule_set():
    data = _form("station", "event", "printer", "template")
    if body := _submit(api_printjobs.put_rule, api_printjobs.RuleIn, data):
        flash(
            gettext(
                "Print rule set: %(event)s at %(station)s prints at %(printer)s.",
                event=i18n.print_source_text(body.event),
                station=body.station,
                printer=body.printer,
            )
        )
    return redirect(url_for("web.admin_printers") + "#rules")


@bp.route("/admin/print-rules/<station>/<event>/delete", methods=["POST"])
@role_required("admin")
def admin_rule_delete(station: str, event: str):
    if _call(api_printjobs.delete_rule, station=station, event=event):
        flash(
            gettext(
                "Print rule removed: %(event)s at %(station)s.",
                event=i18n.print_source_text(event),
                station=station,
            )
        )
    return redirect(url_for("web.admin_printers") + "#rules")
