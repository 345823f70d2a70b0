"""A webhook receiver on a free port (werkzeug): answers each request per a script of
modes (`fail`: HTTP 500, `timeout`: answers after the sender gave up, `ok`), then `ok`, and
records what it accepted per path."""

from __future__ import annotations

import json
import threading
import time

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


class Receiver:
    def __init__(self, script=(), *, delay: float = 0.0, hang: float = 1.5) -> None:
        self.script = list(script)
        self.delay, self.hang = delay, hang
        self.lock = threading.Lock()
        #: path -> event ids accepted, in arrival order (a re-sent event appears again)
        self.accepted: dict[str, list[int]] = {}
        #: every request: (path, mode, event id, headers, body bytes)
        self.requests: list[tuple[str, str, int, dict, bytes]] = []
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(5)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def ids(self, path: str = "/hook") -> list[int]:
        with self.lock:
            return list(self.accepted.get(path, []))

    def _app(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        event_id = json.loads(body)["id"]
        with self.lock:
            mode = self.script.pop(0) if self.script else "ok"
            self.requests.append((request.path, mode, event_id, dict(request.headers), body))
        if self.delay:
            time.sleep(self.delay)
        if mode == "fail":
            return Response("down for maintenance", status=500)(environ, start_response)
        if mode == "timeout":
            time.sleep(self.hang)
            return Response("too late", status=200)(environ, start_response)
        with self.lock:
            self.accepted.setdefault(request.path, []).append(event_id)
        return Response("{}", status=200, content_type="application/json")(environ, start_response)
