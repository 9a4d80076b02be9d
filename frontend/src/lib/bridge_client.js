// The browser's side of the video bridge: publish this device's camera and microphone to the relay,
// and receive the floor and the chair (what the speaker queue decides, never what the site asks).
// The relay (aiortc) does not trickle ICE, so each description goes once gathering is complete.
import { api } from './api.js';
import { emitOn, mediaSocket, setMediaPath } from './socket.js';

const GATHER_TIMEOUT_MS = 3000;
export const SLOTS = ['floor:video', 'floor:audio', 'chair:video', 'chair:audio'];

function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener('icegatheringstatechange', check); resolve(); };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    pc.addEventListener('icegatheringstatechange', check);
    window.setTimeout(done, GATHER_TIMEOUT_MS);
  });
}

export class BridgeClient {
  constructor(meetingId, { onTrack, onStatus, controlRoom = false }) {
    this.meetingId = meetingId;
    this.controlRoom = controlRoom; // the staff's control room: receive every site, publish nothing
    this.onTrack = onTrack;
    this.onStatus = onStatus;
    this.socket = null;
    this.pcs = [];
    this.slots = SLOTS;
    this.stream = null;
    this.stopped = false;
    this.replaced = false; // another device of this account now sends this site's camera and microphone
    this.onConnect = () => { if ((this.stream || controlRoom) && !this.stopped) this.join().catch((err) => this.onStatus('failed', err)); };
    // The relay tells this connection when another device of the account took over its publication: this
    // device goes on receiving and does not publish again by itself (two devices would take turns for
    // ever); reloading the screen takes over again.
    this.onReplaced = (p) => {
      if (!p || p.meeting_id !== this.meetingId) return;
      this.replaced = true;
      if (this.publisher) { this.publisher.close(); this.pcs = this.pcs.filter((pc) => pc !== this.publisher); }
      this.publisher = null;
      this.onStatus('replaced');
    };
    // The bridge tells this connection when the media server it was on stopped (several Janus instances):
    // it joins again at once, on another instance, instead of waiting for its peer connections to fail.
    this.onMoved = (p) => {
      if (p && p.meeting_id === this.meetingId) this.rejoin();
    };
  }

  /** Joins with `stream` (the camera and microphone), and again by itself after every reconnection. */
  async start(stream = null) {
    this.stream = stream;
    if (!this.socket) {
      // Where the meeting's bridge signals (inside the web server, or the relay it is assigned to).
      try { setMediaPath((await api.bridgeRelay(this.meetingId)).media_path); } catch { /* the default path */ }
      this.socket = mediaSocket();
    }
    if (this.stopped) return;
    this.socket.on('connect', this.onConnect);
    this.socket.on('media.replaced', this.onReplaced);
    this.socket.on('media.moved', this.onMoved);
    if (!this.socket.connected) this.socket.connect();
    else await this.join();
  }

  async join() {
    this.close();
    this.onStatus('connecting');
    const meeting_id = this.meetingId;
    const config = await emitOn(this.socket, 'media.config', { meeting_id });
    // Each join asks again: a TURN server's credentials are this person's own and expire (ECABINET_TURN_TTL_SECONDS).
    const iceServers = config.ice_servers.map(({ urls, username, credential }) =>
      (username === undefined ? { urls } : { urls, username, credential }));
    if (this.stream && !this.replaced) {
      const pub = new RTCPeerConnection({ iceServers });
      this.pcs.push(pub);
      this.publisher = pub;
      this.stream.getTracks().forEach((track) => pub.addTransceiver(track, { direction: 'sendonly' }));
      await pub.setLocalDescription(await pub.createOffer());
      await gathered(pub);
      const published = await emitOn(this.socket, 'media.publish', { meeting_id, sdp: pub.localDescription.sdp });
      await pub.setRemoteDescription(published.answer);
    }

    const control_room = this.controlRoom;
    const received = await emitOn(this.socket, 'media.receive', { meeting_id, control_room });
    const slots = received.offer.slots || SLOTS;
    this.slots = slots;
    const sub = new RTCPeerConnection({ iceServers });
    this.pcs.push(sub);
    this.receiver = sub;
    sub.ontrack = (event) => {
      const index = sub.getTransceivers().indexOf(event.transceiver);
      this.onTrack(slots[index] || `slot${index}`, event.track);
    };
    let answered = false;
    const status = () => (this.replaced && sub.connectionState === 'connected' ? 'replaced' : sub.connectionState);
    sub.onconnectionstatechange = () => {
      if (answered) this.onStatus(status());
      // The media path broke while the signalling still works: join again, into the same state.
      if (sub.connectionState === 'failed' && !this.stopped && this.receiver === sub) {
        window.setTimeout(() => { if (!this.stopped) this.join().catch((err) => this.onStatus('failed', err)); }, 2000);
      }
    };
    await sub.setRemoteDescription(received.offer);
    await sub.setLocalDescription(await sub.createAnswer());
    await gathered(sub);
    await emitOn(this.socket, 'media.answer', { meeting_id, sdp: sub.localDescription.sdp, control_room });
    answered = true;
    // The connection may have come up while the answer's acknowledgement travelled.
    this.onStatus(sub.connectionState === 'connected' ? status() : 'joined');
  }

  /** What arrived: video frames decoded and audio bytes (in all and per slot, e.g. `slots['chair:audio']`),
   * and what this device sent. */
  async stats() {
    const out = { framesDecoded: 0, audioBytes: 0, framesSent: 0, packetsLost: 0, slots: {} };
    if (this.receiver) {
      const slotOf = {}; // the relay's offer has one m-line per slot, in the order of the slots
      this.receiver.getTransceivers().forEach((tr, index) => { slotOf[tr.receiver.track.id] = this.slots[index]; });
      (await this.receiver.getStats()).forEach((r) => {
        if (r.type !== 'inbound-rtp') return;
        const slot = slotOf[r.trackIdentifier];
        if (r.kind === 'video') out.framesDecoded += r.framesDecoded || 0;
        if (r.kind === 'audio') out.audioBytes += r.bytesReceived || 0;
        if (slot) out.slots[slot] = r.kind === 'video' ? r.framesDecoded || 0 : r.bytesReceived || 0;
        out.packetsLost += r.packetsLost || 0;
      });
    }
    if (this.publisher) {
      (await this.publisher.getStats()).forEach((r) => {
        if (r.type === 'outbound-rtp' && r.kind === 'video') out.framesSent += r.framesEncoded || 0;
      });
    }
    return out;
  }

  close() {
    this.pcs.forEach((pc) => pc.close());
    this.pcs = [];
    this.receiver = null;
    this.publisher = null;
  }

  /** The control room asks again (sites came or went): a new offer with one picture per site. */
  rejoin() {
    if (!this.stopped && this.socket && this.socket.connected) this.join().catch((err) => this.onStatus('failed', err));
  }

  stop() {
    this.stopped = true;
    if (this.socket) {
      this.socket.off('connect', this.onConnect);
      this.socket.off('media.replaced', this.onReplaced);
      this.socket.off('media.moved', this.onMoved);
      if (this.socket.connected) this.socket.emit('media.leave', { meeting_id: this.meetingId }, () => {});
    }
    this.close();
    if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
  }
}
