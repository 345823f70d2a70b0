"""Koordinator server: `create_app()` builds the Flask app; nothing runs at import."""

from __future__ import annotations

import logging

from flask import Flask

from server import config as config_mod


def create_app(test_config: dict | None = None) -> Flask:
    """The app factory: defaults, then the environment, then `test_config`."""
    app = Flask(__name__)
    app.config.update(config_mod.from_env())
    if test_config:
        app.config.update(test_config)
    logging.basicConfig(
        level=app.config["LOG_LEVEL"],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    from server import db_flask
    from server.api import init_app as init_api

    db_flask.init_app(app)
    init_api(app)
    from server.web import init_app as init_web

    init_web(app)
    return app
