// My notifications: the unread count (kept current by `notification.new` and `notification.read`,
// pushed to my own room on the app's one connection) and the newest page of the list, loaded when
// the bell is opened. Views read it with useNotifications() and act through markRead / markAllRead.
import { useEffect, useState } from './preact.js';
import { api } from './api.js';
import { holdSocket, liveSocket } from './socket.js';

let snapshot = { unread: 0, items: null, error: null };
const listeners = new Set();
let release = null;

function set(changes) {
  snapshot = { ...snapshot, ...changes };
  listeners.forEach((fn) => fn(snapshot));
}

function onNew(data) {
  if (!data || !data.notification) return;
  const items = snapshot.items && !snapshot.items.some((n) => n.id === data.notification.id)
    ? [data.notification, ...snapshot.items] : snapshot.items;
  set({ unread: data.unread, items });
}

function onRead(data) {
  if (data && typeof data.unread === 'number') set({ unread: data.unread });
}

/** After a (re)connect: pushes missed while offline are in the count the server gives now. */
function refresh() {
  api.unreadNotifications().then((r) => set({ unread: r.unread })).catch(() => {});
  if (snapshot.items) load();
}

/** Starts listening for the logged-in person; returns the function that stops. */
export function startNotifications() {
  stopNotifications();
  const socket = liveSocket();
  socket.on('notification.new', onNew);
  socket.on('notification.read', onRead);
  socket.on('connect', refresh);
  release = holdSocket();
  refresh();
  return stopNotifications;
}

export function stopNotifications() {
  if (!release) return;
  const socket = liveSocket();
  socket.off('notification.new', onNew);
  socket.off('notification.read', onRead);
  socket.off('connect', refresh);
  release();
  release = null;
  snapshot = { unread: 0, items: null, error: null };
}

export async function load() {
  try {
    const page = await api.notifications();
    set({ items: page.items, unread: page.unread, error: null });
  } catch (err) {
    set({ error: err });
  }
}

export async function markRead(id) {
  const done = await api.readNotification(id);
  set({ items: snapshot.items && snapshot.items.map((n) => (n.id === id ? done : n)) });
  // The count is the server's (its notification.read push may come before or after this answer).
  const { unread } = await api.unreadNotifications();
  set({ unread });
}

export async function markAllRead() {
  await api.readAllNotifications();
  const now = new Date().toISOString();
  set({ unread: 0, items: snapshot.items && snapshot.items.map((n) => (n.read_at ? n : { ...n, read_at: now })) });
}

/** Hook: the current snapshot {unread, items, error}, re-rendering on every change. */
export function useNotifications() {
  const [state, setState] = useState(snapshot);
  useEffect(() => {
    listeners.add(setState);
    setState(snapshot);
    return () => listeners.delete(setState);
  }, []);
  return state;
}
