"""The pages: a server-rendered Flask blueprint (`web`) with Jinja templates, one CSS and
one small JavaScript file, no build step.

`init_app(app)` registers the blueprint, CSRF protection (Flask-WTF), the languages
(Flask-Babel) and the page helpers. Views read the models and call the same core and API
operations as the JSON API; they never change business state on their own.

CSRF: every unsafe request to a page needs the session's token (form field `csrf_token`).
A request to any other endpoint (the JSON API) that rides on the browser session - a
session user and no `Authorization` header - needs it too, in the `X-CSRFToken` header;
Bearer-token calls are exempt, a cross-site page cannot set that header.
"""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, render_template, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/web",
)

csrf = CSRFProtect()

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _needs_csrf() -> bool:
    if request.method not in UNSAFE:
        return False
    if request.blueprint == "web":
        return True
    # anything else (the JSON API): only when the browser session is the credential
    return bool(session.get("user_id")) and "Authorization" not in request.headers


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without making a signing serializer for a request
    that has no session cookie to read: every API call with a token (2-3 % of such a
    request in a profile of POST /api/scans)."""

    def open_session(self, app: Flask, request):
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    from server.web import (  # noqa: F401 - the view modules register their routes
        admin,
        floor,
        i18n,
        pages,
        scanstation,
        schedule,
        stock,
        views,
    )

    app.session_interface = _CookieSessions()
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session's life
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)  # plants run plain HTTP on the LAN
    # we decide per request which calls need a token (see _needs_csrf)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    i18n.init_app(app)
    pages.init_app(app)
    app.register_blueprint(bp)

    @app.before_request
    def _csrf() -> None:
        if _needs_csrf():
            csrf.protect()

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        if request.blueprint != "web":
            return jsonify({"error": "csrf_failed", "message": exc.description}), 400
        return render_template("error.html", code=400, message=exc.description), 400
