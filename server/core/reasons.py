"""The catalogue of reason codes.

A reason code is a stable string: scanners, integrations and reports key on it, so a code
is never renamed or reused. `docs/reason-codes.md` is generated from this table by
`python -m server reason-codes` and a test keeps the two equal.
"""

from __future__ import annotations

#: code -> (short message for the worker, when it happens)
REASONS: dict[str, tuple[str, str]] = {
    # what was scanned
    "unknown_code": (
        "Label not recognised",
        "The text is not an item label, a GS1 element string, an EPC or a command label.",
    ),
    "bad_check_digit": (
        "Misread label - scan again",
        "An item code's check character or a GTIN/SSCC check digit does not match.",
    ),
    "unknown_item": (
        "No item with this label",
        "The code is well formed but no item carries it (or no in-stock item of that GS1 lot).",
    ),
    "unknown_product": (
        "Product not registered",
        "A GS1 or EPC label names a GTIN that no product has, or receives a deactivated product.",
    ),
    "bad_quantity": (
        "Quantity not possible",
        "qty is not positive, exceeds the item's quantity, or splits a unit-tracked item; "
        "`scrap_qty` on anything but completing a lot, or good and scrap not making the lot.",
    ),
    # where and who
    "unknown_scanner": (
        "Scanner not registered",
        "The scanner id is not registered or is deactivated, or it is not the scanner of the "
        "MQTT topic.",
    ),
    "other_site": (
        "Scanner of another site",
        "An HTTP scan (`POST /api/scans`, the scan page) by a user limited to sites through "
        "a scanner of a station outside them, or naming such a station in the body's "
        "`station`: `403`, not applied and not in the ledger. "
        "Scans over MQTT are never limited (server/core/siteaccess.py).",
    ),
    "unknown_station": (
        "Station not known",
        "The scan names a station that does not exist or is deactivated, or the scanner has none.",
    ),
    "unknown_operator": ("Badge not known", "An operator badge that no active user carries."),
    "badge_locked": (
        "Too many unknown badges - wait",
        "Badge labels (`CMD-OP-...`) at this scanner are locked for a while after 10 unknown "
        "badges within an hour (30 s, doubling up to 15 min); even a known badge is refused "
        "until the lock ends by itself. The message says how long.",
    ),
    "unknown_location": (
        "Location not known",
        "A location label (`LOC-<code>`) names no location or a deactivated one.",
    ),
    "no_location": (
        "Scan a location label first",
        "A transfer needs the scanner's current location: scan the location's label "
        "(`LOC-<code>`) before the items.",
    ),
    "unknown_order": ("Order not known", "An order command label names no order."),
    "unknown_shipment": (
        "Shipment not known",
        "A shipment label (`SHP-<ref>`) names no shipment: make it first (`POST /api/shipments`).",
    ),
    "unknown_count": (
        "Count not known",
        "A count label (`CMD-COUNT-<id>`) or a count request names no cycle count.",
    ),
    "count_not_open": (
        "This count is closed",
        "A count label, a scan in count mode, a close or a cancel of a cycle count that is "
        "no longer open (closed, approved or cancelled): scan `CMD-DONE` to leave count mode. "
        "Scanning an item twice in an open count is fine (the last sighting counts).",
    ),
    "count_not_closed": (
        "Close the count first",
        "Approving a cycle count that is still open, or was approved or cancelled already.",
    ),
    "unknown_action": ("Action not known", "An action command label names no action."),
    "operator_required": (
        "Scan your badge first",
        "The station requires a signed-in operator and nobody is signed in (scrap at a "
        "`scrap_by: operator` station always does).",
    ),
    "supervisor_required": (
        "Supervisor needed",
        "Scrap and return need a signed-in supervisor (badge) or a supervisor's token (scrap "
        "by an operator only where the station's policy has `scrap_by: operator`).",
    ),
    "reason_required": (
        "Reason needed",
        "Scrap and return need a reason: a reason label (`CMD-WHY-...`) or the scan's "
        "`reason`; a supervisor may write a note instead (not an operator's scrap, not a "
        "`scrap_qty`).",
    ),
    "unknown_reason": (
        "Reason not on the list",
        "A reason label (`CMD-WHY-...`) or a scan's `reason` names a code "
        "that is not on the plant's reason list or is deactivated.",
    ),
    "reason_not_applicable": (
        "Reason does not fit this action",
        "The reason is on the list but does not apply to this action (its `applies_to` "
        "lacks scrap, hold, release, return, ...), or the action takes no reason.",
    ),
    "on_hold": (
        "Item on hold",
        "The item is held (QC fail, a suspect lot): everything but release, scrap and transfer "
        "is refused until a supervisor releases it; also a hold of an item already held.",
    ),
    "not_held": ("Item is not on hold", "A release of an item that is not held."),
    # stage rules (always rejected)
    "illegal_transition": (
        "Not allowed from this stage",
        "The action cannot move an item from its current stage (see docs/stages.md); the "
        "message names the item's stage and what to do with it next.",
    ),
    "over_unissue": (
        "More than was issued to the order",
        "Unissuing this would return more than the order has issued and not yet consumed.",
    ),
    # schedule checks (reject or warn, per station)
    "not_scheduled": (
        "No released order for this",
        "No released order needs this product here (start, issue) or the unit has no "
        "active order (complete).",
    ),
    "not_in_bom": (
        "Not on this order's bill",
        "The selected order's bill of materials does not need this material.",
    ),
    "over_issue": (
        "More than the order needs",
        "Issuing this would exceed the order's remaining need for the material.",
    ),
    "over_plan": (
        "Order already complete",
        "Completing this unit would exceed the order's planned quantity.",
    ),
    "wrong_station": (
        "Wrong station for this unit",
        "The routing says the unit goes elsewhere next (start at the first station, "
        "move to the next one).",
    ),
    "routing_incomplete": (
        "Routing not finished",
        "Completing a unit that has not reached the last station of its routing (scanned "
        "at the last station straight from the one before, it arrives and completes).",
    ),
    "short_material": (
        "Issued material short",
        "Completing a unit found less issued material than its bill needs (warning by default).",
    ),
    "wrong_location": (
        "Not stored at this location",
        "The location's rule says which products or product kinds may be stored there and "
        "this item is none of them (a transfer, a receive or a move into it).",
    ),
    "expired": (
        "Expired - do not use",
        "The item or lot is past its expiry date (GS1 AI 17; the plant's local day). Scrap "
        "and return take it anyway; a bare-GTIN or lot pick takes an unexpired one first "
        "(FEFO) and meets this only when nothing unexpired is left.",
    ),
    # machines (server/core/machines.py)
    "machine_down": (
        "Machine down",
        "A machine of this station is down (`CMD-DOWN-<reason>`, the API or the machine's own "
        "message): item scans warn by default, or are refused where the station's policy "
        "says `machine_down: reject`, until it runs again (`CMD-UP`).",
    ),
    "unknown_machine": (
        "Machine not known",
        "A machine state label (`CMD-DOWN-...`, `CMD-UP`) at a station that has no active "
        "machine, or a machine code (API, MQTT topic) that is not registered or inactive.",
    ),
    # transport
    "bad_payload": (
        "Scan not readable",
        "The MQTT or HTTP scan payload is not valid JSON or misses or mistypes a field.",
    ),
    "server_error": (
        "Server problem - scan again",
        "An unexpected error; the scan was not applied and may be sent again.",
    ),
}

#: checks a station may set to "reject" or "warn"; everything else always rejects
CONFIGURABLE_CHECKS: dict[str, str] = {
    "not_scheduled": "reject",
    "not_in_bom": "reject",
    "over_issue": "reject",
    "over_plan": "reject",
    "wrong_station": "reject",
    "routing_incomplete": "reject",
    "short_material": "warn",
    "expired": "reject",
    "wrong_location": "reject",
    "machine_down": "warn",
}


def describe(code: str) -> str:
    """The short worker message for a reason code."""
    entry = REASONS.get(code)
    return entry[0] if entry else code.replace("_", " ")
