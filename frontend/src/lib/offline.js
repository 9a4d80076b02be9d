// What this tablet keeps for reading offline (the service worker, frontend/sw.js, does the keeping):
// the app, who I am, and for a published meeting each document's metadata, annotations and my copy of
// its current version, never a Mật document. A document's pages are kept under their version's URL
// (/view?version=N), so a new version is a new entry that replaces the old one, never an old copy
// answered under a new label. Asked by the meeting page, and by the meeting's live store when a
// document changes (documents.changed) or the connection returns (one may have changed meanwhile).
import { api } from './api.js';

const CACHEABLE = new Set(['published', 'in_progress', 'closed']);

/** Asks the service worker to keep, for reading offline: the app itself (every file this page has
 * loaded, and the page), who I am, and my copy of each document's current version (never a Mật one). */
export function keepOffline(meeting, documents) {
  if (!CACHEABLE.has(meeting.status) || !('serviceWorker' in navigator)) return;
  const app = performance.getEntriesByType('resource').map((e) => e.name)
    .filter((url) => url.startsWith(window.location.origin) && !url.includes('/api/') && !url.includes('/socket.io'));
  const urls = [window.location.pathname, ...new Set(app), api.meUrl(),
    ...documents.filter((d) => !d.secret && d.current_version > 0).flatMap((d) => [
      api.documentViewUrl(d.id, d.current_version), api.documentUrl(d.id), api.annotationsUrl(d.id)])];
  // A document made Mật since it was kept: nothing of it may stay on the tablet.
  const drop = documents.filter((d) => d.secret).map((d) => d.id);
  navigator.serviceWorker.ready.then((reg) => {
    if (reg.active) reg.active.postMessage({ type: 'keep', urls, drop });
  }).catch(() => {});
}

/** Keeps the meeting's documents again from what the server says now (a new version, a document now Mật). */
export async function refreshOffline(meetingId) {
  if (!('serviceWorker' in navigator) || !navigator.serviceWorker.controller) return;
  try {
    const [meeting, documents] = await Promise.all([api.meeting(meetingId), api.documents(meetingId)]);
    keepOffline(meeting, documents);
  } catch { /* offline again: the next reconnection asks again */ }
}
