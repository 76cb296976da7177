"""A minimal asyncio MQTT 3.1.1 client: thousands of connections per process, pipelined QoS 1.

Only what the fleet simulator and the raw baseline need: CONNECT (credentials, clean session,
will), SUBSCRIBE, PUBLISH QoS 0/1 out (a future per QoS 1 message, resolved by its PUBACK),
PUBLISH QoS 0/1 in (acknowledged at once), PINGREQ and DISCONNECT. It runs on the event loop
(epoll through uvloop), so it has no select() limit, and sets TCP_NODELAY on every socket.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MessageCallback = Callable[[str, bytes, bool], None]
"""Called with (topic, payload, retained) for every PUBLISH received."""

_CONNECT, _CONNACK, _PUBLISH, _PUBACK = 0x10, 0x20, 0x30, 0x40
_SUBSCRIBE, _SUBACK, _PINGREQ, _PINGRESP, _DISCONNECT = 0x82, 0x90, 0xC0, 0xD0, 0xE0


class MqttError(ConnectionError):
    """The broker refused or dropped the connection."""


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def _string(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return struct.pack("!H", len(raw)) + raw


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(client_id: str, username: str | None, password: str | None, *,
                   clean: bool, keepalive: int, will: Will | None = None) -> bytes:
    flags = 0x02 if clean else 0
    payload = _string(client_id)
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        payload += _string(will.topic) + _string(will.payload)
    if username is not None:
        flags |= 0x80
        payload += _string(username)
    if password is not None:
        flags |= 0x40
        payload += _string(password)
    body = _string("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + payload
    return bytes([_CONNECT]) + _length(len(body)) + body


def publish_packet(topic: str, payload: bytes, *, qos: int, retain: bool, pid: int) -> bytes:
    head = _PUBLISH | (qos << 1) | (1 if retain else 0)
    body = _string(topic) + (struct.pack("!H", pid) if qos else b"") + payload
    return bytes([head]) + _length(len(body)) + body


class MqttConnection(asyncio.Protocol):
    """One client connection; create it with :func:`open_connection`."""

    def __init__(self, on_message: MessageCallback | None = None,
                 on_lost: Callable[[MqttConnection], None] | None = None) -> None:
        self._on_message = on_message
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._loop = asyncio.get_running_loop()
        self._connack: asyncio.Future[int] = self._loop.create_future()
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._next_pid = 0
        self.closed = self._loop.create_future()

    # -- asyncio.Protocol ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        error = MqttError(f"connection lost: {exc}" if exc else "connection closed")
        if not self._connack.done():
            self._connack.set_exception(error)
        for future in self._acks.values():
            if not future.done():
                future.set_exception(error)
        self._acks.clear()
        if not self.closed.done():
            self.closed.set_result(None)
        if self._on_lost is not None:
            self._on_lost(self)

    def data_received(self, data: bytes) -> None:
        buf = self._buffer
        buf += data
        pos, end = 0, len(buf)
        while end - pos >= 2:
            head, length, multiplier, i, whole = buf[pos], 0, 1, pos + 1, False
            while i < end:
                byte = buf[i]
                i += 1
                length += (byte & 0x7F) * multiplier
                multiplier *= 128
                if not byte & 0x80:
                    whole = True
                    break
            if not whole or end - i < length:
                break
            self._packet(head, bytes(buf[i:i + length]))
            pos = i + length
        if pos:
            del buf[:pos]

    def _packet(self, head: int, body: bytes) -> None:
        kind = head & 0xF0
        if kind == _PUBLISH:
            qos = (head >> 1) & 3
            tlen = struct.unpack_from("!H", body)[0]
            topic = body[2:2 + tlen].decode()
            offset = 2 + tlen
            if qos:
                pid = body[offset:offset + 2]
                offset += 2
                self._write(bytes([_PUBACK, 2]) + pid)
            if self._on_message is not None:
                self._on_message(topic, body[offset:], bool(head & 1))
        elif kind in (_PUBACK, _SUBACK):
            future = self._acks.pop(struct.unpack_from("!H", body)[0], None)
            if future is not None and not future.done():
                if kind == _SUBACK and any(code == 0x80 for code in body[2:]):
                    future.set_exception(MqttError("subscription refused"))
                else:
                    future.set_result(None)
        elif kind == _CONNACK and not self._connack.done():
            self._connack.set_result(body[1])

    # -- client API -----------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._transport is not None and self._connack.done()

    def _write(self, data: bytes) -> None:
        if self._transport is not None:
            self._transport.write(data)

    def _pid(self) -> int:
        self._next_pid = self._next_pid % 65535 + 1
        return self._next_pid

    async def handshake(self, packet: bytes, timeout: float) -> None:
        self._write(packet)
        code = await asyncio.wait_for(self._connack, timeout)
        if code != 0:
            self.close()
            raise MqttError(f"CONNACK return code {code}")

    def publish(self, topic: str, payload: bytes, *, qos: int = 1,
                retain: bool = False) -> asyncio.Future[None] | None:
        """Send now; for QoS 1 a future resolved by the PUBACK (None for QoS 0)."""
        if self._transport is None:
            raise MqttError("not connected")
        if not qos:
            self._write(publish_packet(topic, payload, qos=0, retain=retain, pid=0))
            return None
        pid = self._pid()
        future: asyncio.Future[None] = self._loop.create_future()
        self._acks[pid] = future
        self._write(publish_packet(topic, payload, qos=qos, retain=retain, pid=pid))
        return future

    def subscribe(self, topics: Sequence[tuple[str, int]]) -> asyncio.Future[None]:
        pid = self._pid()
        future: asyncio.Future[None] = self._loop.create_future()
        self._acks[pid] = future
        body = struct.pack("!H", pid) + b"".join(_string(t) + bytes([q]) for t, q in topics)
        self._write(bytes([_SUBSCRIBE]) + _length(len(body)) + body)
        return future

    def ping(self) -> None:
        self._write(bytes([_PINGREQ, 0]))

    def disconnect(self) -> None:
        """A clean DISCONNECT (the will is not sent), then close."""
        self._write(bytes([_DISCONNECT, 0]))
        self.close()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Drop the connection as a crash would (the will fires)."""
        if self._transport is not None:
            self._transport.abort()


async def open_connection(
    host: str, port: int, *, client_id: str, username: str | None = None,
    password: str | None = None, clean: bool = True, keepalive: int = 300,
    will: Will | None = None, on_message: MessageCallback | None = None,
    on_lost: Callable[[MqttConnection], None] | None = None, timeout: float = 30.0,
) -> MqttConnection:
    """Connect and wait for CONNACK; raise ``MqttError`` or ``OSError`` on failure."""
    loop = asyncio.get_running_loop()
    _, conn = await asyncio.wait_for(loop.create_connection(
        lambda: MqttConnection(on_message, on_lost), host, port), timeout)
    await conn.handshake(connect_packet(client_id, username, password, clean=clean,
                                        keepalive=keepalive, will=will), timeout)
    return conn
