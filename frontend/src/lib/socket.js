// The one Socket.IO connection of this device (namespace "/", path /socket.io on the page's own
// origin). The HttpOnly session cookie authenticates it: a refused connection means "not logged in".
// It reconnects by itself; whoever listens to 'connect' (the live stores) joins its meetings again.
import { io } from '../../vendor/socket.io.js';

const SOCKET_PATH = new URL('../../socket.io', import.meta.url).pathname;
export const ACK_TIMEOUT_MS = 10_000;

/** A refused or failed event: `code` is the server's error code, or timeout / offline. */
export class LiveError extends Error {
  constructor(code, message, details = null) {
    super(message || code);
    this.name = 'LiveError';
    this.code = code;
    this.details = details;
  }
}

let socket = null;
let retryTimer = null;
/** Refusals the server answers when it cannot decide now (backend/db.py unavailable_error). */
const RETRY_REFUSALS = new Set(['database_unavailable', 'database_busy']);
const statusListeners = new Set();
let status = 'idle'; // idle | connecting | online | reconnecting | refused

function setStatus(next, detail) {
  status = next;
  statusListeners.forEach((fn) => fn(next, detail));
}

/** Server refusals at connect arrive as a message; the backend puts its error dict in it. */
function refusalCode(err) {
  const data = err && err.data;
  if (data && typeof data === 'object' && data.code) return data.code;
  const text = String((err && err.message) || '');
  const match = text.match(/['"]code['"]\s*:\s*['"]([a-z_]+)['"]/);
  return match ? match[1] : 'not_authenticated';
}

/** The device's connection, created on first use. */
export function liveSocket() {
  if (socket) return socket;
  socket = io({
    path: SOCKET_PATH,
    withCredentials: true,
    autoConnect: false,
    // WebSocket first (no sticky-session handshake over polling), long-polling if a proxy refuses it.
    transports: ['websocket', 'polling'],
    tryAllTransports: true,
    reconnection: true,
    // A dropped connection (a worker restarted, the Wi-Fi back) is retried within a second, and never
    // more than 2 s apart: a tablet in a meeting must not sit out a 5 s backoff (issue 16: resync in 5 s).
    reconnectionDelay: 500,
    reconnectionDelayMax: 2000,
    randomizationFactor: 0.5,
    timeout: 10_000,
  });
  socket.on('connect', () => setStatus('online'));
  socket.on('disconnect', (reason) => {
    // "io client disconnect" is our own close: nothing to reconnect.
    setStatus(reason === 'io client disconnect' ? 'idle' : 'reconnecting', reason);
    // The server dropped us (the session ended: logout elsewhere, a new password, a deactivated
    // account). socket.io does not retry that by itself: try once, and the server decides (a refusal
    // shows the login page).
    if (reason === 'io server disconnect') socket.connect();
  });
  socket.on('connect_error', (err) => {
    // socket.active is false when the server refused the connection (no automatic retry then).
    if (socket.active) {
      setStatus('reconnecting', err && err.message);
      return;
    }
    const code = refusalCode(err);
    if (RETRY_REFUSALS.has(code)) {
      // Refused for now, not for good (the database out of reach, or busy in a reconnect storm): the
      // server asks to try again, so try again soon, spread out, instead of showing "refused".
      setStatus('reconnecting', code);
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => {
        if (!socket.connected && !socket.active) socket.connect();
      }, 1000 + Math.random() * 1000);
    } else {
      setStatus('refused', code);
    }
  });
  return socket;
}

export function socketStatus() {
  return status;
}

export function onSocketStatus(fn) {
  statusListeners.add(fn);
  return () => statusListeners.delete(fn);
}

/** Connects if not connected (also after a refusal, e.g. once logged in again). */
export function connectSocket() {
  const s = liveSocket();
  if (!s.connected && !s.active) {
    setStatus('connecting');
    s.connect();
  } else if (!s.connected && status === 'idle') {
    setStatus('connecting');
  }
  return s;
}

export function disconnectSocket() {
  clearTimeout(retryTimer);
  if (socket) socket.disconnect();
}

// The header's bell keeps the connection for as long as someone is logged in: its pushes
// (notification.new) come to the person's own room, joined at connect, outside any meeting.
let holders = 0;

/** Keeps the connection up until the returned function is called. */
export function holdSocket() {
  holders += 1;
  connectSocket();
  let held = true;
  return () => {
    if (held) holders -= 1;
    held = false;
  };
}

export function socketHeld() {
  return holders > 0;
}

/**
 * Sends one event and resolves with the server's ack `{ok: true, ...}`; rejects with a LiveError
 * for `{ok: false, error}`, when no ack comes within the timeout, or when the device is offline.
 * Nothing is queued while offline: a vote tapped without a connection must not be sent minutes later.
 */
export function emitAck(event, payload, { timeout = ACK_TIMEOUT_MS } = {}) {
  const s = liveSocket();
  if (!s.connected) return Promise.reject(new LiveError('offline', 'not connected'));
  return new Promise((resolve, reject) => {
    s.timeout(timeout).emit(event, payload, (err, ack) => {
      if (err) {
        reject(new LiveError('timeout', `no answer to ${event}`));
      } else if (!ack || typeof ack !== 'object') {
        reject(new LiveError('internal', `bad answer to ${event}`));
      } else if (ack.ok) {
        resolve(ack);
      } else {
        const e = ack.error || {};
        reject(new LiveError(e.code || 'internal', e.message, e.details || null));
      }
    });
  });
}

/** The video bridge's signalling: namespace /media, on the session's connection (multiplexed) or, when
 * relays run as their own processes, at the path of the meeting's relay (GET /api/meetings/{id}/bridge/relay). */
let media = null;
let mediaPath = SOCKET_PATH;
export function setMediaPath(path) {
  if (!path) return;
  const resolved = new URL(`../..${path}`, import.meta.url).pathname;
  if (resolved === mediaPath) return;
  if (media) { media.disconnect(); media = null; } // another meeting, on another relay
  mediaPath = resolved;
}
export function mediaSocket() {
  if (media) return media;
  media = io('/media', {
    path: mediaPath, withCredentials: true, autoConnect: false, transports: ['websocket', 'polling'],
    tryAllTransports: true, reconnection: true, reconnectionDelay: 500, reconnectionDelayMax: 2000,
  });
  return media;
}

/** emitAck on another namespace's socket. */
export function emitOn(s, event, payload, { timeout = ACK_TIMEOUT_MS } = {}) {
  if (!s.connected) return Promise.reject(new LiveError('offline', 'not connected'));
  return new Promise((resolve, reject) => {
    s.timeout(timeout).emit(event, payload, (err, ack) => {
      if (err) reject(new LiveError('timeout', `no answer to ${event}`));
      else if (ack && ack.ok) resolve(ack);
      else {
        const e = (ack && ack.error) || {};
        reject(new LiveError(e.code || 'internal', e.message, e.details || null));
      }
    });
  });
}
