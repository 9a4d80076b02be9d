"""The bridge's behavioural tests through the real server with ECABINET_MEDIA_BACKEND=janus: the same
Socket.IO events, the same speaker queue, the same refusals, with two private Janus instances in a
network namespace of the test's own (tests/integration/media/janus_server.py) carrying the media
instead of the embedded aiortc relay. The tests are those of test_bridge.py, collected again here where
`server` is a server whose bridge uses Janus.

Not repeated here: the control room's bitrate and frame figures (test_the_secretariat_sees_the_relays_figures:
Janus keeps its own, in its Admin API, which e-Cabinet does not read yet: see docs/bridge.md)."""

from __future__ import annotations

from tests.integration.media.janus_server import janus, server  # noqa: F401 (this module's server: on Janus)
from tests.integration.media.test_bridge import (  # noqa: F401 (collected here again, against Janus)
    test_bad_signalling_gets_a_clear_error,
    test_the_control_room_sees_every_site_and_a_dropped_site_comes_back,
    test_the_speaker_queue_decides_what_every_site_receives,
)
