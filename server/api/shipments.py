"""Shipments: made before the ship scans (`SHP-<ref>` then the units); see
server/core/shipments.py."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import pydantic
from flask import current_app

from server.api import current_user, op
from server.api.schemas import Answer, Strict
from server.core import shipments, siteaccess
from server.models import Item, LedgerEntry

Ref = Annotated[
    str,
    pydantic.StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    ),
]


class ShipmentIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [{"ref": "DO-2611-07", "customer": "PT Maju Motor", "date": "2026-11-30"}]
        }
    )

    ref: Ref
    customer: str = pydantic.Field(min_length=1, max_length=200)
    #: the shipping date; left out: today
    date: dt.date | None = None
    #: the site's code; left out: the default site
    site: Annotated[str, pydantic.StringConstraints(min_length=1, max_length=32)] | None = None
    note: str = pydantic.Field(default="", max_length=200)


class ShipmentOut(Answer):
    ref: str
    customer: str
    date: str
    site: str | None
    note: str
    label: str


@op(
    "POST",
    "/shipments",
    role="clerk",
    tag="shipments",
    summary="Make a shipment (ref, customer, date, site); scan SHP-<ref> before its ship scans",
    body=ShipmentIn,
    responses={
        201: ("Created, with its label SHP-<ref>", ShipmentOut),
        404: ("unknown_site", None),
        409: ("Ref exists", None),
    },
)
def create_shipment(body: ShipmentIn):
    with current_app.extensions["koordinator.db"].atomic():
        s = shipments.create(
            ref=body.ref,
            customer=body.customer,
            ship_date=body.date or dt.date.today(),
            # a site outside a limited user's is unknown_site (siteaccess.shipment_site)
            site=siteaccess.shipment_site(current_user(), body.site),
            note=body.note,
            user=current_user(),
        )
    return shipments.as_dict(s), 201


@op(
    "GET",
    "/shipments",
    role="operator",
    tag="shipments",
    summary="Shipments, newest first (up to 200)",
    responses={200: ("Shipments", None)},
)
def list_shipments():
    return {"shipments": shipments.listing(site_ids=siteaccess.site_ids(current_user()))}


@op(
    "GET",
    "/shipments/<ref>",
    role="operator",
    tag="shipments",
    summary="One shipment and the units shipped in it",
    responses={200: ("The shipment", ShipmentOut), 404: ("unknown_shipment", None)},
)
def get_shipment(ref: str):
    s = siteaccess.check_shipment(current_user(), shipments.by_ref(ref), ref)
    ids = [
        i
        for (i,) in LedgerEntry.select(LedgerEntry.item)
        .where(
            (LedgerEntry.shipment_id == s.id)
            & (LedgerEntry.action == "ship")
            & (LedgerEntry.status == "accepted")
        )
        .tuples()
    ]
    items = Item.select(Item.code, Item.stage).where(Item.id.in_(ids or [0])).order_by(Item.code)
    return {
        **shipments.as_dict(s),
        "units": [{"code": i.code, "stage": i.stage} for i in items],
    }
