"""`SioBus.delivered`: what a secret close's second step waits for (issue 18: at 2,000 tablets, writing the
ballots out while the result was being sent made the result late). Real python-socketio clients over
WebSocket against a python-socketio server under uvicorn on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio
import uvicorn

from backend.realtime.fanout import DirectEmitManager
from backend.realtime.server import SioBus
from tests.conftest import free_port

CLIENTS = 120
PAYLOAD = "Kết quả biểu quyết " * 2_000  # ~40 KB: each socket's writer has real work to do


async def test_delivered_returns_once_every_socket_has_taken_the_published_event() -> None:
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=DirectEmitManager())  # as the app's

    @sio.event  # type: ignore[misc]
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.enter_room(sid, "meeting:1")

    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(socketio.ASGIApp(sio), host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(uv.serve())
    while not uv.started:
        await asyncio.sleep(0.02)
    clients = [socketio.AsyncClient(reconnection=False) for _ in range(CLIENTS)]
    got: list[int] = []
    for client in clients:
        client.on("result", lambda data: got.append(len(data["text"])))
    try:
        await asyncio.gather(*(c.connect(f"http://127.0.0.1:{port}", transports=["websocket"]) for c in clients))
        bus = SioBus(sio, revocations=None)  # type: ignore[arg-type]

        def queued() -> int:
            return sum(each.queue.qsize() for each in list(sio.eio.sockets.values()))

        await bus.publish("result", {"text": PAYLOAD}, room="meeting:1")
        assert queued() >= CLIENTS, "the event is in the sockets' queues right after publishing"
        await bus.delivered(within=10)
        assert queued() == 0, "delivered returned while sockets still held the event"
        for _ in range(200):
            if len(got) == CLIENTS:
                break
            await asyncio.sleep(0.05)
        assert got == [len(PAYLOAD)] * CLIENTS

        # Nothing published: it comes back at once (one idle tick), never waiting out `within`.
        loop = asyncio.get_running_loop()
        start = loop.time()
        await bus.delivered(within=10)
        assert loop.time() - start < 5
    finally:
        await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
        uv.should_exit = True
        await serving


async def test_delivered_gives_up_after_within_when_a_socket_never_takes_its_packets() -> None:
    class Stuck:
        queue: Any = asyncio.Queue()

    Stuck.queue.put_nowait("never sent")
    sio = socketio.AsyncServer(async_mode="asgi")
    sio.eio.sockets["stuck"] = Stuck()
    loop = asyncio.get_running_loop()
    start = loop.time()
    await SioBus(sio, revocations=None).delivered(within=0.3)  # type: ignore[arg-type]
    assert 0.3 <= loop.time() - start < 3
