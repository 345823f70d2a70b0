"""The stock page filtered to a site or a location (issue 16): its cards, chart, product ×
stage matrix and station table are of that scope (the site's kept counters, the
location's subtree), in the right units, and say so in both languages; the live poll
draws the same; a user limited to sites sees only theirs."""

from __future__ import annotations

import re

from server.core import siteaccess
from tests.ingest.test_site_bridge import SCANNER, SITE
from tests.test_site_access import _stock_plant


def _plant(plant, api):
    """MAIN: 2 lots of steel (10 kg) at RECV, gloves, two labels not received; SURABAYA:
    3 lots of steel (7 kg) at its dock, 1 of 4.5 kg in bin SBY-B1 of store SBY-STORE."""
    _stock_plant(plant, api)
    (gloves,) = plant.items("GLOVES", count=1)
    plant.scan("sc-recv", gloves, expected=201)
    plant.items("WIDGET", count=2)  # stage new: in no place
    api.post("/api/locations", {"code": "SBY-STORE", "kind": "area", "site": SITE}, expected=201)
    api.post("/api/locations", {"code": "SBY-B1", "kind": "bin", "parent": "SBY-STORE"},
             expected=201)  # fmt: skip
    plant.scan(SCANNER, "LOC-SBY-B1", expected=201)
    (lot,) = plant.items("STEEL", count=1, qty=4.5, lot="B1")
    assert plant.scan(SCANNER, lot, expected=201)["location"] == "SBY-B1"


def _card(html: str, stage: str) -> tuple[str, dict] | None:
    found = re.search(rf'<a class="card stage stage-{stage}" href="([^"]*)"[^>]*>(.*?)</a>',
                      html, re.S)  # fmt: skip
    if found is None:
        return None
    body = found.group(2)
    count = re.search(r"data-count>([^<]*)<", body).group(1)
    return count, dict(re.findall(r'data-unit="([^"]+)">([^<]+)<', body)), found.group(1)


def _matrix(html: str) -> dict[str, list[str]]:
    """sku -> its cells' text (count and quantity), in the columns' order."""
    table = re.search(r'<table class="matrix">(.*?)</table>', html, re.S).group(1)
    head = re.findall(r'<th class="num">([^<]*)</th>', table)
    rows = {}
    for sku, cells in re.findall(r'<tr>\s*<td><a href="[^"]*">([^<]+)</a>.*?</td>(.*?)</tr>',
                                 table, re.S):  # fmt: skip
        texts = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                       cells, re.S)]  # fmt: skip
        rows[sku] = dict(zip(head, texts, strict=True))
    return rows


def _stations(html: str) -> list[str]:
    section = re.search(r"Work in progress by station</h2>(.*?)</section>", html, re.S).group(1)
    return re.findall(r'\?station=([^"&]+)"', section)


def test_a_site_and_a_location_page_show_their_own_figures(plant, api, as_role, users):
    _plant(plant, api)
    sup = as_role("supervisor")

    whole = sup.get("/stock/live").get_data(as_text=True)
    assert _card(whole, "raw")[:2] == ("6", {"kg": "45.5 kg"})
    assert _card(whole, "new")[0] == "2"
    assert set(_matrix(whole)) == {"GLOVES", "STEEL", "WIDGET"}
    assert set(_stations(whole)) == {"RECV", "SBY-RECV"}
    assert "Figures of the whole plant." in whole

    for path in (f"/stock?site={SITE}", f"/stock/live?site={SITE}"):
        html = sup.get(path).get_data(as_text=True)
        count, units, href = _card(html, "raw")
        assert (count, units) == ("4", {"kg": "25.5 kg"}), path  # 3 x 7 + 4.5, SURABAYA's
        assert href.endswith(f"stage=raw&amp;site={SITE}")
        assert _card(html, "new") is None and _card(html, "shipped") is None  # in no place
        assert _matrix(html) == {  # the stages on hand only, SURABAYA's steel only
            "STEEL": {"raw": "4 (25.5 kg)", "component": "", "WIP": "", "finished": "",
                      "supplies": ""}
        }, path  # fmt: skip
        assert _stations(html) == ["SBY-RECV"]
        assert f"Figures of site {SITE}: the stock on hand in its places" in html
        assert 'data-place="SBY-STORE"' in html

    store = sup.get("/stock/live?location=SBY-STORE").get_data(as_text=True)
    assert _card(store, "raw")[:2] == ("1", {"kg": "4.5 kg"})
    assert _matrix(store)["STEEL"]["raw"] == "1 (4.5 kg)"
    assert _stations(store) == []  # no line side in the store
    assert "Figures of SBY-STORE and every place below it" in store
    dock = sup.get("/stock?location=SBY-DOCK").get_data(as_text=True)
    assert _card(dock, "raw")[:2] == ("3", {"kg": "21 kg"})
    assert _stations(dock) == ["SBY-RECV"]  # its line side is the dock
    main = sup.get("/stock?site=MAIN").get_data(as_text=True)
    assert _card(main, "raw")[:2] == ("2", {"kg": "20 kg"})
    assert _card(main, "supplies")[0] == "1"
    assert set(_matrix(main)) == {"GLOVES", "STEEL"}
    assert "SBY-RECV" not in _stations(main)

    # the card's link lists the site's items only
    items = sup.get(f"/items?stage=raw&site={SITE}").get_data(as_text=True)
    assert len(re.findall(r'class="code" href="/items/', items)) == 4
    assert sup.get("/items?site=NOWHERE").status_code == 404

    # in Bahasa Indonesia
    sup.post("/language", data={"language": "id", "next": "/stock"})
    html = sup.get(f"/stock?site={SITE}").get_data(as_text=True)
    assert f"Angka situs {SITE}: stok yang ada di tempat-tempatnya" in html
    html = sup.get("/stock?location=SBY-STORE").get_data(as_text=True)
    assert "Angka SBY-STORE dan setiap tempat di bawahnya" in html
    sup.post("/language", data={"language": "en"})

    # a user limited to SURABAYA: that site's figures, never MAIN's
    siteaccess.set_sites(users["supervisor"][0], [SITE])
    limited = sup.get(f"/stock/live?site={SITE}").get_data(as_text=True)
    assert _card(limited, "raw")[:2] == ("4", {"kg": "25.5 kg"})
    assert _stations(limited) == ["SBY-RECV"]
    for path in ("/stock?site=MAIN", "/stock/live?site=MAIN", "/stock?location=RECV",
                 "/items?site=MAIN"):  # fmt: skip
        assert sup.get(path).status_code == 404, path
    mine = sup.get("/stock/live").get_data(as_text=True)
    assert "Figures of the stations of your sites." in mine
    assert _stations(mine) == ["SBY-RECV"] and "GLOVES" not in _matrix(mine)
