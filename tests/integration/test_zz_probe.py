import asyncio, httpx
from typing import Any
from backend.models import LoginThrottle
from tests.integration.conftest import Server
async def test_probe(server: Server, new_user: Any) -> None:
    person = await new_user("storm")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        answers = await asyncio.gather(*(http.post("/api/auth/login", json={"username": person.username, "password": f"wrong-{i}-pw"}) for i in range(10)))
        answers2 = await asyncio.gather(*(http.post("/api/auth/login", json={"username": person.username, "password": "x"}) for i in range(1)))
        print(server.backend, [r.status_code for r in answers])
    async with server.db.read() as s:
        row = await s.get(LoginThrottle, person.username)
        print(row)
