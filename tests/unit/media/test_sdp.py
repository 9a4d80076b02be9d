"""The relay's check of a session description: a browser's real offer passes; every way of spoiling it
is refused with a message in plain words (never a Python error), before aiortc sees it."""

from __future__ import annotations

import re

import pytest

from media.sdp import MAX_BYTES, SdpError, check

# A Chromium offer of a camera and a microphone (trimmed of extensions and codecs it does not need here).
CHROMIUM_OFFER = "\r\n".join([
    "v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
    "a=extmap-allow-mixed", "a=msid-semantic: WMS stream",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126", "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:ZKz7", "a=ice-pwd:4WfrxjvEuqV1EfT0x6F6nqGk", "a=ice-options:trickle",
    "a=fingerprint:sha-256 " + ":".join(["7B"] * 32), "a=setup:actpass", "a=mid:0", "a=sendonly",
    "a=msid:stream audio", "a=rtcp-mux", "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1",
    "a=rtpmap:63 red/48000/2", "a=rtpmap:9 G722/8000", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:13 CN/8000", "a=rtpmap:110 telephone-event/48000", "a=rtpmap:126 telephone-event/8000",
    "a=ssrc:1001 cname:abc",
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97", "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0", "a=ice-ufrag:ZKz7",
    "a=ice-pwd:4WfrxjvEuqV1EfT0x6F6nqGk", "a=ice-options:trickle", "a=fingerprint:sha-256 " + ":".join(["7B"] * 32),
    "a=setup:actpass", "a=mid:1", "a=sendonly", "a=msid:stream video", "a=rtcp-mux", "a=rtcp-rsize",
    "a=rtpmap:96 VP8/90000", "a=rtcp-fb:96 nack pli", "a=rtpmap:97 rtx/90000", "a=fmtp:97 apt=96",
    "a=ssrc:2001 cname:abc", "",
])
PYTHON_INTERNALS = re.compile(r"[A-Z][a-z]+(Error|Exception)|Traceback|NoneType|invalid literal")


def _without(prefix: str) -> str:
    return "".join(line for line in CHROMIUM_OFFER.splitlines(keepends=True) if not line.startswith(prefix))


def test_a_browsers_offer_passes() -> None:
    check(CHROMIUM_OFFER)
    check(CHROMIUM_OFFER.replace("\r\n", "\n"), "answer")  # bare newlines are tolerated
    check(CHROMIUM_OFFER.replace("m=audio 9 ", "m=audio 0 ", 1).replace("a=rtpmap:111 opus/48000/2\r\n", ""))


@pytest.mark.parametrize(("spoiled", "says"), [
    ("", "not a session description"),
    ("hello", "not a session description"),
    ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n", "no audio or video"),
    (_without("a=fingerprint"), "no DTLS fingerprint"),
    (CHROMIUM_OFFER.replace(":".join(["7B"] * 32), "not-hex", 1), "DTLS fingerprint that is not"),
    (_without("a=ice-ufrag"), "no ICE credentials"),
    (_without("a=ice-pwd"), "no ICE credentials"),
    (CHROMIUM_OFFER[:CHROMIUM_OFFER.index("a=rtpmap:96")], "cut short"),
    (CHROMIUM_OFFER[:CHROMIUM_OFFER.index("a=rtpmap:96") + 12], "cut short"),
    (CHROMIUM_OFFER.replace("m=video 9 ", "m=video nine "), "port 'nine'"),
    (CHROMIUM_OFFER.replace("m=video 9 ", "m=video 70000 "), "port '70000'"),
    (CHROMIUM_OFFER.replace("SAVPF 96 97", "SAVPF 96 vp8"), "payload type that is not a number"),
    (CHROMIUM_OFFER.replace("SAVPF 96 97", "SAVPF 96 200"), "payload type that is not a number"),
    (CHROMIUM_OFFER.replace("m=video 9 UDP/TLS/RTP/SAVPF 96 97", "m=video 9"), "m=<media> <port>"),
    (CHROMIUM_OFFER.replace("UDP/TLS/RTP/SAVPF 96 97", "TCP/MSRP *"), "not RTP"),
    (CHROMIUM_OFFER + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n", "audio and video only"),
    (CHROMIUM_OFFER + "garbage\r\n", "not of the form x=value"),
    (CHROMIUM_OFFER + "a=x:\x00\r\n", "not of the form x=value"),
    (CHROMIUM_OFFER + "a=x-padding:" + "x" * MAX_BYTES + "\r\n", f"larger than {MAX_BYTES} bytes"),
    ("v=0\r\n" + "m=audio 0 RTP/AVP 0\r\n" * 200, "more than"),
])
def test_a_spoiled_description_is_refused_in_plain_words(spoiled: str, says: str) -> None:
    with pytest.raises(SdpError) as refused:
        check(spoiled)
    assert says in str(refused.value)
    assert not PYTHON_INTERNALS.search(str(refused.value))


def test_every_cut_of_an_offer_is_refused_or_whole() -> None:
    """An offer cut anywhere is refused with a message, or still a complete description up to a line end."""
    refused = 0
    for end in range(len(CHROMIUM_OFFER)):
        try:
            check(CHROMIUM_OFFER[:end])
        except SdpError as exc:
            assert not PYTHON_INTERNALS.search(str(exc))
            refused += 1
    assert refused >= len(CHROMIUM_OFFER) * 0.9
