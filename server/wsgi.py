"""WSGI entry for production servers: `gunicorn -w 4 server.wsgi:app`.

Builds the app from the environment once per worker and tunes the garbage collector
(`server/runtime.py`). Development uses `python -m server serve`.
"""

from server import create_app
from server.runtime import tune_gc

app = create_app()
tune_gc()
