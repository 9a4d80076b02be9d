"""The local exchange gateway (backend/exchange_gateway.py, development and tests only) in front of a real
e-Cabinet server: a sender's signed package is read in the sandbox and forwarded to the recipient's inbound
endpoint (202), a second delivery is the recipient's duplicate and still 202; a wrong bearer is 401, a
package whose sender is not the bearer's agency 403, an unknown recipient 502. A status package goes to the
agency its ResponseFor names."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from sqlalchemy import func
from sqlmodel import select

from backend.exchange_gateway import create_gateway_app, load_config
from backend.models import IncomingDocument
from backend.services.exchange import agencies
from tests.integration.conftest import Server
from tests.integration.test_exchange_outbox_delivery import FakeGateway
from tests.integration.test_exchange_outbox_delivery import gateway as gateway  # noqa: F401  (fixture)
from tests.support.exchange_packages import (
    DIRECTORY,
    GATEWAY_SECRET,
    OURS,
    SENDER,
    document,
    exchange_pki,
    signed,
    signed_status,
    status_from,
)

BEARER = "nghe-an-bearer-for-the-gateway-2026"


def _gateway(server: Server, tmp_path: Path, agencies_known: dict[str, dict[str, str]]) -> httpx.AsyncClient:
    pki = exchange_pki(server.settings.data_dir / "exchange-pki")
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps({"trust_anchors": str(pki.anchors), "agencies": agencies_known,
                                "senders": {SENDER: BEARER, OURS: "another-agencys-bearer-2026"}}))
    app = create_gateway_app(load_config(path), server.settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=60)


async def _inbox(server: Server) -> int:
    async with server.db.read() as s:
        return int((await s.exec(select(func.count()).select_from(IncomingDocument))).one())


async def test_the_gateway_forwards_a_senders_package_to_the_recipients_inbox_once(
        server: Server, tmp_path: Path) -> None:
    await agencies.import_csv(server.db, DIRECTORY)
    pki = exchange_pki(server.settings.data_dir / "exchange-pki")
    data = signed(document(), pki.sender)
    before = await _inbox(server)  # the server is shared with other tests
    to_us = {OURS: {"url": f"{server.base_url}/api/exchange/inbound", "secret": GATEWAY_SECRET}}
    async with _gateway(server, tmp_path, to_us) as gateway:
        wrong = await gateway.post("/packages", content=data, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        other = await gateway.post("/packages", content=data,
                                   headers={"Authorization": "Bearer another-agencys-bearer-2026"})
        assert other.status_code == 403 and other.json()["error"]["code"] == "wrong_sender"
        assert await _inbox(server) == before
        sent = await gateway.post("/packages", content=data, headers={"Authorization": f"Bearer {BEARER}"})
        assert sent.status_code == 202, sent.text
        assert sent.json()["forwarded"] == [OURS]
        again = await gateway.post("/packages", content=data, headers={"Authorization": f"Bearer {BEARER}"})
        assert again.status_code == 202, again.text
    assert await _inbox(server) == before + 1
    async with _gateway(server, tmp_path, {}) as gateway:
        lost = await gateway.post("/packages", content=data, headers={"Authorization": f"Bearer {BEARER}"})
        assert lost.status_code == 502 and "unknown to this gateway" in lost.json()["error"]["message"]


async def test_the_gateway_forwards_a_status_to_the_agency_its_response_for_names(
        server: Server, tmp_path: Path, gateway: FakeGateway) -> None:
    pki = exchange_pki(server.settings.data_dir / "exchange-pki")
    # Nghệ An reports 03 accepted about a document we (000.00.00.G22) sent it: a status has no To list.
    status = signed_status(status_from(SENDER, f"{OURS},2026/12/02,15/NQ-CP", "03"), pki.sender)
    to_fake = {OURS: {"url": gateway.url, "secret": "our-inbound-secret-2026"}}
    async with _gateway(server, tmp_path, to_fake) as relay:
        sent = await relay.post("/packages", content=status, headers={"Authorization": f"Bearer {BEARER}"})
        assert sent.status_code == 202, sent.text
        assert sent.json() == {"forwarded": [OURS], "document_id": f"{OURS},2026/12/02,15/NQ-CP", "kind": "status"}
        # About a document of an agency the gateway does not know: not forwarded, with the reason.
        stray = signed_status(status_from(SENDER, "000.00.00.H26,2026/12/02,7/QD-UBND", "01"), pki.sender)
        lost = await relay.post("/packages", content=stray, headers={"Authorization": f"Bearer {BEARER}"})
        assert lost.status_code == 502 and "000.00.00.H26: unknown to this gateway" in lost.json()["error"]["message"]
        # Only its reporter's bearer may send it.
        other = await relay.post("/packages", content=status,
                                 headers={"Authorization": "Bearer another-agencys-bearer-2026"})
        assert other.status_code == 403 and other.json()["error"]["code"] == "wrong_sender"
    assert gateway.received == [("Bearer our-inbound-secret-2026", status)]


async def test_a_package_for_several_agencies_goes_only_to_the_one_its_outbox_row_names(
        server: Server, tmp_path: Path) -> None:
    """The sender's outbox posts a package once per recipient row with ?to=CODE: forwarding it to all of
    them each time sent every recipient one copy per row (the extras answered 409)."""
    import exchange as ex

    await agencies.import_csv(server.db, DIRECTORY)
    pki = exchange_pki(server.settings.data_dir / "exchange-pki")
    both = document(recipients=(ex.Organization(OURS, "Văn phòng Chính phủ"),
                                ex.Organization("000.00.00.H26", "Ủy ban nhân dân tỉnh Hà Tĩnh")))
    data = signed(both, pki.sender)
    before = await _inbox(server)
    routes = {OURS: {"url": f"{server.base_url}/api/exchange/inbound", "secret": GATEWAY_SECRET},
              # Hà Tĩnh's endpoint is down: any forward there fails.
              "000.00.00.H26": {"url": "http://127.0.0.1:9/api/exchange/inbound", "secret": "x"}}
    headers = {"Authorization": f"Bearer {BEARER}"}
    async with _gateway(server, tmp_path, routes) as gateway:
        stranger = await gateway.post("/packages", params={"to": "000.00.00.H58"}, content=data, headers=headers)
        assert stranger.status_code == 422 and stranger.json()["error"]["code"] == "not_a_recipient"
        to_us = await gateway.post("/packages", params={"to": OURS}, content=data, headers=headers)
        assert to_us.status_code == 202 and to_us.json()["forwarded"] == [OURS], to_us.text
        to_all = await gateway.post("/packages", content=data, headers=headers)  # no `to`: every recipient
        assert to_all.status_code == 502 and "000.00.00.H26" in to_all.json()["error"]["message"]
    assert await _inbox(server) == before + 1
