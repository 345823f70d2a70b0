"""What a user limited to sites pays (server/core/siteaccess.py), against the same request
of a user of the whole plant in the same run.

    PYTHONPATH=. .venv/bin/python bench/bench_siteaccess.py [--stations 200 --rounds 5]

Builds bench/out/siteaccess.db: two sites, each with half the stations (line side, one
receiving scanner each), then times through the WSGI app (server time, no network), in
alternating rounds so the machine's drift hits both alike:
- POST /api/scans, a receive scan of a new item, by a supervisor of the whole plant (the
  ceiling) and by one limited to the scanner's site (pays `check_scanner`);
- GET /api/items/<code>, the same two users (the limited one pays `check_item`);
- GET /api/machines, /api/counts, /api/stock and /api/people, the same;
- the floor's poll (GET /floor/live) and the stock page's (GET /stock/live), each user
  signed in through the login form, as a watching page polls them.
Prints the CPU time a request (process time, the figure that moves least on a shared
machine) of each, the limited user's as a ratio to the ceiling, and the SQL statements a
request runs (counted at peewee's `execute_sql`) for each user.
"""

from __future__ import annotations

import argparse
import itertools
import re
import statistics
import time

from bench.bench_core import fresh_app


def build(app, stations: int):
    from server import auth
    from server.core import siteaccess
    from server.core.items import create_items
    from server.models import Product, utcnow

    client = app.test_client()
    db = app.extensions["koordinator.db"]
    with db.connection_context():
        admin = auth.create_user("admin", "admin")
        whole = auth.create_user("whole", "supervisor", password=PASSWORD)
        limited = auth.create_user("limited", "supervisor", password=PASSWORD)
        tokens = {u.username: auth.create_token(u, "bench") for u in (admin, whole, limited)}
    browsers = {who: signed_in(app, who) for who in ("whole", "limited")}

    def call(method, path, body=None, who="admin"):
        if not path.startswith("/api/"):  # a page: through the user's signed-in browser
            resp = browsers[who].open(path, method=method)
        else:
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            resp = client.open(path, method=method, json=body, headers=headers)
        assert resp.status_code < 300, (path, resp.status_code, resp.get_data(as_text=True))
        return resp

    scanners = {"A": [], "B": []}
    for site in ("A", "B"):
        call("POST", "/api/sites", {"code": f"S{site}", "name": f"Site {site}"})
        for n in range(stations // 2):
            code = f"{site}{n:03d}"
            call("POST", "/api/locations", {"code": f"L{code}", "kind": "line", "site": f"S{site}"})
            body = {"code": code, "name": code, "default_action": "receive", "location": f"L{code}"}
            call("POST", "/api/stations", body)
            call("POST", "/api/scanners", {"id": f"sc-{code}", "station": code})
            call("POST", "/api/machines", {"code": f"M{code}", "name": code, "station": code})
            scanners[site].append(f"sc-{code}")
        call("POST", "/api/counts", {"locations": [f"L{site}000"]})
    with db.connection_context():
        siteaccess.set_sites(limited, ["SA"])
        product = Product.create(sku="RAW1", name="Raw", kind="raw", tracking="unit")
        codes = [i.code for i in create_items(db, product, count=20000, now=utcnow())]
    return call, scanners["A"], codes


PASSWORD = "bench-password-1"


def signed_in(app, username: str):
    """A test client signed in through the login form (a page's session cookie)."""
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html
    )
    form = {"username": username, "password": PASSWORD, "csrf_token": token.group(1)}
    assert client.post("/login", data=form).status_code == 302, username
    return client


class Statements:
    """Counts the SQL statements the app's database runs (every one goes through
    `execute_sql`)."""

    def __init__(self, db):
        self.n = 0
        run = db.execute_sql

        def counted(*args, **kw):
            self.n += 1
            return run(*args, **kw)

        db.execute_sql = counted


def timed(fn, n: int) -> float:
    """CPU seconds a call of `fn` (process time), over `n` calls."""
    start = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200, help="requests per kind a round")
    args = parser.parse_args()
    app, db = fresh_app("siteaccess.db")
    call, scanners, codes = build(app, args.stations)
    items = iter(codes)
    ids = itertools.count()
    received: list[str] = []

    def scan(who):
        def go():
            code = next(items)
            body = {
                "scan_id": f"b-{next(ids)}",
                "scanner_id": scanners[len(received) % len(scanners)],
                "code": code,
            }
            call("POST", "/api/scans", body, who)
            received.append(code)

        return go

    def item(who):
        return lambda: call("GET", f"/api/items/{received[-1]}", who=who)

    def listing(path, who):
        return lambda: call("GET", path, who=who)

    kinds = {
        "POST /api/scans": scan,
        "GET /api/items/<code>": item,
        "GET /api/machines": lambda who: listing("/api/machines", who),
        "GET /api/counts": lambda who: listing("/api/counts", who),
        "GET /api/stock": lambda who: listing("/api/stock", who),
        "GET /api/people": lambda who: listing("/api/people", who),
        "GET /floor/live": lambda who: listing("/floor/live", who),
        "GET /stock/live": lambda who: listing("/stock/live", who),
    }
    scan("whole")()  # one item received before the first item read
    statements = Statements(db)
    queries: dict[str, dict[str, int]] = {k: {} for k in kinds}
    for kind, make in kinds.items():
        for who in ("whole", "limited"):
            fn = make(who)
            fn()  # a first call fills what a process keeps (the floor's drawn tiles)
            before = statements.n
            fn()
            queries[kind][who] = statements.n - before
    out: dict[str, dict[str, list[float]]] = {k: {"whole": [], "limited": []} for k in kinds}
    for _ in range(args.rounds):
        for kind, make in kinds.items():
            for who in ("whole", "limited"):
                out[kind][who].append(timed(make(who), args.calls))
    print(
        f"{args.stations} stations in 2 sites, {args.rounds} rounds x {args.calls} requests "
        "each, alternating; CPU ms a request (median of the rounds), limited / whole plant; "
        "SQL statements a request (whole / limited)"
    )
    for kind, by in out.items():
        whole = statistics.median(by["whole"]) * 1000
        limited = statistics.median(by["limited"]) * 1000
        ratio = limited / whole
        q = queries[kind]
        print(
            f"{kind:24s} whole {whole:6.2f} ms  limited {limited:6.2f} ms  ratio {ratio:.2f}"
            f"  statements {q['whole']:3d} / {q['limited']:3d}"
        )


if __name__ == "__main__":
    main()
