// One live store per meeting: filled by `meeting.join` (on every connect and reconnect, so a tablet
// that lost its connection never shows a stale state) and kept current by the server's pushes.
// Views only read it (useLive) and send actions (store.send); they never change it themselves.
import { useEffect, useState } from './preact.js';
import { api } from './api.js';
import { openText, sealText } from './device.js';
import { refreshOffline } from './offline.js';
import {
  LiveError, connectSocket, disconnectSocket, emitAck, liveSocket, onSocketStatus, socketHeld, socketStatus,
} from './socket.js';

const PUSHES = [
  'meeting.changed', 'agenda.changed', 'presenter.changed', 'presence.changed', 'presence.roster',
  'attendance.changed', 'attendance.roster',
  'speakers.changed', 'poll.changed', 'poll.progress', 'poll.closed',
  // This person's participation changed (removed, another role): the server has already taken the
  // socket out of the rooms it may no longer be in; join again for what the new role may see.
  'meeting.access_changed',
];
const RECEIPT_PREFIX = 'ecabinet.ballot';
const NO_BALLOT = Object.freeze({ voted: false, choice: null });

const stores = new Map();

/**
 * The receipts of the secret ballots this user cast on this device: to check that each was counted and
 * to change the vote. Never the choice. In this page's memory, and in localStorage only encrypted with
 * the device's store key (lib/device.js), which the server gives only to a live session of this device:
 * whoever picks the tablet up cannot read them, and a revoked device can never decrypt them again.
 */
const receipts = new Map(); // `${userId}.${pollId}` -> receipt

export function storedBallot(userId, pollId) {
  const receipt = receipts.get(`${userId}.${pollId}`);
  return receipt ? { receipt } : null;
}

async function keepBallot(userId, pollId, receipt) {
  receipts.set(`${userId}.${pollId}`, receipt);
  try {
    const sealed = await sealText(receipt);
    if (sealed) window.localStorage.setItem(`${RECEIPT_PREFIX}.${userId}.${pollId}`, JSON.stringify(sealed));
  } catch { /* storage full or no key: kept in memory only */ }
}

/** Reads this user's kept receipts back (once the store key is loaded); what cannot be opened goes. */
export async function loadBallots(userId) {
  const prefix = `${RECEIPT_PREFIX}.${userId}.`;
  const keys = [];
  try {
    for (let i = 0; i < window.localStorage.length; i += 1) {
      const key = window.localStorage.key(i);
      if (key && key.startsWith(prefix)) keys.push(key);
    }
  } catch { return; }
  for (const key of keys) {
    let receipt = null;
    try { receipt = await openText(JSON.parse(window.localStorage.getItem(key) || 'null')); } catch { receipt = null; }
    if (receipt) receipts.set(`${userId}.${key.slice(prefix.length)}`, receipt);
    else window.localStorage.removeItem(key); // an older clear-text receipt, or another key's
  }
}

/** Forgets the receipts in memory, but those of `keepUserId` (localStorage: lib/device.js forgetUser). */
export function forgetBallots(keepUserId = null) {
  for (const key of [...receipts.keys()]) {
    if (keepUserId === null || !key.startsWith(`${keepUserId}.`)) receipts.delete(key);
  }
}

function upsertPoll(polls, poll) {
  const index = polls.findIndex((p) => p.id === poll.id);
  if (index === -1) return [...polls, { ...poll, mine: NO_BALLOT }];
  const next = polls.slice();
  next[index] = { ...poll, mine: polls[index].mine || NO_BALLOT };
  return next;
}

/** Applies one server push to the state (pure: returns a new state). */
export function applyPush(state, event, data) {
  switch (event) {
    case 'meeting.changed':
      // The quorum comes with the news (at the start: everyone already here checked in), so every screen
      // shows the same count at once.
      return {
        ...state, meeting: { ...state.meeting, status: data.status }, ...(data.quorum ? { quorum: data.quorum } : {}),
      };
    case 'agenda.changed':
      return {
        ...state,
        agenda: data.agenda,
        presenter: data.presenter,
        speakers: state.speakers.item_id === data.current_item_id ? state.speakers
          : { item_id: data.current_item_id, turns: [] },
      };
    case 'presenter.changed':
      return { ...state, presenter: { item_id: data.item_id, document_id: data.document_id, page: data.page } };
    // Everyone hears the counts; the staff also get the lists (the roster events).
    case 'presence.changed':
      return { ...state, presence: { ...state.presence, count: data.count } };
    case 'presence.roster':
      return { ...state, presence: { online: data.online, count: data.online.length } };
    case 'attendance.changed':
      return { ...state, quorum: data.quorum };
    case 'attendance.roster':
      return { ...state, attendance: data.attendance };
    case 'speakers.changed':
      return { ...state, speakers: { item_id: data.item_id, turns: data.turns } };
    case 'poll.changed':
    case 'poll.closed':
      return { ...state, polls: upsertPoll(state.polls, data) };
    case 'poll.progress': {
      const polls = state.polls.map((p) => (p.id !== data.poll_id || p.status !== 'open' ? p : {
        ...p, voted: data.voted, entitled: data.entitled, ...(data.counts ? { counts: data.counts } : {}),
      }));
      return { ...state, polls };
    }
    default:
      return state;
  }
}

class LiveStore {
  constructor(meetingId) {
    this.meetingId = meetingId;
    this.users = 0;
    this.running = false;
    this.listeners = new Set();
    this.snapshot = {
      connection: 'connecting', // connecting | online | reconnecting | refused
      state: null, // the state from meeting.join, kept current by pushes
      error: null, // a refused join (LiveError)
      skewMs: 0, // server clock minus device clock
      syncedAt: null,
    };
    this.joining = null;
    this.buffer = null; // pushes that arrive while a join is under way, replayed after it
    this.handlers = PUSHES.map((event) => [event, (data) => this.onPush(event, data)]);
    this.onConnect = () => this.join();
    // A new version (or a document made Mật) replaces what this tablet keeps for reading offline.
    this.onDocuments = (data) => { if (data && data.meeting_id === this.meetingId) refreshOffline(this.meetingId); };
    this.onVisible = () => {
      if (document.visibilityState === 'visible') this.refresh();
    };
  }

  set(changes) {
    this.snapshot = { ...this.snapshot, ...changes };
    this.listeners.forEach((fn) => fn(this.snapshot));
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  start() {
    this.running = true;
    const socket = liveSocket();
    this.handlers.forEach(([event, fn]) => socket.on(event, fn));
    socket.on('connect', this.onConnect);
    socket.on('documents.changed', this.onDocuments);
    this.offStatus = onSocketStatus((status, detail) => this.onStatus(status, detail));
    document.addEventListener('visibilitychange', this.onVisible);
    connectSocket();
    if (socket.connected) this.join();
    else this.onStatus(socketStatus());
  }

  stop() {
    this.running = false;
    const socket = liveSocket();
    this.handlers.forEach(([event, fn]) => socket.off(event, fn));
    socket.off('connect', this.onConnect);
    socket.off('documents.changed', this.onDocuments);
    if (this.offStatus) this.offStatus();
    document.removeEventListener('visibilitychange', this.onVisible);
    if (socket.connected) emitAck('meeting.leave', { meeting_id: this.meetingId }).catch(() => {});
  }

  onStatus(status, detail) {
    // 'online' is not shown on connect but once meeting.join has answered (onConnect): only then is
    // the state current.
    if (status === 'refused') {
      this.set({ connection: 'refused', error: new LiveError(detail || 'not_authenticated', 'refused') });
      // Most likely the session has ended: asking who is logged in sends the person to the login page.
      api.me().catch(() => {});
    } else if (status === 'reconnecting' || status === 'connecting') {
      this.set({ connection: this.snapshot.state ? 'reconnecting' : 'connecting' });
    }
  }

  onPush(event, data) {
    if (!data || data.meeting_id !== this.meetingId) return;
    if (this.buffer) {
      this.buffer.push([event, data]);
      return;
    }
    if (!this.snapshot.state) return;
    this.set({ state: applyPush(this.snapshot.state, event, data) });
    // A change of state (started, closed) changes what everyone may do and who is checked in:
    // join again for the full picture (in a running session that also checks this tablet in).
    if (event === 'meeting.changed' || event === 'meeting.access_changed') this.join();
  }

  /** meeting.join: enter the room and replace the whole state with the server's. */
  join() {
    if (this.joining) return this.joining;
    this.buffer = [];
    const started = Date.now();
    this.joining = emitAck('meeting.join', { meeting_id: this.meetingId })
      .then((ack) => {
        // Back after a lost connection: documents may have changed meanwhile.
        if (this.snapshot.state) refreshOffline(this.meetingId);
        this.replace(ack.state, started);
        return ack.state;
      })
      .catch((err) => {
        this.buffer = null;
        if (err.code === 'offline' || err.code === 'timeout') {
          this.set({ connection: this.snapshot.state ? 'reconnecting' : 'connecting' });
          if (err.code === 'timeout') window.setTimeout(() => this.refresh(), 2000);
        } else {
          this.set({ connection: 'online', error: err });
        }
        return null;
      })
      .finally(() => { this.joining = null; });
    return this.joining;
  }

  replace(state, started) {
    const now = Date.now();
    const server = Date.parse(state.server_time);
    // The server read its clock about half-way through the round trip.
    const skewMs = Number.isNaN(server) ? 0 : server - (started + now) / 2;
    let next = state;
    const pending = this.buffer || [];
    this.buffer = null;
    pending.forEach(([event, data]) => { next = applyPush(next, event, data); });
    this.set({ connection: 'online', state: next, error: null, skewMs, syncedAt: now });
  }

  /** After the tablet wakes up: a fresh state if connected, else let the socket reconnect. */
  refresh() {
    const socket = liveSocket();
    if (socket.connected) this.join();
    else connectSocket();
  }

  /** Sends an action for this meeting; resolves with the ack, rejects with a LiveError. */
  send(event, payload = {}) {
    return emitAck(event, { meeting_id: this.meetingId, ...payload });
  }

  /** Sends a poll event (they name the poll, not the meeting). */
  sendPoll(event, payload) {
    return emitAck(event, payload);
  }

  /** Casts a ballot. A secret poll's receipt is kept on this device and sent back to change the vote. */
  async vote(poll, choice) {
    const me = this.snapshot.state.me;
    const kept = poll.secret ? storedBallot(me.user_id, poll.id) : null;
    const payload = { poll_id: poll.id, choice };
    if (kept && poll.mine && poll.mine.voted) payload.receipt = kept.receipt;
    const ack = await emitAck('vote.cast', payload);
    if (ack.receipt) await keepBallot(me.user_id, poll.id, ack.receipt);
    const state = this.snapshot.state;
    if (state) {
      const polls = state.polls.map((p) => (p.id !== poll.id ? p : {
        ...p,
        mine: { voted: true, choice: poll.secret ? null : choice },
        voted: p.mine && p.mine.voted ? p.voted : p.voted + 1, // poll.progress follows with the real count
      }));
      this.set({ state: { ...state, polls } });
    }
    return ack;
  }

  /** The server's clock now, for countdowns (corrected for the device's clock skew). */
  serverNow() {
    return Date.now() + this.snapshot.skewMs;
  }
}

/** The store of one meeting, shared by the views that show it; released when the last one leaves. */
export function acquireLive(meetingId) {
  let store = stores.get(meetingId);
  if (!store) {
    store = new LiveStore(meetingId);
    stores.set(meetingId, store);
  }
  store.users += 1;
  if (!store.running) store.start();
  return store;
}

export function releaseLive(store) {
  store.users -= 1;
  if (store.users > 0) return;
  // Wait a moment: switching between the tablet view and the console keeps the same store.
  window.setTimeout(() => {
    if (store.users > 0 || !store.running) return;
    store.stop();
    stores.delete(store.meetingId);
    if (stores.size === 0 && !socketHeld()) disconnectSocket();
  }, 1500);
}

/** Hook: the store of a meeting and its current snapshot (re-renders on every change). Every view that
 * needs the meeting's room (its pushes) uses the store instead of joining by itself: the store leaves
 * the room once its last user has gone, and a view that joined on its own would be taken out with it. */
export function useLive(meetingId) {
  const [store, setStore] = useState(null);
  const [snapshot, setSnapshot] = useState(null);
  useEffect(() => {
    if (!meetingId) return undefined; // not known yet (the viewer learns it with the document)
    const s = acquireLive(meetingId);
    setStore(s);
    setSnapshot(s.snapshot);
    const off = s.subscribe(setSnapshot);
    return () => {
      off();
      releaseLive(s);
    };
  }, [meetingId]);
  return [store, snapshot];
}
