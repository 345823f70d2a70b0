"""The JSON API blueprint and its small operation registry.

Each resource module declares its operations with `@op(...)`: method, path, the role
needed, the pydantic model of the body and the answers. The same models validate the
request and produce the OpenAPI 3 document at /api/openapi.json, so the document cannot
drift from what the server accepts.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Callable

import peewee
import pydantic
from flask import Blueprint, Flask, current_app, g, jsonify, request, session
from werkzeug.exceptions import HTTPException

from server import auth
from server.core.errors import DomainError
from server.models import User

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api")


@dataclasses.dataclass
class Operation:
    method: str
    rule: str
    role: str | None
    summary: str
    body: type[pydantic.BaseModel] | None
    responses: dict[int, tuple[str, type[pydantic.BaseModel] | None]]
    tag: str
    query: type[pydantic.BaseModel] | None = None
    content_type: str = "application/json"
    operation_id: str = ""
    #: answers other than JSON: status -> media types (documented as strings)
    produces: dict[int, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    #: response headers: status -> {name: description}
    headers: dict[int, dict[str, str]] = dataclasses.field(default_factory=dict)


OPERATIONS: list[Operation] = []


class ErrorBody(pydantic.BaseModel):
    error: str = pydantic.Field(description="stable reason code, see docs/reason-codes.md")
    message: str
    details: list | dict | None = None


def error(code: str, message: str, status: int, details=None):
    body = {"error": code, "message": message}
    if details is not None:
        body["details"] = details
    return jsonify(body), status


def _error_details(exc: pydantic.ValidationError) -> list[dict]:
    return [
        {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def _read_json(model: type[pydantic.BaseModel]):
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _Malformed("Body is not valid JSON (or nested too deeply)", None) from exc
    if not isinstance(data, dict):
        raise _Malformed("Body must be a JSON object", None)
    if _has_nul(data):
        # PostgreSQL text cannot hold NUL, and no scanner or person types one
        raise _Malformed(
            "Text must not contain NUL characters",
            [{"loc": "", "msg": "NUL characters are not allowed", "type": "nul"}],
        )
    try:
        # strict, as JSON: a boolean is true or false (not 0.0 or "yes"), an integer is not
        # 3.0 or "3"; dates stay ISO strings. Re-encoded, since json.loads took the body
        # (a BOM, duplicate keys) the way the checks above saw it.
        return model.model_validate_json(json.dumps(data), strict=True)
    except pydantic.ValidationError as exc:
        raise _Malformed("Body does not match the schema", _error_details(exc), data) from exc


def _has_nul(value, depth: int = 0) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if depth > 50:
        return False
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v, depth + 1) for v in value)
    return False


class _Malformed(Exception):
    def __init__(self, message: str, details, data=None):
        super().__init__(message)
        self.message = message
        self.details = details
        self.data = data


def current_user() -> User | None:
    """The caller: a Bearer token (and then only it), else the browser session."""
    if "user" in g:
        return g.user
    user = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = auth.user_for_token(header[7:].strip())
    elif session.get("user_id"):
        # checked (and an ended session forgotten) before the request; checked again here
        # for an app without the pages
        user = g.web_user if "web_user" in g else auth.session_user(session, current_app.config)
    g.user = user
    return user


def op(
    method: str,
    rule: str,
    *,
    role: str | None,
    summary: str,
    tag: str,
    body: type[pydantic.BaseModel] | None = None,
    query: type[pydantic.BaseModel] | None = None,
    responses: dict[int, tuple[str, type[pydantic.BaseModel] | None]] | None = None,
    content_type: str = "application/json",
    produces: dict[int, tuple[str, ...]] | None = None,
    headers: dict[int, dict[str, str]] | None = None,
) -> Callable:
    """Declare an API operation: route, auth, body validation and OpenAPI entry."""

    def decorate(view: Callable) -> Callable:
        OPERATIONS.append(
            Operation(
                method.lower(),
                rule,
                role,
                summary,
                body,
                responses or {200: ("OK", None)},
                tag,
                query,
                content_type,
                view.__name__,
                produces or {},
                headers or {},
            )
        )

        @functools.wraps(view)
        def wrapper(**kwargs):
            user = current_user()
            if role is not None:
                if user is None:
                    return error("unauthorized", "Sign in or send a Bearer token", 401)
                if not auth.has_role(user, role):
                    return error("forbidden", f"This needs the {role} role", 403)
            if body is not None:
                kwargs["body"] = _read_json(body)
            if query is not None:
                try:
                    kwargs["query"] = query.model_validate(request.args.to_dict())
                except pydantic.ValidationError as exc:
                    raise _Malformed("Bad query parameters", _error_details(exc)) from exc
            return view(**kwargs)

        endpoint = f"{method.lower()}_{view.__name__}"
        bp.add_url_rule(rule, endpoint, wrapper, methods=[method.upper()])
        return wrapper

    return decorate


@bp.before_request
def _refuse_nul_in_url():
    if "\x00" in request.path:
        return error("not_found", "No such resource", 404)
    if any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)):
        return error("bad_payload", "Query parameters must not contain NUL characters", 400)
    return None


@bp.errorhandler(_Malformed)
def _malformed(exc: _Malformed):
    return error("bad_payload", exc.message, 400, exc.details)


@bp.errorhandler(DomainError)
def _domain(exc: DomainError):
    return error(exc.code, exc.message, exc.status, exc.details or None)


@bp.errorhandler(peewee.DataError)
def _out_of_range(exc: peewee.DataError):
    # PostgreSQL refuses a value its column cannot hold (a stock counter summed past
    # numeric(18, 4)); the request, not the server, is at fault, and nothing was written
    log.warning("value out of range on %s %s: %s", request.method, request.path, exc)
    return error("out_of_range", "A value is larger than the database stores", 400)


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    # import the resource modules so their @op declarations register
    from server.api import (  # noqa: F401
        alerts,
        counts,
        exports,
        imports,
        items,
        labels,
        labeltemplates,
        locations,
        machines,
        oee,
        openapi,
        orders,
        people,
        printers,
        printjobs,
        products,
        reasonlist,
        reports,
        scanners,
        scans,
        schedule,
        shifts,
        shipments,
        stations,
        stock,
        trace,
        webhooks,
    )

    app.register_blueprint(bp)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if _is_api():
            code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(
                exc.code or 500, (exc.name or "error").lower().replace(" ", "_")
            )
            resp, status = error(code, exc.description or exc.name, exc.code or 500)
            # a 405 says which methods the resource has (RFC 9110)
            for name, value in exc.get_headers():
                if name == "Allow":
                    resp.headers["Allow"] = value
            return resp, status
        return exc

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if _is_api():
            return error("server_error", "Unexpected error; it has been logged", 500)
        return "Internal error; it has been logged.", 500
