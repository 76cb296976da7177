"""A TCP relay: ``python -m tests.support.tcp_relay LISTEN_HOST LISTEN_PORT TARGET_HOST
TARGET_PORT``. Run inside a test's network namespace it puts that namespace's link on the path
between two servers of the root namespace, so cutting the link partitions them."""

from __future__ import annotations

import asyncio
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _serve(listen_host: str, listen_port: int, target_host: str,
                 target_port: int) -> None:
    async def relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.wait_for(
                asyncio.open_connection(target_host, target_port), 5)
        except (OSError, TimeoutError):
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, server_w), _pipe(server_r, client_w))

    server = await asyncio.start_server(relay, listen_host, listen_port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    listen_host, listen_port, target_host, target_port = sys.argv[1:5]
    asyncio.run(_serve(listen_host, int(listen_port), target_host, int(target_port)))


if __name__ == "__main__":
    main()
