// Annotations made while the tablet is offline wait here (localStorage, per user) and are sent, in
// order, when the connection returns. Each carries its own client id, so one sent twice (the ack
// lost on the way) is stored once by the server.
const KEY = (userId) => `ecabinet.outbox.${userId}`;

function read(userId) {
  try {
    const items = JSON.parse(window.localStorage.getItem(KEY(userId)) || '[]');
    return Array.isArray(items) ? items : [];
  } catch {
    return [];
  }
}

function write(userId, items) {
  try { window.localStorage.setItem(KEY(userId), JSON.stringify(items)); } catch { /* storage full: kept in memory only */ }
}

/** A new id for an annotation, without crypto.randomUUID (absent outside secure contexts). */
export function clientId() {
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function pending(userId, documentId) {
  return read(userId).filter((item) => documentId === undefined || item.document_id === documentId);
}

export function enqueue(userId, payload) {
  write(userId, [...read(userId), payload]);
}

export function drop(userId, clientIdToDrop) {
  write(userId, read(userId).filter((item) => item.client_id !== clientIdToDrop));
}

/**
 * Sends what waits, oldest first, with `send(payload)` (a promise). Stops at the first failure that
 * means "not now" (offline, timeout); a refusal by the server (the page no longer exists, ...) drops
 * the item and is reported through `onRefused`. Resolves with the acks of the ones sent.
 */
export async function flush(userId, send, onRefused = () => {}) {
  const sent = [];
  for (const item of read(userId)) {
    try {
      sent.push(await send(item));
      drop(userId, item.client_id);
    } catch (err) {
      if (err && (err.code === 'offline' || err.code === 'timeout')) break;
      drop(userId, item.client_id);
      onRefused(item, err);
    }
  }
  return sent;
}
