// The offline copies' expiry, for sw.js (loaded with importScripts; kept apart from the caching so the
// two change independently). How long copies may be kept without reaching the server comes from the
// page ('contact' with the server's offline_hours); every answer of the server counts as a contact.
// A copy asked for offline after that time is not served: the data cache is emptied instead. The app
// makes the same check with the page's clock when it starts (src/lib/device.js expireIfStale).
// The contact is kept in the data cache itself (under GUARD_KEY), so emptying that cache forgets both.
// A device reported lost ('wipe'): every cache goes and this worker keeps nothing more (put).
const offlineGuard = (() => {
  const GUARD_KEY = '/__ecabinet/offline-guard';
  const DEFAULT_HOURS = 72;
  const WRITE_EVERY_MS = 60 * 1000;
  let hours = DEFAULT_HOURS;
  let written = 0;
  let stopped = false;

  /** Keeps an answer, unless this device has been wiped (an answer still on its way must not return). */
  async function put(cacheName, request, response) {
    if (stopped) return;
    const cache = await caches.open(cacheName);
    if (!stopped) await cache.put(request, response);
  }

  async function read(cacheName) {
    const cache = await caches.open(cacheName);
    const kept = await cache.match(GUARD_KEY);
    try { return kept ? await kept.json() : null; } catch { return null; }
  }

  async function contact(cacheName, newHours) {
    if (Number.isFinite(newHours) && newHours >= 1) hours = newHours;
    else if (Date.now() - written < WRITE_EVERY_MS) return;
    if (!(await caches.has(cacheName))) return; // nothing kept: the time is written with the first copy
    written = Date.now();
    await put(cacheName, GUARD_KEY, new Response(JSON.stringify({ at: written, hours }),
      { headers: { 'Content-Type': 'application/json' } }));
  }

  /** Whether kept answers may still be served; if not, they are erased now. */
  async function mayServe(cacheName) {
    const guard = await read(cacheName).catch(() => null);
    if (guard && Number.isFinite(guard.at) && Date.now() - guard.at <= (guard.hours || DEFAULT_HOURS) * 3600 * 1000) {
      return true;
    }
    await caches.delete(cacheName).catch(() => {});
    return false;
  }

  /** Handles the page's 'contact' and 'expire' messages; false for any other. */
  function message(event, cacheName) {
    const data = event.data || {};
    if (data.type === 'contact') {
      event.waitUntil(contact(cacheName, Number(data.hours)).catch(() => {}));
      return true;
    }
    if (data.type === 'wipe') {
      stopped = true;
      event.waitUntil(caches.keys().then((names) => Promise.all(names.map((n) => caches.delete(n)))).catch(() => {}));
      return true;
    }
    if (data.type === 'expire') {
      event.waitUntil(caches.delete(cacheName).catch(() => {}));
      return true;
    }
    return false;
  }

  return { contact, mayServe, message, put, stopped: () => stopped };
})();
