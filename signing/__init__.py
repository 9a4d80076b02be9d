"""PDF rendering of resolutions and minutes, PAdES signing and verification (pyHanko).

Arrives with the digital-signatures issue; the package exists so the distribution's layout is
stable and its import rules are checked from the start."""
