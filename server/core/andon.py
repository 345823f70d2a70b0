"""The andon colour of a station: one rule, shared by the plant floor page and any sink
that lights a lamp (docs/planning.md "Andon colour").

From the most urgent down, the first that holds wins:

| colour | when |
|---|---|
| `red` | an active machine of the station is down, or the station's last answer was a rejection |
| `amber` | items on hold at the station, or the last answer accepted with a warning |
| `green` | the station answered and nothing above holds |
| `grey` | the station is inactive, or has answered nothing yet (no signal is not "all is well") |

The inputs are plain values so the rule needs no database: the caller reads them.
"""

from __future__ import annotations

COLOURS = ("red", "amber", "green", "grey")


def colour(
    *,
    active: bool = True,
    machine_down: bool = False,
    last_status: str | None = None,
    last_warnings: list | tuple | None = None,
    held: int = 0,
) -> str:
    """The station's andon colour: red, amber, green or grey (see the module's table)."""
    if not active:
        return "grey"
    if machine_down or last_status == "rejected":
        return "red"
    if held > 0 or (last_status == "accepted" and last_warnings):
        return "amber"
    if last_status is None:
        return "grey"
    return "green"
