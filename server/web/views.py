"""Signing in and out, the home page and the language switch."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext

from server import auth
from server.models import User
from server.web import bp, i18n
from server.web.pages import role_required, safe_next, web_user


@bp.route("/")
def home():
    user = web_user()
    if user is None:
        return redirect(url_for("web.login"))
    if auth.has_role(user, "supervisor"):
        return redirect(url_for("web.stock"))
    return redirect(url_for("web.scan_index"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        user = User.get_or_none((User.username == username) & (User.active == True))  # noqa: E712
        if user is not None and auth.check_password(user, password):
            target = safe_next(request.args.get("next") or request.form.get("next"))
            session.clear()  # a fresh session (and CSRF token) for the signed-in user
            session["user_id"] = user.id
            session.permanent = True
            return redirect(target)
        error = gettext("Wrong user name or password.")
    return render_template("login.html", error=error, next=request.args.get("next", "")), (
        401 if error else 200
    )


@bp.route("/logout", methods=["POST"])
def logout():
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
