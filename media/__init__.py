"""The aiortc relay for provincial bridge points: what a site publishes is received once and forwarded
as encoded frames (never decoded or re-encoded) to the sites that follow it (media/relay.py); every
peer connection belongs to the signalling connection that asked for it. A site's session description
is checked before the relay applies it (media/sdp.py); the few hooks into aiortc's internals the relay
needs are in media/hooks.py. The signalling (Socket.IO namespace /media) and the floor rules live in
the backend (backend/realtime/media.py, backend/services/bridge.py)."""
