"""A TCP proxy for tests: `python tcp_proxy.py HOST PORT` listens on a free port of
127.0.0.1 (printed on its first line) and forwards each connection to HOST:PORT.

SIGSTOP it to cut the link without a FIN or a reset: what a crashed host or a network
partition looks like to both ends (the kernel still holds the sockets, nothing passes)."""

import socket
import sys
import threading


def pipe(a: socket.socket, b: socket.socket) -> None:
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main() -> None:
    target = (sys.argv[1], int(sys.argv[2]))
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    print(srv.getsockname()[1], flush=True)
    while True:
        client, _ = srv.accept()
        upstream = socket.create_connection(target)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pipe, args=(a, b), daemon=True).start()


if __name__ == "__main__":
    main()
