"""Shipments: what went out to which customer.

A shipment (ref, customer, date, site) is made by the API or the shipping clerk before the
ship scans. Its label `SHP-<ref>` (or `POST /api/shipments` then the label) makes it the
scanner's current shipment, sticky until another shipment label or `CMD-DONE`; every unit
a ship scan sends out then records it (`Item.shipment_id` and the ship row's
`LedgerEntry.shipment_id`). A return scan of a shipped unit names the shipment it came
back from on its ledger row. The recall report (server/core/trace.py) and the item page
show shipment and customer.
"""

from __future__ import annotations

import datetime as dt
import re

from server.core import locations
from server.core.errors import Conflict, Invalid, NotFound, Rejected
from server.models import Shipment, Site, User

LABEL_PREFIX = "SHP-"
REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


def label_text(ref: str) -> str:
    return f"{LABEL_PREFIX}{ref}"


def normal_ref(ref: str) -> str:
    return ref.strip().upper()


def by_ref(ref: str) -> Shipment | None:
    return Shipment.get_or_none(Shipment.ref == normal_ref(ref))


def create(
    *,
    ref: str,
    customer: str,
    ship_date: dt.date,
    site: str | None = None,
    note: str = "",
    user: User | None = None,
) -> Shipment:
    """A new shipment; refused `bad_payload` (ref), `unknown_site`, `exists`."""
    ref = normal_ref(ref)
    if not REF.match(ref):
        raise Invalid("bad_payload", f"Shipment ref {ref!r}: letters, digits, . _ - only")
    if not customer.strip():
        raise Invalid("bad_payload", "A shipment needs its customer")
    if site:
        the_site = locations.site_by_code(site)
        if the_site is None:
            raise NotFound("unknown_site", f"No site {locations.normal_code(site)}")
    else:
        the_site = locations.default_site()
    if by_ref(ref) is not None:
        raise Conflict("exists", f"Shipment {ref} exists")
    return Shipment.create(
        ref=ref,
        customer=customer.strip(),
        ship_date=ship_date,
        site_id=the_site.id,
        note=note or "",
        created_by_id=user.id if user else None,
    )


def scanning(ref: str) -> Shipment:
    """The shipment a `SHP-<ref>` label names, for a scan."""
    shipment = by_ref(ref)
    if shipment is None:
        raise Rejected("unknown_shipment", f"Shipment {normal_ref(ref)} not known")
    return shipment


def as_dict(s: Shipment, sites: dict[int, str] | None = None) -> dict:
    if sites is None:
        sites = {x.id: x.code for x in Site.select(Site.id, Site.code)}
    return {
        "ref": s.ref,
        "customer": s.customer,
        "date": s.ship_date.isoformat() if hasattr(s.ship_date, "isoformat") else s.ship_date,
        "site": sites.get(s.site_id),
        "note": s.note,
        "label": label_text(s.ref),
    }


def of_ids(ids) -> dict[int, Shipment]:
    ids = [i for i in set(ids) if i]
    if not ids:
        return {}
    return {s.id: s for s in Shipment.select().where(Shipment.id.in_(ids))}


def listing(limit: int = 200, site_ids=None) -> list[dict]:
    """The newest shipments; `site_ids` (a user limited to sites) keeps those sites' only."""
    sites = {x.id: x.code for x in Site.select(Site.id, Site.code)}
    query = Shipment.select()
    if site_ids is not None:
        query = query.where(Shipment.site_id.in_(sorted(site_ids) or [-1]))
    return [
        as_dict(s, sites)
        for s in query.order_by(Shipment.ship_date.desc(), Shipment.id.desc()).limit(limit)
    ]


def ref_of(shipment_id: int) -> str | None:
    return Shipment.select(Shipment.ref).where(Shipment.id == shipment_id).scalar()
