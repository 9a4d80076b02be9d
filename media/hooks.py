"""The only place that reaches into aiortc's private internals (aiortc is pinned in pyproject.toml).

aiortc has a public API for sending encoded media (a track whose `recv()` returns an `av.Packet` is
only packetized, never re-encoded) but none for receiving it: an `RTCRtpReceiver` reassembles each
encoded frame in its jitter buffer and hands it to a decoder thread through a private queue. A
forwarding relay must take the encoded frames there, before any decoding, and must pass keyframe
requests (PLI/FIR) from its subscribers to the publisher, which aiortc would answer by asking its own
encoder for a keyframe. The four hooks below do exactly that; `check()` fails loudly when an aiortc
upgrade moves what they rely on (the tests call it).

- `tap(receiver, sink)`: replaces the receiver's decoder queue (`_RTCRtpReceiver__decoder_queue`) by
  one that gives every reassembled frame to `sink` and decodes nothing. Must run before the receiver
  starts (in the peer connection's "track" event), since the decoder thread takes the queue then.
- `request_keyframe(receiver)`: sends a PLI to the publisher (`RTCRtpReceiver._send_rtcp_pli`).
- `on_keyframe_request(sender, callback)`: replaces `RTCRtpSender._send_keyframe`, which aiortc calls
  when a subscriber sends PLI or FIR.
- `restrict_host_addresses(addresses)`: the local addresses aioice gathers host candidates on
  (`aioice.ice.get_host_addresses`); loopback for tests, the media network's address in production.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Callable
from typing import Any

import aioice.ice
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.jitterbuffer import JitterFrame

_QUEUE = "_RTCRtpReceiver__decoder_queue"
_STARTED = "_RTCRtpReceiver__started"

FrameSink = Callable[[str, JitterFrame], None]
"""Called on the event loop with the codec's name (e.g. "VP8", "opus") and the reassembled frame."""


class HookError(RuntimeError):
    """aiortc no longer has what the relay relies on: pin the version that does, or adapt media/hooks.py."""


class _TapQueue(queue.Queue):  # type: ignore[type-arg]
    """Stands in for the decoder queue: frames go to the sink; only the end marker reaches the thread."""

    def __init__(self, sink: FrameSink, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.sink, self.loop = sink, loop

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:  # the receiver stops: let the (idle) decoder thread end
            super().put(None, block, timeout)
            return
        codec, frame = item
        self.sink(codec.name, frame)


def check() -> None:
    """Raises HookError when aiortc's internals are not what the hooks expect."""
    probe = RTCRtpReceiver.__init__
    if _QUEUE not in probe.__code__.co_names and "__decoder_queue" not in probe.__code__.co_names:
        raise HookError("RTCRtpReceiver has no private decoder queue any more")
    for owner, name in ((RTCRtpReceiver, "_send_rtcp_pli"), (RTCRtpSender, "_send_keyframe")):
        if not callable(getattr(owner, name, None)):
            raise HookError(f"{owner.__name__}.{name} is gone")
    if not callable(getattr(aioice.ice, "get_host_addresses", None)):
        raise HookError("aioice.ice.get_host_addresses is gone")


def tap(receiver: RTCRtpReceiver, sink: FrameSink) -> None:
    if getattr(receiver, _STARTED, False):
        raise HookError("tap the receiver before it starts (in the 'track' event)")
    if not isinstance(getattr(receiver, _QUEUE, None), queue.Queue):
        raise HookError("RTCRtpReceiver has no private decoder queue any more")
    setattr(receiver, _QUEUE, _TapQueue(sink, asyncio.get_running_loop()))


async def request_keyframe(receiver: RTCRtpReceiver, ssrc: int) -> None:
    await receiver._send_rtcp_pli(ssrc)


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    sender._send_keyframe = callback  # type: ignore[method-assign]


def restrict_host_addresses(addresses: list[str]) -> None:
    """Host candidates only on `addresses` (empty: aioice's own choice, every interface but loopback)."""
    original = getattr(aioice.ice, "_ecabinet_original_get_host_addresses", aioice.ice.get_host_addresses)
    aioice.ice._ecabinet_original_get_host_addresses = original  # type: ignore[attr-defined]
    if not addresses:
        aioice.ice.get_host_addresses = original
        return
    chosen = list(addresses)

    def only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = only
