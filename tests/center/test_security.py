"""Mosquitto $7$ password hashes, checked against a real mosquitto."""

from __future__ import annotations

import base64
import contextlib
import socket
import subprocess
from pathlib import Path

import pytest

from control_center.security import mosquitto_hash, verify_mosquitto_hash
from firmware_sim.broker import find_executable, free_port
from tests.support.mqtt import ConnectRefusedError, connect_client
from tests.support.waiting import wait_until


def test_hash_format() -> None:
    encoded = mosquitto_hash("mật khẩu", salt=b"0123456789ab")
    _, alg, iterations, salt, digest = encoded.split("$")
    assert (alg, iterations) == ("7", "101")
    assert base64.b64decode(salt) == b"0123456789ab"
    assert len(base64.b64decode(digest)) == 64
    assert digest.endswith("==")
    assert verify_mosquitto_hash("mật khẩu", encoded)
    assert not verify_mosquitto_hash("mat khau", encoded)
    assert mosquitto_hash("p") != mosquitto_hash("p")  # random salt


@pytest.mark.integration
def test_real_mosquitto_accepts_the_hash(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "passwd").write_text(f"loa-01:{mosquitto_hash('đúng-rồi')}\n")
    (tmp_path / "m.conf").write_text(
        # "user root": as root, mosquitto would drop to a user that cannot read tmp_path.
        f"user root\nlistener {port} 127.0.0.1\nallow_anonymous false\n"
        f"password_file {tmp_path / 'passwd'}\n"
    )
    log = (tmp_path / "mosquitto.log").open("wb")
    proc = subprocess.Popen([find_executable("mosquitto"), "-c", str(tmp_path / "m.conf")],
                            stdout=log, stderr=log)
    log.close()

    def listening() -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        assert proc.poll() is None, (tmp_path / "mosquitto.log").read_text()
        return False

    try:
        wait_until(listening, 10, "mosquitto to listen", interval=0.02)
        client = connect_client("127.0.0.1", port, "loa-01", "đúng-rồi")
        client.close()
        with pytest.raises(ConnectRefusedError):
            connect_client("127.0.0.1", port, "loa-01", "sai")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
