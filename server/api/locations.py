"""Sites and locations: the tree site -> area -> bin (and stations' line sides) stock lies
in, each location with its label `LOC-<code>`; see server/core/locations.py."""

from __future__ import annotations

from typing import Annotated, Literal

import pydantic
from flask import current_app

from server.api import current_user, op
from server.api.schemas import Answer, Name, Strict
from server.core import locations, siteaccess
from server.core.errors import NotFound
from server.core.stages import Kind
from server.models import Item, Location, Site

LocCode = Annotated[
    str,
    pydantic.StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=32,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
    ),
]
LocKind = Literal[locations.KINDS]  # type: ignore[valid-type]
ProductKind = Literal[tuple(k.value for k in Kind)]  # type: ignore[valid-type]


class Allow(Strict):
    """What may be stored at a location: products by SKU and/or product kinds; empty
    lists (or a null rule): anything."""

    products: list[Annotated[str, pydantic.StringConstraints(min_length=1, max_length=64)]] = (
        pydantic.Field(default_factory=list, max_length=500)
    )
    kinds: list[ProductKind] = pydantic.Field(default_factory=list, max_length=4)


class SiteIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={"examples": [{"code": "PLANT2", "name": "Plant 2, Cikarang"}]}
    )

    code: LocCode
    name: Name


class SiteOut(Answer):
    code: str
    name: str
    active: bool


class LocationIn(Strict):
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "examples": [
                {"code": "A-01-03", "kind": "bin", "name": "Rack A, shelf 1, place 3",
                 "parent": "A-01", "allow": {"kinds": ["raw"]}},
            ]
        }
    )  # fmt: skip

    code: LocCode
    kind: LocKind
    name: str = pydantic.Field(default="", max_length=200)
    #: the site's code; left out: the parent's site, else the default site
    site: LocCode | None = None
    #: the area it lies in (a bin needs one)
    parent: LocCode | None = None
    allow: Allow | None = None


class LocationEdit(Strict):
    """`active: false` deactivates the location: its label is refused
    (`unknown_location`); the items there stay until moved. `parent: null` puts an area
    or line directly under its site; `allow: null` lifts the rule."""

    name: str | None = pydantic.Field(default=None, max_length=200)
    parent: LocCode | None = None
    allow: Allow | None = None
    active: bool | None = None


class LocationOut(Answer):
    code: str
    kind: str
    name: str
    site: str | None
    parent: str | None
    allow: dict | None
    active: bool
    label: str


class LocationQuery(Strict):
    site: LocCode | None = None


def _db():
    return current_app.extensions["koordinator.db"]


def _one(loc: Location) -> dict:
    sites = {s.id: s.code for s in Site.select()}
    codes = locations.codes_of([loc.parent_id])
    return locations.as_dict(loc, sites, codes)


def _allow(allow: Allow | None) -> dict | None:
    return allow.model_dump() if allow is not None else None


@op(
    "POST",
    "/sites",
    role="admin",
    tag="locations",
    summary="Create a site",
    body=SiteIn,
    responses={201: ("Created", SiteOut), 409: ("Code exists", None)},
)
def create_site(body: SiteIn):
    with _db().atomic():
        site = locations.create_site(body.code, body.name)
    return {"code": site.code, "name": site.name, "active": site.active}, 201


@op(
    "GET",
    "/sites",
    role="operator",
    tag="locations",
    summary="List sites",
    responses={200: ("Sites", None)},
)
def list_sites():
    # a user limited to sites sees those only (server/core/siteaccess.py)
    return {
        "sites": [
            {"code": s.code, "name": s.name, "active": s.active}
            for s in siteaccess.visible_sites(current_user())
        ]
    }


@op(
    "POST",
    "/locations",
    role="admin",
    tag="locations",
    summary="Create a location (area, bin or line side)",
    body=LocationIn,
    responses={
        201: ("Created", LocationOut),
        400: ("bad_parent: a bin needs an area, a parent in another site or a bin", None),
        404: ("unknown_site, unknown_location (parent), unknown_product (allow)", None),
        409: ("Code exists", None),
    },
)
def create_location(body: LocationIn):
    with _db().atomic():
        loc = locations.create(
            code=body.code,
            kind=body.kind,
            name=body.name,
            site=body.site,
            parent=body.parent,
            allow=_allow(body.allow),
        )
    return _one(loc), 201


@op(
    "GET",
    "/locations",
    role="operator",
    tag="locations",
    summary="List locations as a tree (parents first, with their depth)",
    query=LocationQuery,
    responses={200: ("Locations", None), 404: ("unknown_site", None)},
)
def list_locations(query: LocationQuery):
    user = current_user()
    siteaccess.check_site(user, query.site)
    return {"locations": locations.listing(query.site, site_ids=siteaccess.site_ids(user))}


@op(
    "GET",
    "/locations/<code>",
    role="operator",
    tag="locations",
    summary="One location with the items on hand there and below it (up to 200)",
    responses={200: ("The location and its items", None), 404: ("unknown_location", None)},
)
def get_location(code: str):
    siteaccess.check_location(current_user(), code)
    loc = locations.by_code(code)
    if loc is None:
        raise NotFound("unknown_location", f"No location {code}")
    items: list[Item] = locations.items_at(loc)
    codes = locations.codes_of(i.location_id for i in items)
    return {
        **_one(loc),
        "items": [
            {
                "code": i.code,
                "sku": i.product.sku,
                "stage": i.stage,
                "qty": str(i.qty.normalize() if hasattr(i.qty, "normalize") else i.qty),
                "unit": i.product.unit,
                "lot": i.lot,
                "held": bool(i.held),
                "location": codes.get(i.location_id),
            }
            for i in items
        ],
    }


@op(
    "PATCH",
    "/locations/<code>",
    role="admin",
    tag="locations",
    summary="Rename a location, move it in the tree, set what may be stored there, (de)activate it",
    body=LocationEdit,
    responses={
        200: ("The location as changed", LocationOut),
        400: ("bad_parent", None),
        404: ("unknown_location, unknown_product (allow)", None),
    },
)
def edit_location(code: str, body: LocationEdit):
    loc = locations.by_code(code)
    if loc is None:
        raise NotFound("unknown_location", f"No location {code}")
    sent = body.model_dump(exclude_unset=True)
    kw: dict = {}
    if sent.get("name") is not None:
        kw["name"] = sent["name"]
    if "parent" in sent:
        kw["parent"] = sent["parent"]
    if "allow" in sent:
        kw["allow"] = sent["allow"]
    if sent.get("active") is not None:
        kw["active"] = sent["active"]
    with _db().atomic():
        loc = locations.edit(loc, **kw)
    return _one(loc)
