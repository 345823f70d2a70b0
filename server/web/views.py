"""Signing in and out, the home page and the language switch."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext, lazy_gettext, ngettext

from server import auth
from server.models import LoginAttempt, User
from server.web import bp, i18n
from server.web.pages import role_required, safe_next, web_user


@bp.route("/")
def home():
    user = web_user()
    if user is None:
        return redirect(url_for("web.login"))
    if auth.has_role(user, "supervisor"):
        return redirect(url_for("web.stock"))
    if auth.has_role(user, "clerk"):
        return redirect(url_for("web.label_print"))
    return redirect(url_for("web.scan_index"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status, headers = None, 200, {}
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        result = auth.sign_in(username, password, request.remote_addr or "")
        if result.user is not None:
            target = safe_next(request.args.get("next") or request.form.get("next"))
            session.clear()  # a fresh session (and CSRF token) for the signed-in user
            session.update(auth.session_data(result.user))
            session.permanent = True
            return redirect(target)
        if result.retry_after:
            minutes = (result.retry_after + 59) // 60
            error = ngettext(
                "Too many failed sign-ins. Try again in %(num)s minute.",
                "Too many failed sign-ins. Try again in %(num)s minutes.",
                minutes,
            )
            status, headers = 429, {"Retry-After": str(result.retry_after)}
        else:
            error, status = gettext("Wrong user name or password."), 401
    page = render_template("login.html", error=error, next=request.args.get("next", ""))
    return page, status, headers


@bp.route("/logout", methods=["POST"])
def logout():
    user = web_user()
    if user is not None:
        auth.end_sessions(user)  # the cookie may have been copied: end it on the server too
    session.clear()
    return redirect(url_for("web.login"))


@bp.route("/language", methods=["POST"])
@role_required("operator")
def language():
    """The signed-in user's own language."""
    code = request.form.get("language", "")
    if code in i18n.languages():
        User.update(language=code).where(User.id == web_user().id).execute()
        flash(gettext("Language changed."))
    return redirect(safe_next(request.form.get("next")))


SIGN_IN_RESULTS = {
    "ok": lazy_gettext("Signed in"),
    "wrong_password": lazy_gettext("Wrong password"),
    "unknown_user": lazy_gettext("Unknown user name"),
    "inactive": lazy_gettext("Inactive user"),
    "no_password": lazy_gettext("User without a password"),
    "throttled": lazy_gettext("Refused: too many failures"),
}


@bp.route("/admin/sign-ins")
@role_required("admin")
def sign_ins():
    """The sign-in audit, newest first; `?user=` narrows it to one user name."""
    name = request.args.get("user", "").strip()
    rows = LoginAttempt.select().order_by(LoginAttempt.id.desc()).limit(500)
    if name:
        rows = rows.where(LoginAttempt.username == name)
    return render_template("sign_ins.html", rows=list(rows), user=name, results=SIGN_IN_RESULTS)
