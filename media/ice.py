"""The STUN and TURN servers a peer connection of the bridge is given, with time-limited TURN credentials
(the TURN REST scheme of draft-uberti-behave-turn-rest, coturn's `use-auth-secret`): the TURN server
and e-Cabinet share a secret, and each person gets the username `<expiry unix time>:<name>` with the
credential base64(HMAC-SHA1(secret, username)). The TURN server recomputes the credential from the
username, so nothing is stored or sent between the two, and a credential copied out of a tablet stops
opening allocations at its expiry (an allocation already made keeps running: coturn checks the expiry
when it is made).

STUN needs no credential: a `stun:` URL goes out bare."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

SCHEMES = ("stun", "turn", "turns")
_URL = re.compile(r"^(?P<scheme>stun|turns?):(?P<host>[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?"
                  r"(?:\?transport=(?P<transport>udp|tcp))?$")


@dataclass(frozen=True)
class IceServer:
    """One STUN or TURN server as an RTCPeerConnection takes it (browser or aiortc)."""

    urls: str
    """Its URL: `stun:host[:port]`, `turn:host[:port][?transport=udp|tcp]` or `turns:...`."""
    username: str | None = None
    """For TURN: `<expiry unix time>:<name>`; None for STUN."""
    credential: str | None = None
    """For TURN: base64(HMAC-SHA1(secret, username)); None for STUN."""

    def as_dict(self) -> dict[str, str]:
        """`{urls, username?, credential?}`, what a browser's RTCIceServer is (nothing for what is None)."""
        out = {"urls": self.urls}
        if self.username is not None and self.credential is not None:
            out.update(username=self.username, credential=self.credential)
        return out


def check_url(url: str) -> str:
    """`url` if it is a STUN or TURN URL a browser and aiortc accept; ValueError saying what is wrong if not
    (an http:// address, a missing scheme, a transport on a STUN URL, a port out of range). The host is a
    name or an IPv4 address: aiortc cannot read an IPv6 literal (`[::1]`)."""
    match = _URL.match(url)
    if match is None:
        scheme = url.split(":", 1)[0] if ":" in url else ""
        if scheme not in SCHEMES:
            raise ValueError(f"{url!r} is not a STUN or TURN URL (it must start with stun:, turn: or turns:)")
        raise ValueError(f"{url!r} is not of the form {scheme}:host[:port]"
                         + ("" if scheme == "stun" else "[?transport=udp|tcp]")
                         + " (host: a name or an IPv4 address)")
    if match["scheme"] == "stun" and match["transport"]:
        raise ValueError(f"{url!r}: a STUN URL takes no transport")
    if match["port"] and not 0 < int(match["port"]) < 65536:
        raise ValueError(f"{url!r}: the port must be 1 to 65535")
    return url


def is_turn(url: str) -> bool:
    return url.startswith(("turn:", "turns:"))


def turn_credential(secret: str, name: str, *, ttl: int, now: float) -> tuple[str, str]:
    """(username, credential) for `name` (a user id, or `relay`), valid until `now + ttl` (Unix seconds)."""
    if ":" in name:  # the TURN server splits the username at its first colon: the expiry comes first
        raise ValueError(f"a TURN name may not hold ':', not {name!r}")
    username = f"{int(now) + ttl}:{name}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers(urls: tuple[str, ...] | list[str], *, secret: str, name: str, ttl: int, now: float
                ) -> list[IceServer]:
    """One server per URL; each TURN one with `name`'s credential when there is a secret (one credential
    for all: they share the secret). Without a secret, TURN URLs go out bare, as before (a TURN server
    that wants no credential, or one configured outside e-Cabinet)."""
    credential = turn_credential(secret, name, ttl=ttl, now=now) if secret else None
    out = []
    for url in urls:
        if credential is not None and is_turn(url):
            out.append(IceServer(url, *credential))
        else:
            out.append(IceServer(url))
    return out
