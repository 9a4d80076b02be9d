"""The aiortc relay for provincial bridge points: what a site publishes is received once and forwarded
as encoded frames (never decoded or re-encoded) to the sites that follow it (media/relay.py); the few
hooks into aiortc's internals this needs are in media/hooks.py.

Built so far: the forwarding core, tested with real aiortc peers. Still to come (the video-bridge
issue): signalling over Socket.IO namespace /media, floor control from the speaker queue, audio
mixing policy, metrics, `ecabinet relay`, and the bridge-point, tablet and control-room screens."""
