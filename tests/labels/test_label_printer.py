"""Raw TCP printing against a real listener on a free local port."""

import socket
import threading

import pytest
from label_helpers import free_port

from labels import Label, PrinterError, render_zpl, send_zpl


def test_printer_receives_exactly_the_zpl():
    zpl = render_zpl([Label("K7M2QX4R9", title="Hex bolt ü")] * 50)
    received = bytearray()
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(5)
        port = server.getsockname()[1]

        def accept():
            conn, _ = server.accept()
            with conn:
                while chunk := conn.recv(65536):
                    received.extend(chunk)

        thread = threading.Thread(target=accept)
        thread.start()
        sent = send_zpl("127.0.0.1", zpl, port=port, timeout=5)
        thread.join(5)
    assert bytes(received) == zpl.encode("utf-8")
    assert sent == len(received)


def test_closed_port_raises_printer_error_from_oserror():
    port = free_port()
    with pytest.raises(PrinterError, match=f"127.0.0.1:{port} refused") as info:
        send_zpl("127.0.0.1", "^XA^XZ", port=port, timeout=2)
    assert isinstance(info.value.__cause__, OSError)


def test_empty_job_is_refused():
    with pytest.raises(ValueError, match="empty"):
        send_zpl("127.0.0.1", "", port=9)
