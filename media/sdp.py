"""A check of a site's session description before the relay applies it. aiortc's own parser accepts
much that can never connect (no DTLS fingerprint: the connection waits in "connecting" for good; a
port that is not a number) and refuses the rest with whatever Python error it meets. This check is
stricter than aiortc needs and says in plain words what is wrong (`SdpError`)."""

from __future__ import annotations

import re

MAX_BYTES = 30_000
"""The largest description accepted: a browser's offer of a camera and a microphone is about 6 kB; the
control room's answer grows by about 1 kB per site."""
MAX_MEDIA = 128
"""The most m-lines (a control room of 100 sites and some room to spare)."""

_LINE = re.compile(r"^[a-z]=[\x20-\x7e\t]*$")
_MEDIA = re.compile(r"^m=(?P<kind>\S+) (?P<port>\S+) (?P<proto>\S+)(?P<formats>( \S+)+)$")
_FINGERPRINT = re.compile(r"^a=fingerprint:(sha-1|sha-224|sha-256|sha-384|sha-512) [0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})+$",
                          re.IGNORECASE)
_RTPMAP = re.compile(r"^a=rtpmap:(\d+) \S+/\d+(/\d+)?$")


class SdpError(ValueError):
    """The description cannot be used; the message says why, for the person who sent it."""


def check(sdp: str, kind: str = "offer") -> None:
    """Raises SdpError unless `sdp` is a well-formed WebRTC description of audio and video only: size
    bounded, every line `x=...`, each m-line `m=<audio|video> <port> <RTP profile> <payload types>` with a
    numeric port and numeric payload types (the dynamic ones described by an a=rtpmap), and a DTLS
    fingerprint and ICE credentials for every m-line (in it or at session level)."""
    if len(sdp) > MAX_BYTES:
        raise SdpError(f"the {kind} is larger than {MAX_BYTES} bytes")
    lines = [line for line in sdp.replace("\r\n", "\n").split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0] != "v=0":
        raise SdpError(f"the {kind} is not a session description (it must start with v=0)")
    for number, line in enumerate(lines, 1):
        if not _LINE.match(line):
            raise SdpError(f"line {number} of the {kind} is not of the form x=value")
    starts = [i for i, line in enumerate(lines) if line.startswith("m=")]
    if not starts:
        raise SdpError(f"the {kind} has no audio or video (no m= line)")
    if len(starts) > MAX_MEDIA:
        raise SdpError(f"the {kind} has more than {MAX_MEDIA} m= lines")
    session = lines[:starts[0]]
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(lines)
        _check_media(lines[start:end], session, index + 1, kind)


def _check_media(section: list[str], session: list[str], number: int, kind: str) -> None:
    where = f"m= line {number} of the {kind}"
    found = _MEDIA.match(section[0])
    if found is None:
        raise SdpError(f"{where} is not of the form m=<media> <port> <protocol> <formats>")
    if found["kind"] not in ("audio", "video"):
        raise SdpError(f"{where} is {found['kind']}: the bridge carries audio and video only")
    port = found["port"]
    if not port.isdigit() or int(port) > 65535:
        raise SdpError(f"{where} has the port {port[:20]!r}: a port is a number from 0 to 65535")
    if "RTP" not in found["proto"]:
        raise SdpError(f"{where} is not RTP")
    formats = found["formats"].split()
    if not all(f.isdigit() and int(f) <= 127 for f in formats):
        raise SdpError(f"{where} has a payload type that is not a number from 0 to 127")
    if int(port) == 0:  # a rejected or stopped m-line: nothing more is needed
        return
    mapped = {m[1] for line in section if (m := _RTPMAP.match(line))}
    missing = [f for f in formats if int(f) >= 96 and f not in mapped]
    if missing:
        raise SdpError(f"{where} names payload type {missing[0]} without describing it (a=rtpmap): "
                       "is the description cut short?")
    attributes = section[1:] + session
    fingerprints = [line for line in attributes if line.startswith("a=fingerprint:")]
    if not fingerprints:
        raise SdpError(f"{where} has no DTLS fingerprint (a=fingerprint): the media could not be encrypted")
    if not all(_FINGERPRINT.match(line) for line in fingerprints):
        raise SdpError(f"{where} has a DTLS fingerprint that is not <hash> <hex:hex:...>")
    for name in ("ice-ufrag", "ice-pwd"):
        if not any(line.startswith(f"a={name}:") and len(line) > len(name) + 3 for line in attributes):
            raise SdpError(f"{where} has no ICE credentials (a={name})")
