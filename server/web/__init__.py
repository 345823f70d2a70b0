"""The pages: a server-rendered Flask blueprint (`web`) with Jinja templates, one CSS and
one small JavaScript file, no build step.

`init_app(app)` registers the blueprint, CSRF protection (Flask-WTF), the languages
(Flask-Babel) and the page helpers. Views read the models and call the same core and API
operations as the JSON API; they never change business state on their own.

CSRF: every unsafe request to a page needs the session's token (form field `csrf_token`).
A request to any other endpoint (the JSON API) that rides on the browser session needs it
too, in the `X-CSRFToken` header, unless it carries a valid Bearer token: any other
`Authorization` header (or a bad token) is no reason to trust the cookie.

Sessions: every request checks the session against the user (`auth.session_user`) and
forgets a session that has ended (signed out, new password or role, deactivated, too old).

Headers: every answer gets a Content-Security-Policy without inline scripts or styles
(pages keep scripts and styles in app.js / app.css; `style="..."` is not allowed, a
template passes sizes as `data-*` attributes that app.js applies), no framing, no MIME
sniffing and a same-origin Referrer-Policy. The scan page alone may compile WebAssembly
('wasm-unsafe-eval', for its camera decoder; `CSP_PAGES`).
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, g, jsonify, render_template, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from server import auth

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/web",
)

csrf = CSRFProtect()

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
#: the scan page's camera decoder (zxing-wasm) compiles WebAssembly: 'wasm-unsafe-eval'
#: allows only that (no eval of JavaScript), and only on that page
CSP_WASM = CSP.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'")
CSP_PAGES = {"web.scan_station": CSP_WASM}
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
}


def _needs_csrf() -> bool:
    if request.method not in UNSAFE:
        return False
    if request.blueprint == "web":
        return True
    # anything else (the JSON API): only when the browser session is the credential
    if not session.get("user_id"):
        return False
    if request.headers.get("Authorization", "").startswith("Bearer "):
        from server.api import current_user

        return current_user() is None  # a bad token: the cookie alone is no credential
    return True


def _check_session() -> None:
    if "user_id" not in session or request.endpoint == "web.static":
        return
    user = auth.session_user(session, current_app.config)
    if user is None:
        session.clear()
    g.web_user = user  # pages.web_user() reads it


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
        alertpages,
        counts,
        floor,
        i18n,
        labelpages,
        pages,
        plantpages,
        printpages,
        scanstation,
        schedule,
        scrap,
        stock,
        views,
    )

    app.session_interface = _CookieSessions()
    # SESSION_COOKIE_SAMESITE / _SECURE / _HTTPONLY and the lifetimes: server/config.py
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session's life
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)  # plants run plain HTTP on the LAN
    # we decide per request which calls need a token (see _needs_csrf)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    i18n.init_app(app)
    pages.init_app(app)
    app.register_blueprint(bp)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    app.before_request(_check_session)

    @app.before_request
    def _csrf() -> None:
        if _needs_csrf():
            csrf.protect()

    @app.after_request
    def _security_headers(resp):
        if request.endpoint in CSP_PAGES:
            resp.headers.setdefault("Content-Security-Policy", CSP_PAGES[request.endpoint])
        for name, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(name, value)
        return resp

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        if request.blueprint != "web":
            return jsonify({"error": "csrf_failed", "message": exc.description}), 400
        return render_template("error.html", code=400, message=exc.description), 400
