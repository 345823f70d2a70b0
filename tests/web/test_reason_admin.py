"""The reason list on the admin page: listed with both texts, added and edited through the
API's own models, refused input flashed, in English and Bahasa Indonesia."""

from __future__ import annotations

from server.models import Reason


def test_admin_reasons_add_edit_refuse(plant, as_role):
    a = as_role("admin")
    html = a.get("/admin").get_data(as_text=True)
    assert 'id="reasons"' in html and "DAMAGED" in html and "Rusak" in html
    a.post(
        "/admin/reasons",
        data={"code": "burr", "text_en": "Burr", "text_id": "Gerinda", "use_scrap": "on"},
    )
    burr = Reason.get(Reason.code == "BURR")
    assert (burr.text_id, burr.applies_to, burr.active) == ("Gerinda", ["scrap"], True)
    a.post(
        "/admin/reasons/BURR",
        data={"text_en": "Burr on edge", "text_id": "Gerinda", "use_hold": "on", "use_scrap": "on"},
    )
    burr = Reason.get(Reason.code == "BURR")
    assert (burr.text_en, burr.applies_to, burr.active) == (
        "Burr on edge",
        ["scrap", "hold"],
        False,
    )
    refused = a.post(
        "/admin/reasons", data={"code": "NONE", "text_en": "No use"}, follow_redirects=True
    ).get_data(as_text=True)
    assert Reason.get_or_none(Reason.code == "NONE") is None
    assert 'class="flash error"' in refused
    sheet = a.get("/admin/reasons/labels.pdf")
    assert sheet.status_code == 200 and sheet.data.startswith(b"%PDF")


def test_admin_reasons_in_bahasa(plant, as_role):
    from server.models import User

    User.update(language="id").where(User.role == "admin").execute()
    html = as_role("admin").get("/admin").get_data(as_text=True)
    assert "Tambah alasan" in html and "henti mesin" in html


def test_item_page_hold_and_release(plant, as_role):
    from server.models import Item

    (steel,) = plant.items("STEEL", qty=1)
    plant.scan("sc-recv", steel, expected=201)
    op = as_role("operator")
    page = op.get(f"/items/{steel}").get_data(as_text=True)
    assert 'name="what" value="hold"' in page and "QC_CHECK" in page
    op.post(f"/items/{steel}/hold", data={"what": "hold", "reason": "QC_CHECK"})
    assert Item.get(Item.code == steel).held
    page = op.get(f"/items/{steel}").get_data(as_text=True)
    assert "On hold" in page and 'value="release"' not in page  # an operator cannot release
    assert (
        op.post(f"/items/{steel}/hold", data={"what": "release", "reason": "QC_OK"}).status_code
        == 403
    )
    sv = as_role("supervisor")
    refused = sv.post(
        f"/items/{steel}/hold", data={"what": "release", "reason": "DAMAGED"}, follow_redirects=True
    ).get_data(as_text=True)
    assert 'class="flash error"' in refused and Item.get(Item.code == steel).held
    sv.post(f"/items/{steel}/hold", data={"what": "release", "reason": "QC_OK"})
    assert not Item.get(Item.code == steel).held
