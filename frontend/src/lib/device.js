// What this tablet keeps, and how it lets go of it (docs/security-notes/devices.md lists every store):
// - expiry: each answer from the server is a contact (kept in localStorage `ecabinet.contact`, with the
//   server's `offline_hours`); at start, a tablet whose last contact is older than that erases its
//   offline meeting data by itself, network or not (expireIfStale);
// - wipe: a device reported lost is refused with `device_revoked` (REST, or the socket's connect);
//   then everything this origin stored goes (Cache Storage, IndexedDB, localStorage, sessionStorage,
//   the service worker) and the server is told (wipeDevice);
// - per user: logout, and a login of someone else, erase what belonged to the previous user (forgetUser);
// - the store key: what must stay on the tablet between visits (secret-ballot receipts) is encrypted
//   with a key the server derives for this device and gives only to its live session (sealText/openText).
import { api, onContact, onDeviceRevoked, request } from './api.js';
import { onSocketStatus } from './socket.js';

const CONTACT_KEY = 'ecabinet.contact';
const OUTBOX_PREFIX = 'ecabinet.outbox.';
const BALLOT_PREFIX = 'ecabinet.ballot.';
const APP_CACHE_PREFIX = 'ecabinet-app';
const HOUR_MS = 3600 * 1000;
const DEFAULT_HOURS = 72;
const CONTACT_EVERY_MS = 60 * 1000; // a contact is written at most once a minute

let offlineHours = DEFAULT_HOURS;
let lastNoted = 0;
let storeKey = null; // CryptoKey while someone is logged in on a device that has one
let wiping = null;
const wipedListeners = new Set();

function readJson(storage, key) {
  try {
    return JSON.parse(storage.getItem(key) || 'null');
  } catch {
    return null;
  }
}

function keysWith(prefix) {
  const keys = [];
  try {
    for (let i = 0; i < window.localStorage.length; i += 1) {
      const key = window.localStorage.key(i);
      if (key && key.startsWith(prefix)) keys.push(key);
    }
  } catch { /* storage unavailable: nothing kept */ }
  return keys;
}

function worker() {
  return ('serviceWorker' in navigator && navigator.serviceWorker.controller) || null;
}

function writeContact(at) {
  const old = readJson(window.localStorage, CONTACT_KEY);
  const best = Math.max(at, old && Number.isFinite(old.at) ? old.at : 0); // never moved back
  try { window.localStorage.setItem(CONTACT_KEY, JSON.stringify({ at: best, hours: offlineHours })); } catch { /* not kept */ }
}

/**
 * The server answered (`serverDate`: the answer's Date header). An answer the service worker kept
 * carries the date the server first gave it, so starting the app offline never counts as a contact;
 * a tablet clock ahead of the server's only makes copies expire a little sooner.
 */
export function noteContact(serverDate) {
  if (wiping) return; // a wiped device keeps nothing, not even this
  const date = Date.parse(serverDate || '');
  if (Number.isNaN(date)) return;
  const now = Date.now();
  const at = Math.min(now, date);
  if (at - lastNoted < CONTACT_EVERY_MS) return;
  lastNoted = at;
  writeContact(at);
  const sw = worker();
  if (sw && now - date < CONTACT_EVERY_MS) sw.postMessage({ type: 'contact', hours: offlineHours });
}

/** How long offline copies may be kept without contact, as the server says (ECABINET_OFFLINE_HOURS). */
export function setOfflineHours(hours) {
  if (!Number.isFinite(hours) || hours < 1 || hours === offlineHours) return;
  offlineHours = hours;
  const old = readJson(window.localStorage, CONTACT_KEY);
  if (old && Number.isFinite(old.at)) writeContact(old.at);
}

/** The annotations waiting to be sent, of every user (what a wipe or an expiry loses). */
export function unsentNotes() {
  const notes = [];
  for (const key of keysWith(OUTBOX_PREFIX)) {
    const items = readJson(window.localStorage, key);
    if (!Array.isArray(items)) continue;
    for (const item of items) {
      // Which document and page, never the note's text: whoever holds the tablet now may not be its owner.
      if (item && typeof item === 'object') notes.push({ document_id: item.document_id, page: item.page, kind: item.kind });
    }
  }
  return notes;
}

async function deleteCaches(keepApp) {
  if (!('caches' in window)) return;
  for (const name of await caches.keys()) {
    if (keepApp && name.startsWith(APP_CACHE_PREFIX)) continue;
    await caches.delete(name);
  }
}

async function deleteDatabases() {
  if (!window.indexedDB || !indexedDB.databases) return;
  const dbs = await indexedDB.databases();
  await Promise.all(dbs.map((db) => new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(db.name);
    req.onsuccess = resolve;
    req.onerror = resolve;
    req.onblocked = resolve; // deleted once the last connection closes
  })));
}

function removeKeys(prefix, keepPrefix = null) {
  for (const key of keysWith(prefix)) {
    if (keepPrefix && key.startsWith(keepPrefix)) continue;
    try { window.localStorage.removeItem(key); } catch { /* gone anyway */ }
  }
}

/**
 * At start, before anything is shown or fetched: if the last contact with the server is older than
 * the allowed offline time, the meeting data kept for offline reading goes (documents and their
 * answers in Cache Storage, IndexedDB, unsent notes, receipts). The app's own files stay.
 * Resolves with null, or { hours, lost } to tell the person.
 */
export async function expireIfStale() {
  const contact = readJson(window.localStorage, CONTACT_KEY);
  if (!contact || !Number.isFinite(contact.at)) return null;
  const hours = Number.isFinite(contact.hours) && contact.hours >= 1 ? contact.hours : DEFAULT_HOURS;
  if (Date.now() - contact.at <= hours * HOUR_MS) return null;
  const lost = unsentNotes();
  try { await deleteCaches(true); } catch { /* nothing to erase */ }
  try { await deleteDatabases(); } catch { /* nothing to erase */ }
  removeKeys(OUTBOX_PREFIX);
  removeKeys(BALLOT_PREFIX);
  try { window.localStorage.removeItem(CONTACT_KEY); } catch { /* gone anyway */ }
  const sw = worker();
  if (sw) sw.postMessage({ type: 'expire' });
  return { hours, lost };
}

/**
 * Erases what belonged to users of this tablet: everything at logout (keepUserId null), or at login
 * what is not the new user's (their own unsent notes and receipts stay; offline copies go anyway).
 */
export async function forgetUser(keepUserId = null) {
  storeKey = null;
  const sw = worker();
  if (sw) sw.postMessage({ type: 'forget' });
  try { await deleteCaches(true); } catch { /* nothing to erase */ }
  try { await deleteDatabases(); } catch { /* nothing to erase */ }
  removeKeys(OUTBOX_PREFIX, keepUserId === null ? null : `${OUTBOX_PREFIX}${keepUserId}`);
  removeKeys(BALLOT_PREFIX, keepUserId === null ? null : `${BALLOT_PREFIX}${keepUserId}.`);
  try { window.sessionStorage.clear(); } catch { /* nothing kept */ }
}

/** Whether this device is being (or has been) wiped: nothing more may be stored on it. */
export function deviceWiped() {
  return wiping !== null;
}

/** Called with { lost } once this device has been wiped (the app then shows it). */
export function onWiped(fn) {
  wipedListeners.add(fn);
  return () => wipedListeners.delete(fn);
}

/**
 * This device was reported lost: erase everything this origin stored, then tell the server (which
 * records the time in the audit log). Unsent notes are listed first, to tell the person what is lost.
 */
export function wipeDevice() {
  if (wiping) return wiping;
  wiping = (async () => {
    const lost = unsentNotes();
    storeKey = null;
    const sw = worker();
    if (sw) sw.postMessage({ type: 'wipe' }); // it keeps nothing more, even an answer on its way
    try { await deleteCaches(false); } catch { /* nothing to erase */ }
    try { await deleteDatabases(); } catch { /* nothing to erase */ }
    try { window.localStorage.clear(); } catch { /* nothing kept */ }
    try { window.sessionStorage.clear(); } catch { /* nothing kept */ }
    try {
      if ('serviceWorker' in navigator) {
        for (const reg of await navigator.serviceWorker.getRegistrations()) await reg.unregister();
      }
    } catch { /* no worker */ }
    let confirmed = false;
    try {
      await request('POST', '/devices/wiped');
      confirmed = true;
    } catch { /* offline: the server keeps refusing this browser, which wipes again at the next contact */ }
    try { await deleteCaches(false); } catch { /* nothing to erase */ }
    const result = { lost, confirmed };
    wipedListeners.forEach((fn) => fn(result));
    return result;
  })();
  return wiping;
}

function b64(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)));
}

function unb64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Asks the server for this device's store key (and the offline time); counts as a contact. */
export async function loadStoreKey() {
  storeKey = null;
  const out = await api.thisDevice();
  setOfflineHours(out.offline_hours);
  if (!out.store_key || !window.crypto || !crypto.subtle) return false;
  const raw = unb64(out.store_key.replace(/-/g, '+').replace(/_/g, '/').padEnd(44, '='));
  storeKey = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
  return true;
}

/** Encrypted text to keep on this device, or null (no key: then nothing is kept). */
export async function sealText(text) {
  if (!storeKey) return null;
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, storeKey, new TextEncoder().encode(text));
  return { iv: b64(iv), ct: b64(data) };
}

/** The text kept by sealText, or null (another key, tampered, no key). */
export async function openText(sealed) {
  if (!storeKey || !sealed || typeof sealed.iv !== 'string' || typeof sealed.ct !== 'string') return null;
  try {
    const data = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: unb64(sealed.iv) }, storeKey, unb64(sealed.ct));
    return new TextDecoder().decode(data);
  } catch {
    return null;
  }
}

// Every answer from the server is a contact; a refusal naming this device lost wipes it.
onContact((serverDate) => noteContact(serverDate));
onDeviceRevoked(() => { wipeDevice(); });
onSocketStatus((status, detail) => {
  if (status === 'refused' && detail === 'device_revoked') wipeDevice();
});
