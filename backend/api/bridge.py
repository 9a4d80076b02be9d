"""The video bridge's figures for the secretariat and for monitoring (per site: connections, bitrate,
packet loss, round trip, frames)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from backend.api.routing import Call, Permission, api
from backend.domain.meeting_states import Action
from backend.exceptions import NotFound
from backend.services import relays
from backend.services.bridge import Bridge

BRIDGE = "/api/meetings/{meeting_id:int}/bridge"


def _bridge(call: Call) -> Bridge:
    bridge = call.request.app.state.live.bridge
    if not isinstance(bridge, Bridge):
        raise NotFound("this process runs no relay", code="no_relay")
    return bridge


@api.route("GET", BRIDGE, summary="The bridge now: every site's connections, bitrate, loss, round trip and frames",
           permission=Permission.meeting(Action.WATCH_SITES), tag="bridge", response=dict[str, Any])
async def bridge_state(call: Call) -> dict[str, Any]:
    return await _bridge(call).state(call.user, call.path["meeting_id"])


@api.route("GET", BRIDGE + "/relay", summary="Where a site joins the meeting's video bridge (its relay)",
           permission=Permission.meeting(Action.JOIN_BRIDGE), tag="bridge", response=dict[str, Any])
async def bridge_relay(call: Call) -> dict[str, Any]:
    return await relays.route(call.db, call.settings, call.user, call.path["meeting_id"])


@api.route("GET", BRIDGE + "/metrics", summary="The same figures in the Prometheus text format",
           permission=Permission.meeting(Action.WATCH_SITES), tag="bridge", produces="text/plain")
async def bridge_metrics(call: Call) -> Response:
    meeting_id = call.path["meeting_id"]
    state = await _bridge(call).state(call.user, meeting_id)
    lines = []
    for name, key, what in (("ecabinet_bridge_bitrate_kbps", "bitrate_kbps", "bitrate the site sends, kbit/s"),
                            ("ecabinet_bridge_packets_lost", "packets_lost", "packets the site sent that were lost"),
                            ("ecabinet_bridge_rtt_ms", "rtt_ms", "round-trip time to the site, ms"),
                            ("ecabinet_bridge_frames_forwarded", "frames_forwarded", "frames forwarded to the site"),
                            ("ecabinet_bridge_frames_dropped", "frames_dropped", "frames dropped for a slow site")):
        lines += [f"# HELP {name} {what}", f"# TYPE {name} gauge"]
        for site in state["sites"]:
            if site[key] is not None:
                lines.append(f'{name}{{meeting="{meeting_id}",site="{site["site"]}"}} {site[key]}')
    lines += ["# HELP ecabinet_bridge_connected 1 when the site's connection is up",
              "# TYPE ecabinet_bridge_connected gauge"]
    for site in state["sites"]:
        up = int(site["publishing"] == "connected" or site["receiving"] == "connected")
        lines.append(f'ecabinet_bridge_connected{{meeting="{meeting_id}",site="{site["site"]}"}} {up}')
    return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
