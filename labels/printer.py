"""Direct printing: ZPL sent to a network label printer over raw TCP (port 9100).

This module owns the socket: it connects, writes the whole job, and closes. Socket
failures come back as :class:`PrinterError`, raised from the ``OSError`` that caused them.
"""

from __future__ import annotations

import socket

DEFAULT_PORT = 9100


class PrinterError(Exception):
    """The printer could not be reached or did not accept the job."""


def send_zpl(host: str, zpl: str | bytes, port: int = DEFAULT_PORT, timeout: float = 5.0) -> int:
    """Send ``zpl`` to the printer at ``host``:``port``; return the bytes sent.

    Raises :class:`PrinterError` when the printer does not answer within ``timeout``
    seconds, refuses the connection, or drops it before the job is written."""
    data = zpl.encode("utf-8") if isinstance(zpl, str) else bytes(zpl)
    if not data:
        raise ValueError("nothing to print: the ZPL job is empty")
    where = f"{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(data)
            # Half-close so the printer sees the end of the job before we go.
            conn.shutdown(socket.SHUT_WR)
    except ConnectionRefusedError as exc:
        raise PrinterError(
            f"printer {where} refused the connection (is it listening on port {port}?)"
        ) from exc
    except TimeoutError as exc:
        raise PrinterError(f"printer {where} did not answer within {timeout:g} s") from exc
    except socket.gaierror as exc:
        raise PrinterError(f"printer host {host!r} is unknown: {exc.strerror}") from exc
    except OSError as exc:
        raise PrinterError(f"could not send the job to printer {where}: {exc}") from exc
    return len(data)
