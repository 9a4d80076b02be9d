"""Video bridge benchmark: the relay's CPU per forwarded stream and the frames delivered, for 1, 8, 32
and 64 subscribers of one 640x480 30 fps VP8 stream, with this relay (media/relay.py: encoded frames
forwarded) and, in the same run, with aiortc's MediaRelay (decoded frames, one encoder per
subscriber) as the baseline, up to where it keeps up.

The relay runs in a process of its own, so its CPU time (utime + stime from /proc) is its alone. The
publisher sends a pre-encoded stream (a keyframe every second), so it costs almost nothing; the
subscribers count the encoded frames they receive without decoding them (media/hooks.py's tap), so
"frames delivered" measures the relay, not a decoder. Everything runs on 127.0.0.1.

With `--janus` (root, Debian's janus), the same streams through a private Janus VideoRoom in the same
run (media/janus.py; Janus in a network namespace of the bench's own, tests/support/janus.py): Janus's
process CPU per forwarded stream beside the relay's.

Latency, for the relay (in this process), Janus one instance, and Janus two instances with every receiver
on the instance the publishers are not on (media/janus_conference.py, forwarded between them): synthetic
cameras of distinguishable brightness (tests/integration/media/test_relay.py's MovingPicture) publish,
receivers decode. Floor switch: from the `route` calls that move the floor to the first decoded frame of
the new source, per receiver, over several switches. Join: from a site's asking for the offer to its first
decoded floor frame. p50/p99 of each (with few samples, p99 is about the largest).

    .venv/bin/python bench/media.py            # 1, 8, 32, 64 subscribers; MediaRelay 1 and 8
    .venv/bin/python bench/media.py --quick    # 1 and 8 subscribers, shorter windows (smoke)
    .venv/bin/python bench/media.py --janus    # and Janus at the same sizes, and the latencies of all three
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import av
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from media import hooks  # noqa: E402
from media.backend import MediaBackend  # noqa: E402
from media.relay import Relay  # noqa: E402

FPS, WIDTH, HEIGHT = 30, 640, 480
TICKS = os.sysconf("SC_CLK_TCK")


def encoded_stream(seconds: int = 10) -> list[av.Packet[Any]]:
    """A 640x480 VP8 stream at about 1 Mbit/s, a keyframe every second: moving noise, so frames are real-sized."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.time_base = fractions.Fraction(1, FPS)
    codec.bit_rate = 1_000_000
    codec.options = {"deadline": "realtime", "cpu-used": "8", "g": str(FPS), "lag-in-frames": "0"}
    rng = random.Random(7)
    # A scene of 8x8 blocks that scrolls: detail like a camera's, compressible like one.
    blocks = [[rng.randrange(40, 220) for _ in range(WIDTH // 8 * 2)] for _ in range(HEIGHT // 8)]
    packets = []
    for i in range(seconds * FPS):
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        shift = (i * 2) % (WIDTH // 8)
        rows = []
        for row in blocks:
            line = bytes(v for v in row[shift:shift + WIDTH // 8] for _ in range(8))
            rows.append(line * 8)
        frame.planes[0].update(b"".join(rows))
        frame.planes[1].update(b"\x80" * (WIDTH * HEIGHT // 4))
        frame.planes[2].update(b"\x80" * (WIDTH * HEIGHT // 4))
        frame.pts = i
        packets += codec.encode(frame)
    return packets


class PacketTrack(MediaStreamTrack):
    """A publisher that sends pre-encoded frames at 30 fps (aiortc only packetizes them)."""

    kind = "video"

    def __init__(self, packets: list[av.Packet[Any]]) -> None:
        super().__init__()
        self.packets, self.n, self.start = packets, 0, 0.0
        self.sent = 0

    async def recv(self) -> av.Packet[Any]:
        if not self.start:
            self.start = time.monotonic()
        due = self.start + self.n / FPS
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        source = self.packets[self.n % len(self.packets)]
        packet = av.Packet(bytes(source))
        packet.pts, packet.time_base = self.n * (90_000 // FPS), fractions.Fraction(1, 90_000)
        self.n += 1
        self.sent += 1
        return packet


# --- the relay process ------------------------------------------------------------------------------


async def serve_relay(mode: str, port: int) -> None:
    """JSON lines on a loopback TCP port: publish, subscribe, answer; `mode` is "ours" or "mediarelay"."""
    hooks.restrict_host_addresses(["127.0.0.1"])
    ours = Relay()
    from aiortc.contrib.media import MediaRelay
    baseline = MediaRelay()
    published: dict[str, Any] = {}
    pcs: dict[str, RTCPeerConnection] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            msg = json.loads(line)
            op, site = msg["op"], msg.get("site", "")
            if mode == "ours" and op == "publish":
                answer = await ours.publish(site, RTCSessionDescription(msg["sdp"], "offer"))
                out: dict[str, Any] = {"sdp": answer.sdp, "type": answer.type}
            elif mode == "ours" and op == "subscribe":
                offer = await ours.subscribe(site, (("main", "video"),))
                out = {"sdp": offer.sdp, "type": offer.type}
            elif mode == "ours" and op == "answer":
                await ours.answered(site, RTCSessionDescription(msg["sdp"], "answer"))
                ours.follow(site, msg["publisher"])
                out = {}
            elif op == "publish":
                pc = pcs[site] = RTCPeerConnection()
                pc.on("track", lambda track: published.__setitem__("video", track))
                await pc.setRemoteDescription(RTCSessionDescription(msg["sdp"], "offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                out = {"sdp": pc.localDescription.sdp, "type": "answer"}
            elif op == "subscribe":
                pc = pcs[site] = RTCPeerConnection()
                pc.addTransceiver(baseline.subscribe(published["video"], buffered=False), direction="sendonly")
                await pc.setLocalDescription(await pc.createOffer())
                out = {"sdp": pc.localDescription.sdp, "type": "offer"}
            else:
                await pcs[site].setRemoteDescription(RTCSessionDescription(msg["sdp"], "answer"))
                out = {}
            writer.write((json.dumps(out) + "\n").encode())
            await writer.drain()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


# --- the bench process ------------------------------------------------------------------------------


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def ask(self, **msg: Any) -> dict[str, Any]:
        self.writer.write((json.dumps(msg) + "\n").encode())
        await self.writer.drain()
        answer: dict[str, Any] = json.loads(await self.reader.readline())
        return answer


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class JanusConn:
    """The relay process's protocol, spoken to a JanusRoom in this process (Janus's CPU is its process's)."""

    def __init__(self, url: str) -> None:
        from media.janus import JanusRoom

        self.room = JanusRoom(url, 7000 + random.randrange(1000), video_codec="VP8")

    async def ask(self, **msg: Any) -> dict[str, Any]:
        site, op = msg["site"], msg["op"]
        if op == "publish":
            answer = await self.room.publish(site, RTCSessionDescription(msg["sdp"], "offer"), site=site)
            return {"sdp": answer.sdp}  # on the air once connected: `follow` switches the receivers then
        if op == "subscribe":
            offer = await self.room.subscribe(site, (("main", "video"),))
            return {"sdp": offer.sdp}
        await self.room.answered(site, RTCSessionDescription(msg["sdp"], "answer"))
        self.room.follow(site, msg["publisher"])
        return {}


async def run(mode: str, subscribers: int, packets: list[av.Packet[Any]], warmup: float, window: float,
              janus: Any = None) -> dict[str, Any]:
    if mode == "janus":
        return await run_janus(janus, subscribers, packets, warmup, window)
    port = 20000 + random.randrange(20000)
    proc = await asyncio.create_subprocess_exec(sys.executable, __file__, "--serve", mode, str(port),
                                                stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    await proc.stdout.readline()
    conn = Conn(*await asyncio.open_connection("127.0.0.1", port))
    try:
        return await measure(mode, conn, proc.pid, subscribers, packets, warmup, window)
    finally:
        conn.writer.close()
        proc.kill()
        await proc.wait()


async def run_janus(janus: Any, subscribers: int, packets: list[av.Packet[Any]], warmup: float, window: float
                    ) -> dict[str, Any]:
    conn = JanusConn(janus.url)
    try:
        return await measure("janus", conn, janus.proc.pid, subscribers, packets, warmup, window)
    finally:
        await conn.room.close()


async def measure(mode: str, conn: Any, pid: int, subscribers: int, packets: list[av.Packet[Any]], warmup: float,
                  window: float) -> dict[str, Any]:
    """One publisher, `subscribers` receivers of it; the CPU of process `pid` over `window` seconds."""
    pcs: list[RTCPeerConnection] = []
    counts = [0] * subscribers
    try:
        publisher = RTCPeerConnection()
        pcs.append(publisher)
        track = PacketTrack(packets)
        publisher.addTransceiver(track, direction="sendonly")
        await publisher.setLocalDescription(await publisher.createOffer())
        answer = await conn.ask(op="publish", site="pub", sdp=publisher.localDescription.sdp)
        await publisher.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await asyncio.sleep(1.0)
        for i in range(subscribers):
            pc = RTCPeerConnection()
            pcs.append(pc)

            def count(codec: str, frame: Any, i: int = i) -> None:
                counts[i] += 1

            pc.on("track", lambda t, pc=pc, count=count: hooks.tap(
                next(x.receiver for x in pc.getTransceivers() if x.receiver.track is t), count))
            offer = await conn.ask(op="subscribe", site=f"s{i}")
            await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            await conn.ask(op="answer", site=f"s{i}", sdp=pc.localDescription.sdp, publisher="pub")
        await asyncio.sleep(warmup)
        cpu0, sent0, got0, t0 = cpu_seconds(pid), track.sent, list(counts), time.monotonic()
        await asyncio.sleep(window)
        cpu1, sent1, got1, t1 = cpu_seconds(pid), track.sent, list(counts), time.monotonic()
        published = sent1 - sent0
        delivered = [b - a for a, b in zip(got0, got1, strict=True)]
        cpu = (cpu1 - cpu0) / (t1 - t0)
        return {"mode": mode, "subscribers": subscribers, "cpu": cpu, "cpu_per_subscriber": cpu / subscribers,
                "published": published, "delivered_min": min(delivered),
                "delivered_median": statistics.median(delivered), "delivered_ratio": min(delivered) / published}
    finally:
        for pc in pcs:
            await pc.close()


# --- latency: floor switch and join -----------------------------------------------------------------

LEVELS = {"a": 60, "b": 200}  # the two speakers' brightness, told apart in the decoded frames
FLOOR_ONLY = (("floor", "video"),)


class Receiver:
    """A site receiving the floor: every decoded frame's time and first luma byte."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.frames: list[tuple[float, int]] = []
        self.pc: RTCPeerConnection | None = None
        self.task: asyncio.Task[None] | None = None

    async def join(self, backend: MediaBackend, floor: str) -> None:
        from aiortc import RTCBundlePolicy, RTCConfiguration

        offer = await backend.subscribe(self.key, FLOOR_ONLY, owner=self.key, site=self.key)
        backend.route(self.key, "floor", floor)  # as the bridge does: routed at the offer, again at the answer
        pc = self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        pc.on("track", lambda track: setattr(self, "task", asyncio.ensure_future(self._read(track))))
        await pc.setRemoteDescription(offer)
        await pc.setLocalDescription(await pc.createAnswer())
        await backend.answered(self.key, pc.localDescription)
        backend.route(self.key, "floor", floor)

    async def _read(self, track: MediaStreamTrack) -> None:
        from aiortc.mediastreams import MediaStreamError

        try:
            while True:
                frame = await track.recv()
                self.frames.append((time.monotonic(), bytes(frame.planes[0])[0]))  # type: ignore[attr-defined]
        except MediaStreamError:
            return

    def first(self, site: str, since: float) -> float | None:
        """When the first frame of `site` at or after `since` was decoded."""
        return next((at for at, level in self.frames if at >= since and abs(level - LEVELS[site]) < 30), None)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.pc is not None:
            await self.pc.close()


async def _first_frames(receivers: list[Receiver], site: str, since: float, timeout: float = 10.0
                        ) -> list[float | None]:
    deadline = time.monotonic() + timeout
    while any(r.first(site, since) is None for r in receivers) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return [None if (at := r.first(site, since)) is None else at - since for r in receivers]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def latencies(name: str, backend: MediaBackend, receivers: int, switches: int, joins: int,
                    place: Any = None) -> dict[str, Any]:
    """Floor switches seen by `receivers` sites, then `joins` sites joining one after the other.
    `place(site, role)` puts a site on an instance first (Janus two instances), role "pub" or "sub"."""
    from tests.integration.media.test_relay import MovingPicture

    publishers: list[RTCPeerConnection] = []
    sites: list[Receiver] = []
    switched: list[float] = []
    joined: list[float] = []
    missed = 0
    try:
        for site, level in LEVELS.items():
            if place is not None:
                place(site, "pub")
            pc = RTCPeerConnection()
            publishers.append(pc)
            pc.addTransceiver(MovingPicture(level), direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            await pc.setRemoteDescription(await backend.publish(site, pc.localDescription, site=site))
        deadline = time.monotonic() + 20
        while not all((site, "video") in backend.sources for site in LEVELS):
            assert time.monotonic() < deadline, f"{name}: the publishers did not come on the air"
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        for i in range(receivers):
            if place is not None:
                place(f"r{i}", "sub")
            sites.append(Receiver(f"r{i}"))
            await sites[-1].join(backend, "a")
        await _first_frames(sites, "a", 0.0, timeout=30)
        floor = "a"
        for _ in range(switches):
            floor = "b" if floor == "a" else "a"
            await asyncio.sleep(1.0)  # the last switch settled; each speaker is on for a while
            since = time.monotonic()
            for each in sites:
                backend.route(each.key, "floor", floor)
            seen = await _first_frames(sites, floor, since)
            switched += [at for at in seen if at is not None]
            missed += sum(at is None for at in seen)
        for j in range(joins):
            if place is not None:
                place(f"j{j}", "sub")
            newcomer = Receiver(f"j{j}")
            since = time.monotonic()
            try:
                await newcomer.join(backend, floor)
                seen = await _first_frames([newcomer], floor, since)
            finally:
                await newcomer.close()
                await backend.leave(newcomer.key)
            joined += [at for at in seen if at is not None]
            missed += sum(at is None for at in seen)
        return {"backend": name, "receivers": receivers, "switches": len(switched), "joins": len(joined),
                "missed": missed,
                "switch_p50": percentile(switched, 0.5) if switched else math.nan,
                "switch_p99": percentile(switched, 0.99) if switched else math.nan,
                "join_p50": percentile(joined, 0.5) if joined else math.nan,
                "join_p99": percentile(joined, 0.99) if joined else math.nan}
    finally:
        for each in sites:
            await each.close()
        for pc in publishers:
            await pc.close()
        await backend.close()


async def all_latencies(args: argparse.Namespace, network: Any) -> list[dict[str, Any]]:
    """The relay, and with `network` (Janus instances) Janus one instance and two."""
    receivers, switches, joins = (4, 6, 5) if args.quick else (8, 20, 15)
    rows = [await latencies("this relay", Relay(video_codec="VP8"), receivers, switches, joins)]
    if network is not None:
        from media.janus import JanusRoom
        from media.janus_conference import JanusConference

        room = 800000 + random.randrange(100000)
        rows.append(await latencies("Janus, one instance", JanusRoom(network.instances[0].url, room,
                                                                      video_codec="VP8"),
                                    receivers, switches, joins))
        conference = JanusConference([each.url for each in network.instances], room + 1, video_codec="VP8")

        def place(site: str, role: str) -> None:  # publishers on the first, receivers on the second
            conference.placed[site] = conference.rooms[0 if role == "pub" else 1]

        rows.append(await latencies("Janus, two instances (receivers on the other)", conference, receivers,
                                    switches, joins, place))
    return rows


async def latency_only(args: argparse.Namespace) -> None:
    if not args.janus:
        print_latencies(await all_latencies(args, None))
        return
    import tempfile

    from tests.support.janus import janus_network

    with tempfile.TemporaryDirectory() as directory, janus_network(Path(directory), count=2) as network:
        delays = await all_latencies(args, network)
    print_latencies(delays)


def print_latencies(rows: list[dict[str, Any]]) -> None:
    print("\n| backend | receivers | floor switch p50 / p99 (ms) | switches seen | join to first floor frame "
          "p50 / p99 (ms) | joins | missed (10 s) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['receivers']} | {r['switch_p50'] * 1000:.0f} / {r['switch_p99'] * 1000:.0f} | "
              f"{r['switches']} | {r['join_p50'] * 1000:.0f} / {r['join_p99'] * 1000:.0f} | {r['joins']} | "
              f"{r['missed']} |")


async def main(args: argparse.Namespace) -> None:
    hooks.restrict_host_addresses(["127.0.0.1"])
    if args.latency_only:
        await latency_only(args)
        return
    packets = encoded_stream()
    size = statistics.mean(len(bytes(p)) for p in packets)
    print(f"stream: {len(packets)} frames, {size * 8 * FPS / 1e6:.2f} Mbit/s, keyframe every {FPS} frames",
          file=sys.stderr)
    sizes = [1, 8] if args.quick else [1, 8, 32, 64]
    baseline_sizes = [1] if args.quick else [1, 8]
    warmup, window = (2.0, 4.0) if args.quick else (3.0, 10.0)
    rows = []
    for n in sizes:
        rows.append(await run("ours", n, packets, warmup, window))
        print(f"  ours, {n} subscribers: {rows[-1]['cpu'] * 100:.0f}% of a core", file=sys.stderr)
    for n in baseline_sizes:
        rows.append(await run("mediarelay", n, packets, warmup, window))
        print(f"  MediaRelay, {n} subscribers: {rows[-1]['cpu'] * 100:.0f}% of a core", file=sys.stderr)
    if args.janus:
        import tempfile

        from tests.support.janus import janus_network

        with tempfile.TemporaryDirectory() as directory, janus_network(Path(directory), count=2) as network:
            for n in sizes:
                rows.append(await run("janus", n, packets, warmup, window, network.instances[0]))
                print(f"  Janus, {n} subscribers: {rows[-1]['cpu'] * 100:.0f}% of a core", file=sys.stderr)
            delays = await all_latencies(args, network)
        hooks.restrict_host_addresses(["127.0.0.1"])
    else:
        delays = await all_latencies(args, None)
    print("| relay | subscribers | CPU (% of one core) | per subscriber | frames published | delivered (min / median) "
          "| delivered |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        name = {"ours": "this relay", "mediarelay": "MediaRelay (baseline)", "janus": "Janus 1.1.2 VideoRoom"}
        print(f"| {name[r['mode']]} | {r['subscribers']} | "
              f"{r['cpu'] * 100:.1f} | {r['cpu_per_subscriber'] * 100:.2f} | {r['published']} | "
              f"{r['delivered_min']} / {r['delivered_median']:.0f} | {r['delivered_ratio'] * 100:.0f}% |")
    ours = {r["subscribers"]: r for r in rows if r["mode"] == "ours"}
    for r in rows:
        if r["mode"] == "mediarelay" and r["subscribers"] in ours:
            ratio = r["cpu_per_subscriber"] / max(ours[r["subscribers"]]["cpu_per_subscriber"], 1e-6)
            print(f"\nMediaRelay / this relay, CPU per subscriber at {r['subscribers']}: {ratio:.1f}x")
    januses = {r["subscribers"]: r for r in rows if r["mode"] == "janus"}
    if januses:
        low, n = min(januses), max(januses)
        # The cost of one more forwarded stream: the slope between the smallest and the largest run.
        per = {"relay": (ours[n]["cpu"] - ours[low]["cpu"]) / (n - low),
               "janus": (januses[n]["cpu"] - januses[low]["cpu"]) / (n - low)}
        print(f"\nCPU per forwarded stream ({low} to {n} subscribers): this relay {per['relay'] * 100:.2f}%, "
              f"Janus {per['janus'] * 100:.2f}% of a core")
        # 700 points: each receives the floor and the chair (2 video streams, audio ~10x cheaper).
        streams = 700 * 2
        print(f"700-point projection ({streams} forwarded video streams): this relay "
              f"{streams * per['relay']:.1f} cores, Janus {streams * per['janus']:.1f} cores")
    print_latencies(delays)
    top = ours[max(ours)]
    verdict = "PASS" if top["cpu"] < 0.5 and top["delivered_ratio"] >= 0.99 else "MISS"
    print(f"\ntarget: {max(ours)} subscribers under 50% of one core with every frame delivered: "
          f"{top['cpu'] * 100:.0f}%, {top['delivered_ratio'] * 100:.0f}% delivered ({verdict})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        asyncio.run(serve_relay(sys.argv[2], int(sys.argv[3])))
    else:
        parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("--quick", action="store_true", help="1 and 8 subscribers, short windows")
        parser.add_argument("--janus", action="store_true", help="Janus too (root, Debian's janus)")
        parser.add_argument("--latency-only", action="store_true", help="only the floor switch and join latencies")
        asyncio.run(main(parser.parse_args()))
