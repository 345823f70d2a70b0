"""paho's Client with less work per packet, for the ingest worker's hot path.

For each scan the ingest receives a PUBLISH and a PUBACK and sends a PUBLISH and a PUBACK.
paho reads every packet with at least three `recv()` calls (the command byte, the
remaining length byte by byte, the rest), keeps its state in a dict between them, builds
a ReasonCode, a Properties object and an MQTTMessageInfo (with a Condition) for packets
that carry none of them, and, driven from an external loop, writes every queued packet
with a `send()` of its own (a loopback TCP `send()` also runs the receiving side's network
stack on our core).

`IngestClient` changes how bytes cross the socket and how the two packets of every scan
are decoded, not what paho does with them:

- `_sock_recv` reads the socket in chunks of up to `READ_CHUNK` bytes and hands paho the
  few bytes it asks for out of that buffer. poll() cannot see bytes already in the buffer,
  so the owner of the loop keeps calling `loop_read()` while `buffered` is not zero (as for
  TLS's `pending()`).
- `_packet_read` takes a packet that lies whole in that buffer in one step; a packet cut
  by the end of the buffer goes through paho's reader as before.
- `_handle_pubackcomp`: a PUBACK of two bytes (a message id; success, no properties, as
  Mosquitto sends it) skips paho's decoder; paho's `_do_on_publish` then does its
  bookkeeping as always, with shared success and empty-properties objects.
- `_handle_publish`: a QoS 1 PUBLISH without properties, with `manual_ack`, is decoded in
  a few slices, and its MQTTMessage gets no MQTTMessageInfo (paho uses that only for
  messages it sends). Anything else (QoS 0 or 2, MQTT 5 properties, a malformed packet)
  goes to paho's own decoder.
- `_packet_write` joins a run of queued PUBACKs and QoS 1/2 PUBLISHes (packets paho does
  nothing more with once written) into one `send()`. Any other packet (CONNECT,
  DISCONNECT, a QoS 0 PUBLISH whose `on_publish` paho calls when it is written) goes out
  on its own as before.

The owner must set `on_socket_register_write` (the ingest does): otherwise paho writes
each packet at once from `publish()` and `ack()` and there is never a run to join.

The overrides touch paho internals (`_sock_recv`, `_sock_close`, `_packet_read`,
`_in_packet`, `_packet_write`, `_out_packet`, the packet handlers). paho-mqtt is pinned in
requirements.txt; tests/ingest/test_mqtt_client.py feeds the same bytes to this client and
to plain paho and compares what each delivers and writes, so a paho upgrade that breaks
an override fails the suite.
"""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

READ_CHUNK = 65536
WRITE_RUN = 256 * 1024  # at most this many bytes joined into one send()
_PUBLISH, _PUBACK = 0x30, 0x40
#: shared by every fast-path PUBACK and PUBLISH: the callbacks only read them
_PUBACK_OK = ReasonCode(PacketTypes.PUBACK)
_NO_PUBACK_PROPERTIES = Properties(PacketTypes.PUBACK)
_NO_PUBLISH_PROPERTIES = Properties(PacketTypes.PUBLISH)


def _joinable(packet) -> bool:
    kind = packet["command"] & 0xF0
    return kind == _PUBACK or (kind == _PUBLISH and packet["qos"] > 0)


class IngestClient(mqtt.Client):
    """paho's Client reading in chunks and writing runs of packets in one send()."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0

    @property
    def buffered(self) -> int:
        """Bytes read from the socket that paho has not taken yet."""
        return len(self._rbuf) - self._rpos

    def _sock_recv(self, bufsize: int) -> bytes:
        buf, pos = self._rbuf, self._rpos
        if pos >= len(buf):
            buf = super()._sock_recv(READ_CHUNK)  # BlockingIOError etc. as paho expects
            if not buf:
                return buf  # the broker closed the connection
            self._rbuf, pos = buf, 0
        end = min(pos + bufsize, len(buf))
        self._rpos = end
        return buf[pos:end]

    def _packet_read(self) -> MQTTErrorCode:
        """A packet that lies whole in the read buffer is taken in one step; anything else
        (a packet cut by the end of the buffer, a length of more than four bytes) goes
        through paho's reader, byte by byte, as before."""
        buf, pos = self._rbuf, self._rpos
        end = len(buf)
        if self._in_packet["command"] or end - pos < 2:
            return super()._packet_read()
        i, length, shift = pos + 1, 0, 0
        while i < end and shift < 28:
            byte = buf[i]
            i += 1
            length |= (byte & 127) << shift
            shift += 7
            if not byte & 128:
                break
        else:
            return super()._packet_read()  # length not complete here, or too long
        if end - i < length:
            return super()._packet_read()
        self._rpos = i + length
        packet = self._in_packet
        packet["command"] = buf[pos]
        packet["remaining_length"] = length  # the ping handlers check it
        packet["packet"] = buf[i : i + length]
        try:
            rc = self._packet_handle()
        except MalformedPacket as exc:
            self._easy_log(mqtt.MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
            rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
        finally:  # also when a callback raised: the next packet starts afresh
            packet["command"] = 0
            packet["remaining_length"] = 0
            packet["packet"] = bytearray()
        with self._msgtime_mutex:
            self._last_bytes_received = mqtt.time_func()
        return rc

    def _sock_close(self) -> None:
        # the bytes of a closed connection must never be read as the next one's
        self._rbuf, self._rpos = b"", 0
        super()._sock_close()

    def _packet_write(self) -> mqtt.MQTTErrorCode:
        out = self._out_packet
        if len(out) > 1 and _joinable(out[0]) and _joinable(out[1]):
            parts, size = [], 0
            while out and _joinable(out[0]) and size < WRITE_RUN:
                packet = out.popleft()
                part = packet["packet"][packet["pos"] :]
                parts.append(part)
                size += len(part)
            joined = b"".join(parts)
            # written as one PUBACK-like packet: paho does nothing more with it once sent
            out.appendleft(
                {
                    "command": _PUBACK,
                    "mid": 0,
                    "qos": 0,
                    "pos": 0,
                    "to_process": len(joined),
                    "packet": joined,
                    "info": None,
                }
            )
        return super()._packet_write()

    def _handle_pubackcomp(self, cmd) -> MQTTErrorCode:
        packet = self._in_packet["packet"]
        if cmd != "PUBACK" or len(packet) != 2:
            return super()._handle_pubackcomp(cmd)
        mid = (packet[0] << 8) | packet[1]
        with self._out_message_mutex:
            if mid in self._out_messages:
                return self._do_on_publish(mid, _PUBACK_OK, _NO_PUBACK_PROPERTIES)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_publish(self) -> MQTTErrorCode:
        header, packet = self._in_packet["command"], self._in_packet["packet"]
        mqtt5 = self._protocol == MQTTProtocolVersion.MQTTv5
        if (header & 0x06) != 0x02 or not self._manual_ack or len(packet) < 2:
            return super()._handle_publish()
        start = 2 + ((packet[0] << 8) | packet[1])  # after the topic
        body = start + 2 + mqtt5  # after the message id and an empty properties length
        if start == 2 or len(packet) < body or (mqtt5 and packet[start + 2] != 0):
            return super()._handle_publish()  # topic alias, properties, or malformed
        # MQTTMessage's __init__ without the MQTTMessageInfo (and its Condition and lock)
        # it makes for every message: paho uses it only for messages it sends
        message = mqtt.MQTTMessage.__new__(mqtt.MQTTMessage)
        message.mid = (packet[start] << 8) | packet[start + 1]
        message._topic = bytes(packet[2:start])
        message.state = mqtt.mqtt_ms_invalid
        message.dup = bool(header & 0x08)
        message.qos = 1
        message.retain = bool(header & 0x01)
        message.info = None
        message.properties = _NO_PUBLISH_PROPERTIES if mqtt5 else None
        message.payload = bytes(packet[body:])
        message.timestamp = mqtt.time_func()
        self._handle_on_message(message)
        return MQTTErrorCode.MQTT_ERR_SUCCESS
