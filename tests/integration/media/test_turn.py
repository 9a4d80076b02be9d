"""TURN for the video bridge with time-limited credentials (coturn's use-auth-secret): `media.config`
gives each person their own credentials for the TURN servers only, and a real coturn on loopback opens
allocations for them (and for the relay's own), refuses a wrong secret or an expired credential, and
carries a session's picture when the sites may use nothing but TURN."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aioice import stun, turn
from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy

from media.ice import turn_credential
from tests.integration.conftest import Server, serving
from tests.integration.media.test_bridge import CHAIR, Site, _until
from tests.support.coturn import Coturn, running_coturn

TTL = 600
STUN_URL = "stun:127.0.0.1:3478"


def _credential(secret: str, username: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


@asynccontextmanager
async def _serving_turn(server: Server, urls: tuple[str, ...], secret: str) -> AsyncIterator[str]:
    """The app once more over the test server's database, told about TURN: its base URL."""
    settings = replace(server.settings, media_ice_servers=urls, turn_secret=secret, turn_ttl_seconds=TTL)
    async with serving(settings, server.db) as base_url:
        yield base_url


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
async def test_media_config_gives_each_person_their_own_credentials_for_turn_servers_only(
        server: Server, session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    secret = secrets.token_urlsafe(24)
    urls = (STUN_URL, "turn:turn.example.gov.vn:3478?transport=udp", "turns:turn.example.gov.vn:5349?transport=tcp")
    async with _serving_turn(server, urls, secret) as base:
        sites = {key: Site(server, await live_factory(people[key], connect=False), base_url=base)
                 for key in ("member", "bridge", "outsider")}
        try:
            for site in sites.values():
                await site.connect()
            before = int(time.time())
            acks = {key: await sites[key].call("media.config", {"meeting_id": mid}) for key in ("member", "bridge")}
            after = int(time.time())
            for key, ack in acks.items():
                assert ack["ok"], ack
                servers = ack["ice_servers"]
                assert [s["urls"] for s in servers] == list(urls)
                assert servers[0] == {"urls": STUN_URL}, "a STUN server takes no credential"
                username = servers[1]["username"]
                expiry, user_id = username.split(":")
                assert user_id == str(people[key].id), "the credential names its person"
                assert before + TTL <= int(expiry) <= after + TTL
                for turn_server in servers[1:]:
                    assert turn_server == {"urls": turn_server["urls"], "username": username,
                                           "credential": _credential(secret, username)}
            assert acks["member"]["ice_servers"][1] != acks["bridge"]["ice_servers"][1]
            refused = await sites["outsider"].call("media.config", {"meeting_id": mid})
            assert refused["ok"] is False, "who is not in the meeting gets no credential"
        finally:
            for site in sites.values():
                await site.close()

        # The test server, told of no TURN server, hands out none (as before).
        plain = Site(server, await live_factory(people["member"], connect=False))
        try:
            await plain.connect()
            assert (await plain.call("media.config", {"meeting_id": mid}))["ice_servers"] == []
        finally:
            await plain.close()


# --- a real TURN server -------------------------------------------------------------------------------------


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    with running_coturn(tmp_path) as server:
        yield server


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait((data, addr))


async def test_coturn_opens_an_allocation_for_our_credentials_and_refuses_a_wrong_or_expired_one(
        coturn: Coturn) -> None:
    server = ("127.0.0.1", coturn.port)
    username, credential = turn_credential(coturn.secret, "relay", ttl=TTL, now=time.time())
    relayed, mine = await turn.create_turn_endpoint(_Inbox, server, username, credential)
    loop = asyncio.get_running_loop()
    peer_transport, peer = await loop.create_datagram_endpoint(_Inbox, local_addr=("127.0.0.1", 0))
    try:
        address = relayed.get_extra_info("sockname")
        assert address[0] == "127.0.0.1" and address[1] != coturn.port, address
        # Data goes out from the relayed address and comes back to it through coturn.
        relayed.sendto(b"chao", peer_transport.get_extra_info("sockname"))
        data, source = await asyncio.wait_for(peer.received.get(), 5)
        assert (data, source) == (b"chao", tuple(address))
        peer_transport.sendto(b"chao lai", source)
        assert (await asyncio.wait_for(mine.received.get(), 5))[0] == b"chao lai"
    finally:
        relayed.close()
        peer_transport.close()

    for secret, now, what in [("not-the-shared-secret-at-all", time.time(), "a wrong secret"),
                              (coturn.secret, time.time() - TTL - 60, "an expired credential")]:
        username, credential = turn_credential(secret, "relay", ttl=TTL, now=now)
        with pytest.raises(stun.TransactionFailed) as refused:
            await turn.create_turn_endpoint(_Inbox, server, username, credential)
        assert refused.value.response.attributes["ERROR-CODE"][0] == 401, what


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
async def test_a_session_picture_flows_through_coturn_with_the_credentials_the_bridge_hands_out(
        server: Server, session_world: dict[str, Any], live_factory: Any, coturn: Coturn) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    async with _serving_turn(server, (coturn.url,), coturn.secret) as base:
        sites: dict[str, Site] = {}
        try:
            for key in ("chair", "member"):
                live = await live_factory(people[key], connect=False)
                probe = Site(server, live, base_url=base)
                await probe.connect()
                config = await probe.call("media.config", {"meeting_id": mid})
                await probe.close()
                assert config["ok"], config
                # Like a site whose network lets nothing out but to the TURN server: relay candidates only.
                servers = [RTCIceServer(**s) for s in config["ice_servers"]]
                sites[key] = Site(server, live, base_url=base, configuration=RTCConfiguration(
                    iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY))
                await sites[key].connect()
            assert (await sites["chair"].publish(mid, level=200))["ok"]
            offer = await sites["member"].receive(mid)
            # The relay's own offer has a relay candidate from coturn, made with the relay's credentials.
            relayed = re.findall(r"a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+) typ relay", offer["offer"]["sdp"])
            assert relayed and all(int(port) != coturn.port for port in relayed), offer["offer"]["sdp"]
            await _until(lambda: len(sites["member"].frames[CHAIR]) >= 5, timeout=30)
            assert abs(sites["member"].frames[CHAIR][-1][1] - 200) <= 30, "the chair's picture"
        finally:
            for site in sites.values():
                await site.close()
    log = coturn.logged()
    for name in ("relay", str(people["chair"].id), str(people["member"].id)):
        assert re.search(rf"username=<\d+:{name}>", log), f"no allocation of {name} in coturn's log"
