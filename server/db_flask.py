"""The database in a Flask app: opened per request, closed at teardown."""

from __future__ import annotations

from flask import Flask

from server.db import init_db


def init_app(app: Flask) -> None:
    db = init_db(app.config["DATABASE_URL"])
    app.extensions["koordinator.db"] = db

    @app.before_request
    def _connect() -> None:
        db.connect(reuse_if_open=True)

    @app.teardown_appcontext
    def _close(exc: BaseException | None) -> None:
        if not db.is_closed():
            db.close()
