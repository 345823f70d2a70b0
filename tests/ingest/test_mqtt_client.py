"""IngestClient (server/mqtt_client.py) against paho's own Client, over real sockets.

- decoding: raw PUBLISH packets (MQTT 3.1.1 and 5; QoS 0, 1 and 2; dup and retain; empty,
  2- and 3-byte remaining lengths; properties; a topic alias; malformed packets) give the
  same MQTTMessage, return code and reply bytes as a plain paho Client;
- buffered reads: many packets taken off the socket in one recv(), packets cut at every
  byte, the buffer dropped with the socket;
- the PUBACK fast path: on_publish once per mid with paho's reason code and properties,
  paho's bookkeeping done, unknown mids ignored, MQTT 5 PUBACKs with a reason code;
- joined writes: the byte stream is paho's, a run of PUBACKs and QoS 1/2 PUBLISHes goes out
  in one send(), a QoS 0 PUBLISH and a DISCONNECT keep their behaviour, partial sends keep
  the stream intact;
- end to end against the suite's broker: 500 QoS 1 messages in, acked, answered.

The client's socket is one end of a socketpair(); the test writes MQTT bytes on the other
end and drives paho's real read and write paths with loop_read() and loop_write().
"""

from __future__ import annotations

import select
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import (
    CallbackAPIVersion,
    MQTTErrorCode,
    MQTTProtocolVersion,
    _ConnectionState,
)
from paho.mqtt.packettypes import PacketTypes

from server.mqtt_client import READ_CHUNK, WRITE_RUN, IngestClient
from tests.ingest.conftest import HAVE_MOSQUITTO, wait_for

V311, V5 = MQTTProtocolVersion.MQTTv311, MQTTProtocolVersion.MQTTv5
PROTOCOLS = pytest.mark.parametrize("protocol", [V311, V5], ids=["3.1.1", "5"])
SUCCESS, PROTOCOL_ERROR = MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_PROTOCOL
TOPIC = b"koordinator/scanners/sc-1/scans"
SCAN = b'{"scan_id": "s-1", "code": "IT-0001"}'
STUCK = 5.0  # seconds a read or write loop may take before the test calls it stuck
CLIENTS = (IngestClient, mqtt.Client)  # the one under test, and paho as the reference


# --- MQTT bytes, built by hand -----------------------------------------------------------


def varint(n: int) -> bytes:
    """MQTT's variable byte integer (the remaining length, a properties length)."""
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(header: int, body: bytes) -> bytes:
    return bytes([header]) + varint(len(body)) + body


def props(*items: bytes) -> bytes:
    """An MQTT 5 properties block: its length, then the properties."""
    body = b"".join(items)
    return varint(len(body)) + body


def utf8(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def publish(
    topic: bytes = TOPIC,
    payload: bytes = SCAN,
    qos: int = 1,
    mid: int = 1,
    dup: bool = False,
    retain: bool = False,
    properties: bytes = b"",
) -> bytes:
    """A PUBLISH; `properties` is the MQTT 5 block (b"" for MQTT 3.1.1)."""
    header = 0x30 | dup << 3 | qos << 1 | retain
    body = len(topic).to_bytes(2, "big") + topic
    if qos:
        body += mid.to_bytes(2, "big")
    return packet(header, body + properties + payload)


def puback(mid: int, tail: bytes = b"") -> bytes:
    """A PUBACK; `tail` is an MQTT 5 reason code and properties."""
    return packet(0x40, mid.to_bytes(2, "big") + tail)


def pubrel(mid: int) -> bytes:
    return packet(0x62, mid.to_bytes(2, "big"))


def split_packets(stream: bytes) -> list[bytes]:
    """Whole MQTT packets, in order; the stream must end on a packet boundary."""
    out, pos = [], 0
    while pos < len(stream):
        length, mult, end = 0, 1, pos + 1
        while True:
            byte = stream[end]
            length, mult, end = length + (byte & 0x7F) * mult, mult * 128, end + 1
            if not byte & 0x80:
                break
        assert end + length <= len(stream), "stream cut inside a packet"
        out.append(stream[pos : end + length])
        pos = end + length
    return out


def kinds(packets: list[bytes]) -> list[tuple[int, int]]:
    """(packet type, QoS) of each packet."""
    return [(p[0] >> 4, (p[0] >> 1) & 3 if p[0] >> 4 == 3 else 0) for p in packets]


def no_properties(protocol: MQTTProtocolVersion) -> bytes:
    return b"\x00" if protocol == V5 else b""


# --- a client on one end of a socketpair -------------------------------------------------


class CountingSocket:
    """A real socket that records what each send() moved and counts the recv() calls."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.sent: list[bytes] = []
        self.recv_calls = 0

    def send(self, data: bytes) -> int:
        n = self._sock.send(data)
        self.sent.append(bytes(data[:n]))
        return n

    def recv(self, bufsize: int) -> bytes:
        self.recv_calls += 1
        return self._sock.recv(bufsize)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


def readable(sock) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def recv_available(sock: socket.socket) -> tuple[bytes, bool]:
    """What the socket holds now, and whether the other end has closed."""
    data = bytearray()
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except BlockingIOError:
            return bytes(data), False
        except ConnectionResetError:  # closed with our bytes unread
            return bytes(data), True
        if not chunk:
            return bytes(data), True
        data += chunk


class Wire:
    """A client (manual_ack, writes left to loop_write as in the ingest) connected to a
    socketpair; the test plays the broker on `peer`."""

    def __init__(
        self,
        cls: type[mqtt.Client],
        protocol: MQTTProtocolVersion,
        sndbuf: int = 0,
        manual_ack: bool = True,
        max_inflight: int = 0,  # 0 as in the ingest: every publish is sent at once
    ) -> None:
        self.client = client = cls(
            CallbackAPIVersion.VERSION2, protocol=protocol, manual_ack=manual_ack
        )
        self.messages: list[mqtt.MQTTMessage] = []
        self.published: list[tuple] = []  # (mid, reason code, properties) per on_publish
        self.disconnects: list = []
        client.on_socket_register_write = lambda client, userdata, sock: None
        client.on_message = lambda client, userdata, message: self.messages.append(message)
        client.on_publish = lambda client, userdata, mid, rc, p: self.published.append((mid, rc, p))
        client.on_disconnect = lambda client, userdata, f, rc, p: self.disconnects.append(rc)
        client.max_inflight_messages_set(max_inflight)
        self.sndbuf = sndbuf
        self.peer: socket.socket | None = None
        self.attach()

    def attach(self) -> None:
        """A fresh connection (closing the previous one's broker end)."""
        if self.peer is not None:
            self.peer.close()
        mine, self.peer = socket.socketpair()
        if self.sndbuf:
            mine.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.sndbuf)
            self.peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.sndbuf)
        mine.setblocking(False)
        self.peer.setblocking(False)
        self.sock = CountingSocket(mine)
        self.client._sock = self.sock
        self.client._state = _ConnectionState.MQTT_CS_CONNECTED

    def feed(self, data: bytes) -> None:
        self.peer.sendall(data)

    def read(self) -> MQTTErrorCode:
        """loop_read() until the socket is empty and nothing is buffered (as the ingest's
        loop does); the first error ends it."""
        client, rc = self.client, SUCCESS
        deadline = time.monotonic() + STUCK
        while rc == SUCCESS and client.socket() is not None:
            if not (readable(self.sock) or getattr(client, "buffered", 0)):
                break
            assert time.monotonic() < deadline, "loop_read() makes no progress"
            rc = client.loop_read()
        return rc

    def replies(self) -> bytes:
        """What the client writes when its queue is flushed (loop_write() while it wants
        to write, reading the peer between calls)."""
        data = bytearray()
        deadline = time.monotonic() + STUCK
        while self.client.socket() is not None and self.client.want_write():
            assert time.monotonic() < deadline, "loop_write() makes no progress"
            assert self.client.loop_write() == SUCCESS
            data += recv_available(self.peer)[0]
        return bytes(data + recv_available(self.peer)[0])

    def close(self) -> None:
        self.client._sock_close()
        self.peer.close()


@pytest.fixture
def wire() -> Iterator[Callable[..., Wire]]:
    made: list[Wire] = []

    def make(cls: type[mqtt.Client], protocol: MQTTProtocolVersion = V311, **kw) -> Wire:
        made.append(Wire(cls, protocol, **kw))
        return made[-1]

    yield make
    for w in made:
        w.close()


def snapshot(message: mqtt.MQTTMessage) -> dict:
    """Everything on_message can see of a message (the topic as bytes: it may not be
    UTF-8)."""
    properties = message.properties
    return {
        "topic": message._topic,
        "payload": message.payload,
        "payload type": type(message.payload),
        "mid": message.mid,
        "qos": message.qos,
        "dup": message.dup,
        "retain": message.retain,
        "properties": None
        if properties is None
        else (type(properties), properties.packetType, properties.pack()),
    }


def deliver(w: Wire, data: bytes) -> dict:
    """Feed `data` to the client; what it delivered, returned and answered."""
    w.feed(data)
    rc = w.read()
    return {
        "messages": [snapshot(m) for m in w.messages],
        "rc": rc,
        "replies": w.replies(),
        "open": w.client.socket() is not None,
    }


# --- 1. decoding: the same messages as paho's decoder --------------------------------------

# (id, publish() arguments); MQTT 5 runs get an empty properties block
PUBLISHES = [
    ("qos1", {}),
    ("qos1 mid 0x1234", {"mid": 0x1234}),
    ("qos1 mid 0xffff", {"mid": 0xFFFF}),
    ("qos1 dup", {"dup": True}),
    ("qos1 retain", {"retain": True}),
    ("qos1 dup retain", {"dup": True, "retain": True}),
    ("qos1 empty payload", {"payload": b""}),
    ("qos1 200 bytes", {"payload": bytes(range(200))}),  # 2-byte remaining length
    ("qos1 20000 bytes", {"payload": bytes(range(250)) * 80}),  # 3-byte remaining length
    ("qos1 one-byte topic", {"topic": b"t"}),
    ("qos1 utf-8 topic", {"topic": "zähler/größe/scans".encode()}),
    ("qos1 topic not utf-8", {"topic": b"bad/\xff\xfe"}),
    ("qos0", {"qos": 0}),
    ("qos0 dup retain 200 bytes", {"qos": 0, "dup": True, "retain": True, "payload": b"x" * 200}),
    ("qos2", {"qos": 2, "mid": 0x0203}),
    ("qos2 dup retain empty", {"qos": 2, "mid": 9, "dup": True, "retain": True, "payload": b""}),
]
USER_PROPERTY = b"\x26" + utf8("scanner") + utf8("sc-1")
# (id, publish() arguments): MQTT 5 only, all through paho's decoder
PUBLISHES_V5 = [
    ("qos1 payload format indicator", {"properties": b"\x02\x01\x01"}),
    ("qos1 user property", {"properties": props(USER_PROPERTY)}),
    ("qos1 two properties 200 bytes", {"properties": props(b"\x01\x01", USER_PROPERTY)}),
    ("qos1 topic alias", {"topic": b"", "properties": props(b"\x23\x00\x05")}),
    ("qos0 payload format indicator", {"qos": 0, "properties": b"\x02\x01\x01"}),
    ("qos2 user property", {"qos": 2, "mid": 3, "properties": props(USER_PROPERTY)}),
]


def publish_and_release(protocol: MQTTProtocolVersion, fields: dict) -> bytes:
    """The PUBLISH, and for QoS 2 the PUBREL that makes paho deliver it."""
    fields = {"properties": no_properties(protocol), **fields}
    data = publish(**fields)
    return data + pubrel(fields["mid"]) if fields.get("qos") == 2 else data


def decoded_both_ways(wire, protocol: MQTTProtocolVersion, data: bytes) -> tuple[dict, dict]:
    """(IngestClient's, paho's) deliveries of `data`."""
    got, want = (deliver(wire(cls, protocol), data) for cls in CLIENTS)
    return got, want


@PROTOCOLS
@pytest.mark.parametrize("fields", [f for _, f in PUBLISHES], ids=[i for i, _ in PUBLISHES])
def test_publish_is_delivered_as_paho_delivers_it(wire, protocol, fields):
    got, want = decoded_both_ways(wire, protocol, publish_and_release(protocol, fields))
    assert got == want
    (message,) = got["messages"]
    assert (message["topic"], message["payload"]) == (
        fields.get("topic", TOPIC),
        fields.get("payload", SCAN),
    )
    qos = fields.get("qos", 1)
    assert (message["qos"], message["mid"]) == (qos, fields.get("mid", 1) if qos else 0)
    assert (message["properties"] is None) == (protocol == V311)
    assert got["open"] and got["rc"] == SUCCESS


@pytest.mark.parametrize("fields", [f for _, f in PUBLISHES_V5], ids=[i for i, _ in PUBLISHES_V5])
def test_mqtt5_publish_with_properties_is_delivered_as_paho_delivers_it(wire, fields):
    got, want = decoded_both_ways(wire, V5, publish_and_release(V5, fields))
    assert got == want
    (message,) = got["messages"]
    assert message["properties"][2] == fields["properties"]  # none lost, none made up


def test_mqtt5_property_values_reach_on_message(wire):
    w = wire(IngestClient, V5)
    w.feed(publish(properties=props(b"\x01\x01", USER_PROPERTY)))
    assert w.read() == SUCCESS
    (message,) = w.messages
    assert message.properties.PayloadFormatIndicator == 1
    assert message.properties.UserProperty == [("scanner", "sc-1")]
    assert message.payload == SCAN


@PROTOCOLS
def test_without_manual_ack_a_qos1_publish_is_acked_as_paho_does(wire, protocol):
    data = publish(mid=0x0102, properties=no_properties(protocol))
    got, want = (deliver(wire(cls, protocol, manual_ack=False), data) for cls in CLIENTS)
    assert got == want
    assert got["replies"] == puback(0x0102) and len(got["messages"]) == 1


# (id, build(properties block) -> bytes, rejected by paho); a good PUBLISH follows each
MALFORMED = [
    ("topic longer than the packet", lambda p: packet(0x32, b"\x00\x50abc\x00\x01" + p), True),
    ("topic longer, room for it", lambda p: packet(0x32, b"\x00\x07abc\x00\x01" + p), True),
    ("half a message id", lambda p: packet(0x32, b"\x00\x03abc\x00"), True),
    ("topic and no message id", lambda p: packet(0x32, b"\x00\x03abc"), True),
    ("one byte", lambda p: packet(0x32, b"\x00"), True),
    ("empty", lambda p: packet(0x32, b""), True),
    ("qos0 topic longer than the packet", lambda p: packet(0x30, b"\x00\x50abc" + p), True),
    ("qos 3 (reserved)", lambda p: packet(0x36, b"\x00\x03abc\x00\x01" + p + b"payload"), True),
]
# MQTT 5 only: what the fast path must hand to paho's properties parser
MALFORMED_V5 = [
    ("properties longer than the packet", lambda: publish(properties=b"\x05\x01\x01"), True),
    ("properties length cut", lambda: packet(0x32, b"\x00\x03abc\x00\x01\x80"), True),
    ("no properties length", lambda: packet(0x32, b"\x00\x03abc\x00\x01"), True),
    ("unknown property", lambda: publish(properties=b"\x02\x7f\x01"), True),
    (
        "empty topic, no alias: paho delivers it",
        lambda: publish(topic=b"", properties=b"\x00"),
        False,
    ),
]


def check_malformed(got: dict, want: dict, rejected: bool) -> None:
    assert got == want
    if rejected:  # paho's protocol error: the connection is dropped, nothing delivered
        assert got["messages"] == [] and got["rc"] == PROTOCOL_ERROR and not got["open"]


@PROTOCOLS
@pytest.mark.parametrize(
    ("build", "rejected"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_publish_is_refused_as_paho_refuses_it(wire, protocol, build, rejected):
    data = build(no_properties(protocol)) + publish(properties=no_properties(protocol))
    check_malformed(*decoded_both_ways(wire, protocol, data), rejected)


@pytest.mark.parametrize(
    ("build", "rejected"), [m[1:] for m in MALFORMED_V5], ids=[m[0] for m in MALFORMED_V5]
)
def test_malformed_mqtt5_publish_is_refused_as_paho_refuses_it(wire, build, rejected):
    data = build() + publish(properties=b"\x00")
    check_malformed(*decoded_both_ways(wire, V5, data), rejected)


@PROTOCOLS
@pytest.mark.parametrize("command", [0xD0, 0xC0], ids=["pingresp", "pingreq"])
def test_a_ping_with_a_body_is_refused_also_behind_another_packet(wire, protocol, command):
    """paho checks a ping by the remaining length its reader counted; behind a first packet
    the ping lies whole in the read buffer and takes the one-step path, which must count
    it too."""
    good = publish(properties=no_properties(protocol))
    got, want = decoded_both_ways(wire, protocol, good + packet(command, b"\x00") + good)
    assert got == want
    assert len(got["messages"]) == 1 and got["rc"] == PROTOCOL_ERROR and not got["open"]


def test_empty_topic_is_refused_in_mqtt311(wire):
    got, want = decoded_both_ways(wire, V311, publish(topic=b""))
    check_malformed(got, want, rejected=True)


# --- 2. buffered reads ---------------------------------------------------------------------


def numbered(protocol: MQTTProtocolVersion, count: int, size: int = 0) -> list[bytes]:
    """`count` PUBLISHes, payloads b"m<n>" (padded to `size`), every fifth QoS 0."""
    return [
        publish(
            payload=(b"m%d " % n).ljust(size, b"."),
            qos=0 if n % 5 == 4 else 1,
            mid=n + 1,
            properties=no_properties(protocol),
        )
        for n in range(count)
    ]


def payloads(w: Wire) -> list[bytes]:
    return [m.payload for m in w.messages]


@PROTOCOLS
def test_packets_sent_together_are_taken_off_the_socket_in_one_recv(wire, protocol):
    packets = numbered(protocol, 300)
    stream = b"".join(packets)
    assert len(stream) < READ_CHUNK
    w = wire(IngestClient, protocol)
    w.feed(stream)
    assert w.client.loop_read() == SUCCESS
    assert len(w.messages) == 1  # paho took one packet...
    assert w.client.buffered == len(stream) - len(packets[0])  # ...out of one chunk
    assert w.read() == SUCCESS
    assert payloads(w) == [b"m%d " % n for n in range(300)]
    assert w.sock.recv_calls == 1
    assert w.client.buffered == 0 and not readable(w.sock)


@PROTOCOLS
def test_packets_cut_at_every_byte_are_delivered_once_in_order(wire, protocol):
    packets = numbered(protocol, 6, size=150)  # 2-byte remaining lengths
    if protocol == V5:
        packets.append(publish(payload=b"with properties", properties=b"\x02\x01\x01"))
    stream = b"".join(packets)
    ends = [sum(map(len, packets[: n + 1])) for n in range(len(packets))]
    w = wire(IngestClient, protocol)
    for n in range(len(stream)):
        w.feed(stream[n : n + 1])
        assert w.read() == SUCCESS  # a partial packet is kept, not an error
        assert len(w.messages) == sum(end <= n + 1 for end in ends), n
    assert deliver(wire(mqtt.Client, protocol), stream)["messages"] == [
        snapshot(m) for m in w.messages
    ]
    assert w.client.buffered == 0


@PROTOCOLS
@pytest.mark.parametrize("piece", [97, 4096, READ_CHUNK - 1, READ_CHUNK + 1])
def test_large_packets_sent_in_pieces_arrive_whole(wire, protocol, piece):
    packets = [
        publish(payload=bytes(range(256)) * 80, mid=1, properties=no_properties(protocol)),
        publish(payload=b"small", mid=2, properties=no_properties(protocol)),
        publish(payload=b"\x07" * (READ_CHUNK + 5000), mid=3, properties=no_properties(protocol)),
        publish(payload=b"last", qos=0, properties=no_properties(protocol)),
    ]
    stream = b"".join(packets)
    w = wire(IngestClient, protocol)
    for start in range(0, len(stream), piece):
        w.feed(stream[start : start + piece])
        assert w.read() == SUCCESS
    assert [(m.mid, m.payload) for m in w.messages] == [
        (1, bytes(range(256)) * 80),
        (2, b"small"),
        (3, b"\x07" * (READ_CHUNK + 5000)),
        (0, b"last"),
    ]
    assert w.client.buffered == 0


def test_closing_the_socket_drops_what_was_buffered(wire):
    w = wire(IngestClient)
    w.feed(b"".join(publish(payload=b"old %d" % n, mid=n + 1) for n in range(3)))
    assert w.client.loop_read() == SUCCESS
    assert payloads(w) == [b"old 0"] and w.client.buffered > 0
    w.client._sock_close()
    assert w.client.buffered == 0 and w.client.socket() is None
    w.attach()  # the next connection: its first packet must be its own
    w.feed(publish(payload=b"new", mid=1))
    assert w.read() == SUCCESS
    assert payloads(w) == [b"old 0", b"new"]


@PROTOCOLS
def test_the_broker_closing_is_noticed_after_what_it_sent(wire, protocol):
    runs = {}
    for cls in CLIENTS:
        w = wire(cls, protocol)
        w.feed(b"".join(numbered(protocol, 3)))
        w.peer.close()
        rc = w.read()
        runs[cls] = (payloads(w), rc, w.client.socket() is None, len(w.disconnects))
    assert runs[IngestClient] == runs[mqtt.Client]
    assert runs[IngestClient] == (
        [b"m0 ", b"m1 ", b"m2 "],
        MQTTErrorCode.MQTT_ERR_CONN_LOST,
        True,
        1,
    )


# --- 3. the PUBACK fast path ---------------------------------------------------------------


def published_outcome(w: Wire) -> list[tuple]:
    return [(mid, rc.packetType, rc.value, p.pack()) for mid, rc, p in w.published]


def send_publishes(w: Wire, count: int) -> list[mqtt.MQTTMessageInfo]:
    infos = [w.client.publish("koordinator/results", b"r%d" % n, qos=1) for n in range(count)]
    assert len(split_packets(w.replies())) == count
    return infos


@PROTOCOLS
def test_two_byte_pubacks_complete_each_publish_once(wire, protocol):
    runs = {}
    for cls in CLIENTS:
        w = wire(cls, protocol)
        infos = send_publishes(w, 300)  # mids past 255: both bytes count
        order = [i.mid for i in reversed(infos)]  # acked in another order than sent
        # an unknown mid, and a second PUBACK for one already completed, are ignored
        w.feed(b"".join(map(puback, order)) + puback(0x7777) + puback(order[0]))
        assert w.read() == SUCCESS
        assert [mid for mid, _, _ in w.published] == order
        for _mid, rc, properties in w.published:
            assert rc.value == 0 and not rc.is_failure
            assert properties.packetType == PacketTypes.PUBACK and properties.isEmpty()
        assert all(i.is_published() for i in infos)
        assert not w.client._out_messages and w.client._inflight_messages == 0
        assert w.client.socket() is not None and w.disconnects == []
        runs[cls] = published_outcome(w)
    assert runs[IngestClient] == runs[mqtt.Client]


def test_puback_for_a_publish_queued_behind_the_inflight_limit_sends_the_next(wire):
    w = wire(IngestClient, max_inflight=2)
    infos = [w.client.publish("koordinator/results", b"r%d" % n, qos=1) for n in range(3)]
    assert len(split_packets(w.replies())) == 2  # the third waits for a PUBACK
    w.feed(puback(infos[0].mid))
    assert w.read() == SUCCESS
    (third,) = split_packets(w.replies())
    assert third == publish(b"koordinator/results", b"r2", mid=infos[2].mid)
    assert [mid for mid, _, _ in w.published] == [infos[0].mid]


# (id, what follows the mid, reason code, failure)
PUBACKS_V5 = [
    ("no matching subscribers", b"\x10", 16, False),
    ("reason string", b"\x10" + props(b"\x1f" + utf8("nobody listens")), 16, False),
    ("success, empty properties", b"\x00\x00", 0, False),
    ("not authorized", b"\x87", 0x87, True),
    ("quota exceeded, user property", b"\x97" + props(USER_PROPERTY), 0x97, True),
]


@pytest.mark.parametrize(
    ("tail", "code", "failure"), [p[1:] for p in PUBACKS_V5], ids=[p[0] for p in PUBACKS_V5]
)
def test_mqtt5_puback_with_a_reason_code_reaches_on_publish(wire, tail, code, failure):
    runs = {}
    for cls in CLIENTS:
        w = wire(cls, V5)
        first, second = send_publishes(w, 2)
        w.feed(puback(second.mid, tail) + puback(first.mid))
        assert w.read() == SUCCESS
        (mid, rc, _), (mid2, rc2, _) = w.published
        assert (mid, rc.value, rc.is_failure) == (second.mid, code, failure)
        assert (mid2, rc2.value) == (first.mid, 0)
        assert first.is_published() and second.is_published() and not w.client._out_messages
        runs[cls] = published_outcome(w)
    assert runs[IngestClient] == runs[mqtt.Client]
    assert runs[IngestClient][0][3] == (tail[1:] or b"\x00")  # the properties as sent


def test_mqtt311_puback_of_another_length_is_refused_as_paho_refuses_it(wire):
    runs = {}
    for cls in CLIENTS:
        w = wire(cls, V311)
        (info,) = send_publishes(w, 1)
        w.feed(puback(info.mid, b"\x10"))
        runs[cls] = (w.read(), w.published, info.is_published(), w.client.socket() is None)
    assert runs[IngestClient] == runs[mqtt.Client] == (PROTOCOL_ERROR, [], False, True)


@PROTOCOLS
def test_qos2_publish_is_completed_by_pubcomp_as_paho_completes_it(wire, protocol):
    runs = {}
    for cls in CLIENTS:
        w = wire(cls, protocol)
        info = w.client.publish("koordinator/results", b"two", qos=2)
        assert kinds(split_packets(w.replies())) == [(3, 2)]
        w.feed(packet(0x50, info.mid.to_bytes(2, "big")))  # PUBREC
        assert w.read() == SUCCESS
        assert w.replies() == packet(0x62, info.mid.to_bytes(2, "big"))  # PUBREL
        assert w.published == [] and not info.is_published()
        w.feed(packet(0x70, info.mid.to_bytes(2, "big")))  # PUBCOMP
        assert w.read() == SUCCESS
        assert info.is_published() and not w.client._out_messages
        runs[cls] = published_outcome(w)
    assert runs[IngestClient] == runs[mqtt.Client]
    assert runs[IngestClient][0][1] == PacketTypes.PUBCOMP


# --- 4. joined writes ----------------------------------------------------------------------


def queue_mixed(client: mqtt.Client) -> mqtt.MQTTMessageInfo:
    """A run of five (QoS 1 and 2 PUBLISHes, PUBACKs), a QoS 0 PUBLISH, a run of three and
    a DISCONNECT; returns the QoS 0 message's info."""
    client.publish("koordinator/results/a", b"a" * 10, qos=1)
    client.ack(0x0101, 1)
    client.publish("koordinator/results/b", b"b" * 300, qos=2)
    client.ack(7, 1)
    client.publish("koordinator/results/c", b"", qos=1, retain=True)
    qos0 = client.publish("koordinator/server/status", b"online", qos=0)
    client.publish("koordinator/results/d", b"d", qos=1)
    client.ack(9, 1)
    client.publish("koordinator/results/e", b"e" * 20000, qos=1)
    client.disconnect()
    return qos0


@PROTOCOLS
def test_a_run_of_queued_packets_goes_out_in_one_send(wire, protocol):
    streams, qos0 = {}, {}
    for cls in CLIENTS:
        w = wire(cls, protocol)
        qos0[cls] = queue_mixed(w.client)
        assert not w.sock.sent  # nothing written before the loop's write
        assert w.client.loop_write() == SUCCESS
        assert w.client.socket() is None  # the DISCONNECT closed it
        assert len(w.disconnects) == 1 and not w.disconnects[0].is_failure
        data, closed = recv_available(w.peer)
        assert closed
        streams[cls] = (w, data)
    (got, data), (paho, want) = streams[IngestClient], streams[mqtt.Client]
    assert data == want  # byte for byte what paho writes
    packets = split_packets(data)
    PUB, ACK, DISCONNECT = 3, 4, 14
    assert kinds(packets) == [
        (PUB, 1), (ACK, 0), (PUB, 2), (ACK, 0), (PUB, 1),
        (PUB, 0),
        (PUB, 1), (ACK, 0), (PUB, 1),
        (DISCONNECT, 0),
    ]  # fmt: skip
    assert paho.sock.sent == packets  # paho: a send() per packet
    assert got.sock.sent[0] == b"".join(packets[:5])  # the run, in one send()
    assert got.sock.sent[1] == packets[5]  # the QoS 0 PUBLISH on its own
    assert b"".join(got.sock.sent[2:]) == b"".join(packets[6:])
    # paho calls on_publish for a QoS 0 PUBLISH when it is written, joined runs or not
    for cls, w in ((IngestClient, got), (mqtt.Client, paho)):
        assert [mid for mid, _, _ in w.published] == [qos0[cls].mid]
        assert qos0[cls].is_published()


@PROTOCOLS
def test_a_run_that_does_not_fit_the_socket_is_written_over_several_calls(wire, protocol):
    """The first run is longer than WRITE_RUN and the socket takes a few KiB a call: a
    partly written run is joined again with what follows it, from where it stopped."""
    w = wire(IngestClient, protocol, sndbuf=4096)
    for n in range(400):
        w.client.publish(f"koordinator/results/{n}", bytes([n % 256]) * 1000, qos=1)
        if n % 3 == 0:
            w.client.ack(n + 1, 1)
        if n == 350:
            qos0 = w.client.publish("koordinator/server/status", b"online", qos=0)
    expected = b"".join(bytes(p["packet"]) for p in w.client._out_packet)
    count = len(w.client._out_packet)
    assert len(expected) > 350_000 > WRITE_RUN
    assert w.client.loop_write() == SUCCESS
    assert w.client.want_write()  # the socket took only part of it
    received = recv_available(w.peer)[0] + w.replies()
    assert received == expected
    assert len(split_packets(received)) == count
    assert max(map(len, w.sock.sent)) > 1100  # sends carried more than one packet
    assert w.client.socket() is not None and w.disconnects == []
    assert [mid for mid, _, _ in w.published] == [qos0.mid] and qos0.is_published()


# --- 5. end to end against a real broker ---------------------------------------------------


def serve(client: IngestClient, until: Callable[[], bool], timeout: float = 10.0) -> bool:
    """The ingest's loop in small: poll, read (while bytes are buffered), write, misc."""
    deadline = time.monotonic() + timeout
    while not until():
        sock = client.socket()
        if sock is None or time.monotonic() > deadline:
            return until()
        wanted = [sock] if client.want_write() else []
        r, w, _ = select.select([sock], wanted, [], 0.02)
        if r:
            client.loop_read()
            while client.socket() is not None and client.buffered:
                client.loop_read()
        if w and client.socket() is not None:
            client.loop_write()
        if client.socket() is not None:
            client.loop_misc()
    return True


@pytest.mark.parametrize(
    "protocol",
    [
        V311,
        pytest.param(
            V5,
            marks=pytest.mark.skipif(
                not HAVE_MOSQUITTO, reason="the embedded broker has no MQTT 5"
            ),
        ),
    ],
    ids=["3.1.1", "5"],
)
def test_500_messages_are_received_acked_and_answered_through_the_broker(broker, protocol):
    count, tag = 500, uuid.uuid4().hex[:8]
    scans, answers = f"it/{tag}/scans", f"it/{tag}/answers"
    received: list[mqtt.MQTTMessage] = []
    sent: list[mqtt.MQTTMessageInfo] = []
    completed: list[tuple[int, bool]] = []
    subscribed = threading.Event()

    def on_message(client, userdata, message):
        received.append(message)
        client.ack(message.mid, message.qos)
        sent.append(client.publish(answers, b"re " + message.payload, qos=1))

    ingest = IngestClient(
        CallbackAPIVersion.VERSION2, client_id=f"ingest-{tag}", protocol=protocol, manual_ack=True
    )
    ingest.on_socket_register_write = lambda client, userdata, sock: None
    ingest.on_socket_open = lambda client, userdata, sock: sock.setsockopt(
        socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
    )
    ingest.on_connect = lambda client, userdata, f, rc, p: client.subscribe(scans, 1)
    ingest.on_subscribe = lambda *args: subscribed.set()
    ingest.on_message = on_message
    ingest.on_publish = lambda client, userdata, mid, rc, p: completed.append((mid, rc.is_failure))

    lock, answered = threading.Lock(), []
    answers_subscribed = threading.Event()

    def on_answer(client, userdata, message):
        with lock:
            answered.append(message.payload)

    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{tag}", protocol=protocol)
    publisher.on_connect = lambda client, userdata, f, rc, p: client.subscribe(answers, 1)
    publisher.on_subscribe = lambda *args: answers_subscribed.set()
    publisher.on_message = on_answer
    ingest.connect(broker.host, broker.port, keepalive=30)
    publisher.connect(broker.host, broker.port, keepalive=30)
    publisher.loop_start()
    try:
        assert serve(ingest, subscribed.is_set) and answers_subscribed.wait(10)
        infos = [publisher.publish(scans, b"scan %03d" % n, qos=1) for n in range(count)]
        assert serve(ingest, lambda: len(completed) >= count)
        assert wait_for(lambda: len(answered) >= count and all(i.is_published() for i in infos), 10)
    finally:
        ingest.disconnect()
        serve(ingest, lambda: ingest.socket() is None, timeout=2)
        ingest._sock_close()  # when the broker did not let it go in time
        publisher.disconnect()
        publisher.loop_stop()
    expected = [b"scan %03d" % n for n in range(count)]
    assert [m.payload for m in received] == expected  # each once, in order
    assert not any(m.dup for m in received) and {m.qos for m in received} == {1}
    assert sorted(mid for mid, _ in completed) == sorted(i.mid for i in sent)
    assert not any(failure for _, failure in completed)
    assert all(i.is_published() for i in sent) and not ingest._out_messages
    with lock:
        assert sorted(answered) == [b"re " + p for p in expected]
