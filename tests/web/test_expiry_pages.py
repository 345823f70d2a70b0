"""Expiry on the pages: near-expiry days on the admin product pages, the near-expiry lots
and the flag on the supplies page, in English and Bahasa Indonesia."""

from __future__ import annotations

import datetime as dt

from server.models import Product


def test_near_expiry_on_admin_stock_and_supplies_pages(plant, as_role):
    today = dt.datetime.now(dt.UTC).date()
    soon = (today + dt.timedelta(days=2)).isoformat()
    (gloves,) = plant.items("GLOVES", qty=3, lot="G-EXP", expiry=soon)
    plant.scan("sc-recv", gloves, expected=201)
    a = as_role("admin")
    a.post(
        "/admin/products",
        data={
            "sku": "MILK",
            "name": "Milk",
            "kind": "raw",
            "tracking": "lot",
            "unit": "l",
            "near_expiry_days": "3",
        },
    )
    assert Product.get(Product.sku == "MILK").near_expiry_days == 3
    page = a.post(
        "/admin/products/GLOVES",
        data={
            "what": "product",
            "name": "Gloves box",
            "unit": "ea",
            "active": "on",
            "near_expiry_days": "abc",
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert 'class="flash error"' in page  # not a number: refused with the API's message
    assert Product.get(Product.sku == "GLOVES").near_expiry_days is None
    a.post(
        "/admin/products/GLOVES",
        data={
            "what": "product",
            "name": "Gloves box",
            "unit": "ea",
            "active": "on",
            "reorder_point": "5",
            "near_expiry_days": "7",
        },
    )
    assert Product.get(Product.sku == "GLOVES").near_expiry_days == 7
    assert 'name="near_expiry_days" value="7"' in a.get("/admin/products/GLOVES").get_data(
        as_text=True
    )

    s = as_role("supervisor")
    supplies = s.get("/supplies").get_data(as_text=True)
    assert "flag-near_expiry" in supplies and "near expiry" in supplies
    assert 'id="near-expiry"' in supplies and 'data-lot="G-EXP"' in supplies and soon in supplies
    s.post("/language", data={"language": "id", "next": "/supplies"})
    supplies = s.get("/supplies").get_data(as_text=True)
    assert "hampir kedaluwarsa" in supplies and "paling lambat" in supplies
    assert "Hampir kedaluwarsa" in supplies
