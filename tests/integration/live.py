"""Real python-socketio clients for the live-session tests: log in over REST (bearer token), connect
with the token, record every server push, and call events with an ack."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import httpx
import socketio


class LiveClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, list[Any]] = defaultdict(list)
        self._waiters: dict[str, list[asyncio.Future[Any]]] = defaultdict(list)
        self.token: str | None = None
        self.user: dict[str, Any] | None = None
        self.disconnects: list[Any] = []
        self.sio.on("*", self._record)
        self.sio.on("disconnect", self._on_disconnect)

    async def _on_disconnect(self, reason: Any = None) -> None:
        self.disconnects.append(reason)

    async def _record(self, event: str, data: Any = None) -> None:
        self.events[event].append(data)
        for fut in self._waiters.pop(event, []):
            if not fut.done():
                fut.set_result(data)

    async def login(self, username: str, password: str) -> None:
        async with httpx.AsyncClient(base_url=self.base_url) as http:
            r = await http.post("/api/auth/tokens", json={"username": username, "password": password})
        r.raise_for_status()
        self.token = r.json()["token"]
        self.user = r.json()["user"]

    async def connect(self, *, token: str | None = None) -> None:
        await self.sio.connect(self.base_url, auth={"token": token or self.token}, transports=["websocket"],
                               wait_timeout=10)

    async def call(self, event: str, data: Any = None, timeout: float = 15) -> dict[str, Any]:
        ack: dict[str, Any] = await self.sio.call(event, data, timeout=timeout)
        return ack

    async def next(self, event: str, timeout: float = 10) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters[event].append(fut)
        return await asyncio.wait_for(fut, timeout)

    async def wait_for(self, event: str, predicate: Any, timeout: float = 10) -> Any:
        """The first push of `event` (already received or coming) for which predicate(data) holds."""
        deadline = asyncio.get_running_loop().time() + timeout
        seen = 0
        while True:
            for data in self.events[event][seen:]:
                if predicate(data):
                    return data
            seen = len(self.events[event])
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"no {event} matching the condition; got {self.events[event][-3:]}")
            try:
                await self.next(event, timeout=remaining)
            except TimeoutError:
                continue

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
