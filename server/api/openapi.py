"""The OpenAPI 3.1 document, generated from the operations and their pydantic models."""

from __future__ import annotations

import re

from flask import jsonify

from server.api import OPERATIONS, ErrorBody, bp

REF = "#/components/schemas/{model}"


def _schema(model, components: dict) -> dict:
    schema = model.model_json_schema(ref_template=REF, mode="validation")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _not_null(schema: dict) -> dict:
    """A query parameter's schema without the `null` branch of an optional field: a query
    string has no null, only an absent parameter."""
    branches = [b for b in schema.get("anyOf", []) if b != {"type": "null"}]
    if len(branches) == 1 and len(schema["anyOf"]) == 2:
        rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
        return {**branches[0], **rest}
    return {k: v for k, v in schema.items() if not (k == "default" and v is None)}


def _query_params(model) -> list[dict]:
    schema = model.model_json_schema(mode="validation")
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = {k: v for k, v in _not_null(prop).items() if k != "title"}
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if "description" in prop:
            param["description"] = prop.pop("description")
        out.append(param)
    return out


BINARY = (
    "application/pdf",
    "image/png",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)
CSV_UPLOAD = {
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"],
        }
    },
}


def build() -> dict:
    components: dict = {}
    error_ref = _schema(ErrorBody, components)
    paths: dict = {}
    for o in OPERATIONS:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", o.rule)
        params = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in re.findall(r"{(\w+)}", path)
        ]
        entry: dict = {
            "summary": o.summary,
            "tags": [o.tag],
            "operationId": o.operation_id,
            "responses": {},
        }
        if o.query is not None:
            params = params + _query_params(o.query)
        if params:
            entry["parameters"] = params
        if o.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema(o.body, components)}},
            }
        elif o.content_type == "text/csv":
            entry["requestBody"] = {"required": True, "content": CSV_UPLOAD}
        for status, (desc, model) in sorted(o.responses.items()):
            resp: dict = {"description": desc}
            if status in o.headers:
                resp["headers"] = {
                    name: {"description": text, "schema": {"type": "string"}}
                    for name, text in o.headers[status].items()
                }
            if status in o.produces:
                resp["content"] = {
                    media: {
                        "schema": {"type": "object"}
                        if media == "application/json"
                        else {"type": "string", "format": "binary"}
                        if media in BINARY
                        else {"type": "string"}
                    }
                    for media in o.produces[status]
                }
            elif model is not None:
                resp["content"] = {"application/json": {"schema": _schema(model, components)}}
            elif status < 400:
                resp["content"] = {"application/json": {"schema": {"type": "object"}}}
            else:
                resp["content"] = {"application/json": {"schema": error_ref}}
            entry["responses"][str(status)] = resp
        errors = (
            {"400": "Malformed request"}
            if (o.body or o.query or o.content_type != "application/json")
            else {}
        )
        if o.role:
            errors.update({"401": "Not signed in", "403": "Role too low"})
        if params:
            errors.setdefault("404", "Not found")
        for status, desc in errors.items():
            entry["responses"].setdefault(
                status,
                {"description": desc, "content": {"application/json": {"schema": error_ref}}},
            )
        if o.role:
            entry["security"] = [{"bearer": []}, {"session": []}]
        paths.setdefault("/api" + path, {})[o.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Koordinator API",
            "version": "1.0.0",
            "description": "See docs/api.md and docs/protocol.md",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(build())
