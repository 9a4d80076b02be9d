// e-Cabinet's service worker: reading goes on when the network is gone.
// - The app's own files and the few API answers a reader needs (me, the meeting, its documents and
//   their annotations, each personal copy of a document) are fetched from the network first and kept;
//   without a network the kept answer is used. Nothing is ever served stale while the network works.
// - The meeting page asks to keep the app and every document of a published meeting ahead of time
//   ('keep'), so a tablet that goes offline can even reload the app and open them.
// - An answer marked no-store (a Mật document: its file, metadata and annotations; a download) is
//   never kept, and one that comes marked no-store removes what was kept of it before.
// - Logging in or out empties the kept answers ('forget'): the next person on this tablet sees none.
// - A document's pages are kept by version (/view?version=N: my copy of version N never changes), and
//   keeping version N drops the other versions kept of that document: the offline copy is the current
//   version's, never an older file under a newer label; the metadata and annotations of a document
//   with a new version are kept again with it. 'drop' names documents (made Mật) of which nothing may stay.
// Annotations made offline are not this worker's business: the viewer keeps them in an outbox.
// - Kept answers expire when the server has not been reached for the allowed time (sw_guard.js).
importScripts('sw_guard.js');
const APP_CACHE = 'ecabinet-app-v1';
const DATA_CACHE = 'ecabinet-data-v1';
const APP_PATHS = /^\/(?:$|index\.html$|favicon\.svg$|src\/|styles\/|i18n\/|vendor\/)/;
const DATA_PATHS = [
  /^\/api\/auth\/me$/,
  /^\/api\/meetings$/,
  /^\/api\/meetings\/\d+$/,
  /^\/api\/meetings\/\d+\/documents$/,
  /^\/api\/documents\/\d+$/,
  /^\/api\/documents\/\d+\/annotations$/,
  /^\/api\/documents\/\d+\/view$/,
];

// Loaded outside the page's own fetches (the pdf.js worker) or needed first when offline: kept at install.
const CORE = ['./', 'index.html', 'styles/app.css', 'src/app.js', 'i18n/vi.json', 'i18n/en.json',
  'vendor/preact-htm.js', 'vendor/socket.io.js', 'vendor/pdf.mjs', 'vendor/pdf.worker.mjs'];

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(APP_CACHE);
    await Promise.all(CORE.map((path) => cache.add(new URL(path, self.location.href).href).catch(() => {})));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const keep = new Set([APP_CACHE, DATA_CACHE]);
    for (const name of await caches.keys()) if (!keep.has(name)) await caches.delete(name);
    await self.clients.claim();
  })());
});

function cacheFor(url) {
  if (url.origin !== self.location.origin) return null;
  if (APP_PATHS.test(url.pathname)) return APP_CACHE;
  if (DATA_PATHS.some((re) => re.test(url.pathname))) return DATA_CACHE;
  return null;
}

const VERSIONED_VIEW = /^\/api\/documents\/(\d+)\/view$/;

/** The document whose pages `url` is, and the version it names (0: none). */
function viewOf(url) {
  const match = VERSIONED_VIEW.exec(url.pathname);
  if (!match) return null;
  return { document: match[1], version: Number(url.searchParams.get('version')) || 0 };
}

/** Drops what is kept of a document: all of it, or only its pages other than version `except`. */
async function dropDocument(cache, documentId, { except = null } = {}) {
  const prefix = `/api/documents/${documentId}`;
  for (const request of await cache.keys()) {
    const url = new URL(request.url);
    const view = viewOf(url);
    if (except !== null ? view && view.document === documentId && view.version !== except
      : url.pathname === prefix || url.pathname.startsWith(`${prefix}/`)) await cache.delete(request);
  }
}

function keepable(response) {
  return response.ok && !/no-store/i.test(response.headers.get('cache-control') || '');
}

async function networkFirst(event, cacheName) {
  const { request } = event;
  try {
    const response = await fetch(request);
    if (keepable(response)) {
      // Keeping a copy must never cost the page its answer (a cache emptied at logout, a full disk).
      const copy = response.clone();
      event.waitUntil(offlineGuard.put(cacheName, request, copy).catch(() => {}));
      if (cacheName === DATA_CACHE) event.waitUntil(offlineGuard.contact(DATA_CACHE).catch(() => {}));
    } else if (response.ok) {
      // Now marked no-store (e.g. a document made Mật since): a copy kept before goes too.
      event.waitUntil(caches.open(cacheName).then((cache) => cache.delete(request)).catch(() => {}));
    }
    return response;
  } catch (err) {
    if (cacheName === DATA_CACHE && !(await offlineGuard.mayServe(DATA_CACHE))) throw err;
    const kept = await caches.match(request, { cacheName, ignoreVary: true }).catch(() => undefined);
    if (kept) return kept;
    throw err;
  }
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  const cacheName = cacheFor(url);
  if (!cacheName) return; // the socket, downloads, everything else: straight to the network
  event.respondWith(networkFirst(event, cacheName));
});

self.addEventListener('message', (event) => {
  const data = event.data || {};
  if (offlineGuard.message(event, DATA_CACHE)) return;
  if (data.type === 'forget') {
    event.waitUntil(caches.delete(DATA_CACHE));
  } else if (data.type === 'keep' && Array.isArray(data.urls)) {
    if (offlineGuard.stopped()) return; // wiped: not even an empty cache may come back
    event.waitUntil((async () => {
      const dataCache = await caches.open(DATA_CACHE);
      for (const id of (Array.isArray(data.drop) ? data.drop : []).slice(0, 500)) {
        if (/^\d+$/.test(String(id))) await dropDocument(dataCache, String(id));
      }
      const urls = data.urls.slice(0, 500).map((href) => new URL(href, self.location.origin));
      // A document whose current version's pages are not kept yet has a new version (or is new): its
      // metadata and annotations are fetched again with them. What is kept of the others stays.
      const renewed = new Set();
      for (const url of urls) {
        const view = viewOf(url);
        if (view && view.version > 0 && !(await dataCache.match(url.href))) renewed.add(view.document);
      }
      for (const url of urls) {
        const cacheName = cacheFor(url);
        if (!cacheName || offlineGuard.stopped()) continue;
        const cache = await caches.open(cacheName);
        const view = viewOf(url);
        const owner = /^\/api\/documents\/(\d+)/.exec(url.pathname);
        if (!(owner && renewed.has(owner[1]) && !view) && await cache.match(url.href)) continue;
        try {
          const response = await fetch(url.href, { credentials: 'same-origin' });
          if (keepable(response)) {
            await offlineGuard.put(cacheName, url.href, response);
            if (view && view.version > 0) await dropDocument(cache, view.document, { except: view.version });
          } else if (response.ok) {
            await cache.delete(url.href);
          }
        } catch { /* offline now: kept when it is next opened */ }
      }
    })());
  }
});
