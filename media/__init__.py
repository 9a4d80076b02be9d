"""The aiortc video relay for provincial bridge points.

Arrives with the video-bridge issue; the package exists so the distribution's layout is stable and
its import rules are checked from the start."""
