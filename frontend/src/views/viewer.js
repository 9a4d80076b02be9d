// The document viewer (#/documents/<id>?page=N): pdf.js renders my personal watermarked copy; pages,
// zoom, rotation, thumbnails, jump to page, search in the document, follow the chair's page, and
// annotations (highlight, ink, notes) that are private, shared or the presenter's, live over the
// socket. Annotations made offline wait in the outbox and are sent when the connection returns.
//
// Live parts ride on the app's one connection, however the viewer was opened: the meeting's room (the
// presenter's page, documents.changed) through the meeting's live store, shared with the live screen
// and released by whoever is last; the document's room (annotations) through document.open, with the
// connection held while the viewer is open.
//
// Versions: the pages come from /view?version=N (N named, never "the current one"), and the version
// label is the one the server says those bytes are (X-Document-Version), so a label never sits over
// another version's pages; a new version (documents.changed, or found at reconnect) reloads both.
//
// Geometry is kept in the page's PDF user space (pdf.js' convertToPdfPoint), so the same numbers draw
// the same mark at any zoom and rotation, and become real PDF annotations in an exported copy.
import * as pdfjs from '../../vendor/pdf.mjs';
import { html, useCallback, useEffect, useMemo, useRef, useState } from '../lib/preact.js';
import { api } from '../lib/api.js';
import { formatDateTime, formatNumber, t } from '../lib/i18n.js';
import { navigate } from '../lib/router.js';
import { emitAck, holdSocket, liveSocket, onSocketStatus, socketStatus } from '../lib/socket.js';
import { useLive } from '../lib/live_store.js';
import { clientId, enqueue, flush, pending } from '../lib/outbox.js';
import { ErrorBox, Loading, Notice, useTitle } from './components.js';

const VENDOR = new URL('../../vendor/', import.meta.url).href;
pdfjs.GlobalWorkerOptions.workerSrc = `${VENDOR}pdf.worker.mjs`;
const STAFF = new Set(['chair', 'secretary']);
const ZOOMS = [0.5, 0.75, 1, 1.25, 1.5, 2, 3];
const FIT = 'fit'; // the page as wide as the stage: the default on narrow screens (tablets, phones)
const WIDE_SCREEN = 1200;

/** The scale that shows a page `baseWidth` points wide across `stageWidth` pixels. */
function fitScale(stageWidth, baseWidth) {
  if (!stageWidth || !baseWidth) return 1;
  return Math.min(4, Math.max(0.25, stageWidth / baseWidth));
}

/** The next zoom step from `scale`, up (+1) or down (-1). */
function stepZoom(scale, direction) {
  if (direction > 0) return ZOOMS.find((z) => z > scale + 0.01) || ZOOMS[ZOOMS.length - 1];
  return [...ZOOMS].reverse().find((z) => z < scale - 0.01) || ZOOMS[0];
}
const COLORS = { highlight: '#ffd400', ink: '#d11f2f', note: '#f5a300' };
const PUSHES = ['annotation.added', 'annotation.changed', 'annotation.deleted', 'documents.changed'];

function pageFromHash() {
  const query = (window.location.hash.split('?')[1] || '');
  const page = Number(new URLSearchParams(query).get('page'));
  return Number.isInteger(page) && page > 0 ? page : 1;
}

/** Loads my copy of one version of the document into pdf.js (through the service worker's cache when
 * offline); `version` is the version those bytes are, as the server labels them. */
function usePdf(documentId, wanted) {
  const [state, setState] = useState({ pdf: null, error: null, version: null });
  useEffect(() => {
    let cancelled = false;
    let task = null;
    setState({ pdf: null, error: null, version: null });
    if (!wanted) return undefined; // the document (and so its current version) is not known yet
    (async () => {
      try {
        const res = await fetch(api.documentViewUrl(documentId, wanted), { credentials: 'same-origin' });
        if (!res.ok) {
          let body = null;
          try { body = await res.json(); } catch { /* not JSON */ }
          const err = new Error((body && body.error && body.error.message) || res.statusText);
          err.code = (body && body.error && body.error.code) || `http_${res.status}`;
          throw err;
        }
        const version = Number(res.headers.get('X-Document-Version')) || wanted;
        const data = new Uint8Array(await res.arrayBuffer());
        task = pdfjs.getDocument({
          data,
          isEvalSupported: false,
          standardFontDataUrl: `${VENDOR}pdfjs/standard_fonts/`,
          cMapUrl: `${VENDOR}pdfjs/cmaps/`,
          cMapPacked: true,
          wasmUrl: `${VENDOR}pdfjs/wasm/`,
        });
        const pdf = await task.promise;
        if (!cancelled) setState({ pdf, error: null, version });
      } catch (err) {
        if (!cancelled) setState({ pdf: null, error: err.code ? err : Object.assign(err, { code: 'network' }), version: null });
      }
    })();
    return () => {
      cancelled = true;
      if (task) task.destroy();
    };
  }, [documentId, wanted]);
  return state;
}

export function DocumentView({ user, documentId }) {
  const [doc, setDoc] = useState(null);
  const [meeting, setMeeting] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [version, setVersion] = useState(null); // a version chosen in the toolbar; null: the current one
  const wanted = version || (doc && doc.current_version) || null;
  const { pdf, error: pdfError, version: pdfVersion } = usePdf(documentId, wanted);
  // The meeting's live store (its room, the presenter's page, the session's state).
  const [, live] = useLive(doc ? doc.meeting_id : null);
  const liveState = live && live.state;
  const [page, setPage] = useState(pageFromHash);
  const [zoom, setZoom] = useState(() => (window.innerWidth < WIDE_SCREEN ? FIT : 1.25));
  const [notesOpen, setNotesOpen] = useState(false);
  const stageRef = useRef(null);
  const [stageWidth, setStageWidth] = useState(0);
  const [baseWidth, setBaseWidth] = useState(0);
  const [rotation, setRotation] = useState(0);
  const [tool, setTool] = useState('read');
  const [visibility, setVisibility] = useState('private');
  const [marks, setMarks] = useState(() => new Map());
  const [queued, setQueued] = useState(() => pending(user.id, documentId));
  const [following, setFollowing] = useState(true);
  const [presenting, setPresenting] = useState(false);
  const [online, setOnline] = useState(socketStatus() === 'online');
  const [thumbs, setThumbs] = useState(false);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState('');
  useTitle(doc ? doc.title : t('viewer.title'));

  const staff = meeting && STAFF.has(meeting.my_role);
  const pageCount = pdf ? pdf.numPages : (doc ? doc.page_count : 0);
  // The version of the pages on screen (while they load: the one asked for); marks and the label follow it.
  const shownVersion = pdfVersion || wanted;
  const status = liveState ? liveState.meeting.status : (meeting && meeting.status);
  const presenter = liveState ? liveState.presenter : null;

  const reloadDoc = useCallback(async () => {
    try {
      const d = await api.document(documentId);
      setDoc(d);
      setMeeting(await api.meeting(d.meeting_id));
      setLoadError(null);
    } catch (err) {
      setLoadError(err);
      return;
    }
    try {
      // The socket brings them live; this answer (kept by the service worker) shows them offline too.
      const list = await api.annotations(documentId);
      setMarks((m) => (m.size ? m : new Map(list.map((a) => [a.id, a]))));
    } catch { /* offline and never kept: the socket fills them in when it connects */ }
  }, [documentId]);
  useEffect(() => { reloadDoc(); }, [reloadDoc]);

  const upsert = useCallback((a) => setMarks((m) => new Map(m).set(a.id, a)), []);
  const remove = useCallback((id) => setMarks((m) => {
    const next = new Map(m);
    next.delete(id);
    return next;
  }), []);

  // Live: join the document's room (annotations); on every (re)connection send what waited in the
  // outbox, then take the full list again, and the document's metadata (a version may have come).
  useEffect(() => {
    if (!doc) return undefined;
    const release = holdSocket();
    const socket = liveSocket();
    let stopped = false;
    const open = async (reconnected) => {
      if (reconnected === true) reloadDoc();
      try {
        const sent = await flush(user.id, (item) => emitAck('annotation.add', item),
          (item, err) => setError(err));
        if (sent.length) setNotice(t('viewer.synced', { n: formatNumber(sent.length) }));
        setQueued(pending(user.id, documentId));
        const ack = await emitAck('document.open', { document_id: documentId });
        if (stopped) return;
        setMarks(new Map(ack.annotations.map((a) => [a.id, a])));
      } catch (err) {
        if (!stopped && err.code !== 'offline') setError(err);
      }
    };
    const handlers = {
      'annotation.added': (a) => { if (a.document_id === documentId) upsert({ ...a, mine: a.author_id === user.id }); },
      'annotation.changed': (a) => {
        if (a.document_id !== documentId) return;
        if (a.visibility === 'private' && a.author_id !== user.id) remove(a.id);
        else upsert({ ...a, mine: a.author_id === user.id });
      },
      'annotation.deleted': (a) => { if (a.document_id === documentId) remove(a.id); },
      'documents.changed': (p) => {
        if (p.meeting_id !== doc.meeting_id || (p.document_id !== null && p.document_id !== documentId)) return;
        reloadDoc();
        open();
      },
    };
    const onConnect = () => open(true);
    PUSHES.forEach((name) => socket.on(name, handlers[name]));
    socket.on('connect', onConnect);
    if (socket.connected) open(false);
    const offStatus = onSocketStatus((s) => setOnline(s === 'online'));
    setOnline(socket.connected);
    return () => {
      stopped = true;
      PUSHES.forEach((name) => socket.off(name, handlers[name]));
      socket.off('connect', onConnect);
      offStatus();
      if (socket.connected) socket.emit('document.close', { document_id: documentId }, () => {});
      release();
    };
  }, [doc && doc.id, doc && doc.meeting_id]);

  // Follow the chair: the presenter's page of this document, while following.
  const followable = status === 'in_progress' && presenter && presenter.document_id === documentId;
  useEffect(() => {
    if (followable && following && !presenting && presenter.page) setPage(presenter.page);
  }, [followable, following, presenting, presenter && presenter.page]);

  // Fit width: the stage's inner width (it never depends on the page's) and the page's width at 100%.
  const staged = Boolean(doc);
  useEffect(() => {
    const stage = stageRef.current;
    if (!stage) return undefined;
    const measure = () => {
      const style = window.getComputedStyle(stage);
      const inner = stage.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      setStageWidth(Math.max(0, Math.floor(inner / 4) * 4)); // steps of 4 px: no resize loop by a pixel
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(stage);
    return () => observer.disconnect();
  }, [staged]);
  useEffect(() => {
    if (!pdf) return undefined;
    let cancelled = false;
    pdf.getPage(Math.min(page, pdf.numPages)).then((p) => {
      if (!cancelled) setBaseWidth(p.getViewport({ scale: 1, rotation: (p.rotate + rotation) % 360 }).width);
    }).catch(() => {});
    return () => { cancelled = true; };
  }, [pdf, page, rotation]);
  const scale = zoom === FIT ? fitScale(stageWidth, baseWidth) : zoom;

  const goTo = useCallback((n, { byHand = true } = {}) => {
    const target = Math.min(Math.max(1, n), pageCount || 1);
    setPage(target);
    if (byHand && followable && !presenting) setFollowing(false);
    if (presenting && doc) {
      emitAck('presenter.page', { meeting_id: doc.meeting_id, page: target, document_id: documentId })
        .catch((err) => setError(err));
    }
  }, [pageCount, followable, presenting, doc, documentId]);

  useEffect(() => {
    const base = window.location.hash.split('?')[0];
    window.history.replaceState(null, '', `${base}?page=${page}`);
  }, [page]);

  useEffect(() => {
    const onKey = (e) => {
      if (e.target && ['INPUT', 'TEXTAREA', 'SELECT'].includes(e.target.tagName)) return;
      if (e.key === 'ArrowRight' || e.key === 'PageDown') goTo(page + 1);
      if (e.key === 'ArrowLeft' || e.key === 'PageUp') goTo(page - 1);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [page, goTo]);

  const create = useCallback(async (fields) => {
    const payload = {
      document_id: documentId, client_id: clientId(), version: shownVersion, page, visibility,
      color: COLORS[fields.kind], width: 2, text: '', ...fields,
    };
    setError(null);
    if (!liveSocket().connected) {
      enqueue(user.id, payload);
      setQueued(pending(user.id, documentId));
      setNotice(t('viewer.queued'));
      return;
    }
    try {
      const ack = await emitAck('annotation.add', payload);
      upsert(ack.annotation);
    } catch (err) {
      if (err.code === 'offline' || err.code === 'timeout') {
        enqueue(user.id, payload);
        setQueued(pending(user.id, documentId));
        setNotice(t('viewer.queued'));
      } else {
        setError(err);
      }
    }
  }, [documentId, shownVersion, page, visibility, user.id]);

  const change = useCallback(async (a, changes) => {
    try {
      const ack = await emitAck('annotation.update', { annotation_id: a.id, ...changes });
      upsert(ack.annotation);
    } catch (err) { setError(err); }
  }, []);
  const destroy = useCallback(async (a) => {
    try {
      await emitAck('annotation.delete', { annotation_id: a.id });
      remove(a.id);
    } catch (err) { setError(err); }
  }, []);

  if (loadError) {
    return html`
      <main class="page" id="main">
        <h1 tabindex="-1">${t('viewer.title')}</h1>
        <${ErrorBox} error=${loadError} testid="viewer-error" />
      </main>`;
  }
  if (!doc) return html`<main class="page" id="main"><${Loading} /></main>`;

  const all = [...marks.values()];
  const shown = all.filter((a) => a.version === shownVersion);
  const queuedHere = queued.filter((q) => q.version === shownVersion).map((q) => ({ ...q, id: `q-${q.client_id}`, pending: true, mine: true }));
  const onPage = [...shown, ...queuedHere].filter((a) => a.page === page);

  return html`
    <main class="page page-viewer" id="main">
      <p class="breadcrumb"><a href=${`#/meetings/${doc.meeting_id}`}>← ${t('nav.back_to_meeting')}</a></p>
      <div class="viewer-head">
        <h1 tabindex="-1" data-testid="viewer-title">${doc.title}</h1>
        <div class="badges">
          ${doc.secret && html`<span class="badge badge-secret" data-testid="viewer-secret">${t('documents.secret_badge')}</span>`}
          <span class="badge" data-testid="viewer-version">${t('documents.version', { n: shownVersion })}</span>
          <span class=${`badge ${online ? 'badge-online' : 'badge-offline'}`} data-testid="viewer-connection">
            ${online ? t('viewer.online') : t('viewer.offline')}</span>
          ${queued.length > 0 && html`<span class="badge badge-queued" data-testid="viewer-queued">${t('viewer.waiting', { n: formatNumber(queued.length) })}</span>`}
        </div>
      </div>
      <div class="messages" aria-live="polite">
        <${ErrorBox} error=${error || pdfError} testid="viewer-error" />
        <${Notice} text=${notice} testid="viewer-notice" />
      </div>
      <${Toolbar} ...${{ doc, page, pageCount, goTo, zoom, setZoom, scale, rotation, setRotation, tool, setTool, visibility,
        setVisibility, staff, meeting, status, thumbs, setThumbs, followable, following, setFollowing, presenting, setPresenting,
        version: shownVersion, setVersion, notes: all.length + queued.length, notesOpen, setNotesOpen }} />
      <div class=${`viewer-body ${thumbs ? 'with-thumbs' : ''}`}>
        ${thumbs && pdf && html`<${Thumbnails} pdf=${pdf} page=${page} goTo=${goTo} />`}
        <div class="viewer-stage" ref=${stageRef} data-testid="viewer-stage" data-version=${pdfVersion || ''}
          tabindex="0" role="region" aria-label=${t('viewer.stage_label', { page: formatNumber(page) })}>
          ${pdf ? html`<${PageView} pdf=${pdf} number=${page} zoom=${scale} rotation=${rotation} tool=${tool}
              marks=${onPage} onCreate=${create} userId=${user.id} stage=${stageRef} />`
            : !pdfError && html`<${Loading} />`}
        </div>
        <${Sidebar} doc=${doc} marks=${all} queued=${queued} goTo=${goTo} change=${change} destroy=${destroy}
          current=${shownVersion} open=${notesOpen} close=${() => setNotesOpen(false)} />
      </div>
    </main>`;
}

/** One compact row (it wraps once on a tablet, scrolls sideways on a phone): pages, zoom, following the
 * chair, the notes list, then the tools and who sees a new mark; the rest (rotate, thumbnails, versions, copies, find)
 * behind "More". */
function Toolbar(p) {
  const [jump, setJump] = useState('');
  const [more, setMore] = useState(false);
  const tools = ['read', 'highlight', 'ink', 'note'];
  const fit = p.zoom === FIT;
  return html`
    <div class="viewer-toolbar" role="toolbar" aria-label=${t('viewer.tools')} data-testid="viewer-toolbar">
      <div class="toolbar-row">
        <div class="tool-group">
          <button type="button" class="button button-icon" data-testid="page-prev" disabled=${p.page <= 1}
            aria-label=${t('viewer.prev')} onClick=${() => p.goTo(p.page - 1)}>‹</button>
          <form class="page-jump" onSubmit=${(e) => { e.preventDefault(); if (Number(jump)) p.goTo(Number(jump)); setJump(''); }}>
            <label class="visually-hidden" for="page-jump">${t('viewer.jump')}</label>
            <input id="page-jump" inputmode="numeric" data-testid="page-jump" placeholder=${String(p.page)}
              value=${jump} onInput=${(e) => setJump(e.target.value.replace(/[^0-9]/g, ''))} />
            <span data-testid="page-indicator" class="page-indicator">${t('viewer.page_of', { page: formatNumber(p.page), total: formatNumber(p.pageCount) })}</span>
          </form>
          <button type="button" class="button button-icon" data-testid="page-next" disabled=${p.page >= p.pageCount}
            aria-label=${t('viewer.next')} onClick=${() => p.goTo(p.page + 1)}>›</button>
        </div>
        <div class="tool-group">
          <button type="button" class="button button-icon" aria-label=${t('viewer.zoom_out')} data-testid="zoom-out"
            disabled=${p.scale <= ZOOMS[0] + 0.01} onClick=${() => p.setZoom(stepZoom(p.scale, -1))}>−</button>
          <button type="button" class=${`button button-secondary zoom-value ${fit ? 'active' : ''}`} data-testid="zoom-fit"
            aria-pressed=${fit ? 'true' : 'false'} title=${t('viewer.fit_width')}
            onClick=${() => p.setZoom(fit ? 1 : FIT)}>
            <span data-testid="zoom-value">${fit ? t('viewer.fit_short') : `${Math.round(p.scale * 100)}%`}</span>
            <span class="visually-hidden">${t('viewer.fit_width')}</span></button>
          <button type="button" class="button button-icon" aria-label=${t('viewer.zoom_in')} data-testid="zoom-in"
            disabled=${p.scale >= ZOOMS[ZOOMS.length - 1] - 0.01} onClick=${() => p.setZoom(stepZoom(p.scale, 1))}>+</button>
        </div>
        <div class="tool-group">
          ${p.followable && !p.presenting && html`
            <button type="button" class=${`button ${p.following ? 'button-primary' : 'button-secondary'}`} data-testid="follow"
              aria-pressed=${p.following ? 'true' : 'false'} onClick=${() => p.setFollowing(!p.following)}>
              ${p.following ? t('viewer.following') : t('viewer.follow')}</button>`}
          ${p.staff && p.status === 'in_progress' && html`
            <button type="button" class=${`button ${p.presenting ? 'button-primary' : 'button-secondary'}`} data-testid="present"
              aria-pressed=${p.presenting ? 'true' : 'false'} onClick=${() => {
                const next = !p.presenting;
                p.setPresenting(next);
                if (next) emitAck('presenter.page', { meeting_id: p.doc.meeting_id, page: p.page, document_id: p.doc.id }).catch(() => {});
              }}>${p.presenting ? t('viewer.presenting') : t('viewer.present')}</button>`}
          <button type="button" class=${`button button-secondary ${p.notesOpen ? 'active' : ''}`} data-testid="notes-toggle"
            aria-controls="viewer-notes" aria-expanded=${p.notesOpen ? 'true' : 'false'} onClick=${() => p.setNotesOpen(!p.notesOpen)}>
            ${t('viewer.notes_button', { n: formatNumber(p.notes) })}</button>
          <button type="button" class=${`button button-secondary ${more ? 'active' : ''}`} data-testid="toolbar-more"
            aria-controls="viewer-more" aria-expanded=${more ? 'true' : 'false'} onClick=${() => setMore(!more)}>
            ${t('viewer.more')}</button>
        </div>
        <div class="tool-group" role="group" aria-label=${t('viewer.annotate')}>
          ${tools.map((name) => html`
            <button type="button" class=${`button button-tool ${p.tool === name ? 'active' : ''}`} data-testid=${`tool-${name}`}
              aria-pressed=${p.tool === name ? 'true' : 'false'} onClick=${() => p.setTool(name)}>${t(`viewer.tool_${name}`)}</button>`)}
          <label class="visually-hidden" for="visibility">${t('viewer.visibility')}</label>
          <select id="visibility" data-testid="visibility" value=${p.visibility} onChange=${(e) => p.setVisibility(e.target.value)}>
            <option value="private">${t('viewer.vis_private')}</option>
            <option value="shared">${t('viewer.vis_shared')}</option>
            ${p.staff && p.status === 'in_progress' && html`<option value="presenter">${t('viewer.vis_presenter')}</option>`}
          </select>
        </div>
      </div>
      ${more && html`
        <div class="toolbar-more" id="viewer-more" data-testid="toolbar-more-panel">
          <button type="button" class="button button-secondary" data-testid="rotate"
            onClick=${() => p.setRotation((p.rotation + 90) % 360)}>⟳ ${t('viewer.rotate')}</button>
          <button type="button" class=${`button button-secondary ${p.thumbs ? 'active' : ''}`} data-testid="toggle-thumbs"
            aria-pressed=${p.thumbs ? 'true' : 'false'} onClick=${() => p.setThumbs(!p.thumbs)}>${t('viewer.thumbnails')}</button>
          ${p.doc.versions.length > 1 && html`
            <select data-testid="version-select" aria-label=${t('viewer.version')} value=${p.version}
              onChange=${(e) => p.setVersion(Number(e.target.value) === p.doc.current_version ? null : Number(e.target.value))}>
              ${p.doc.versions.map((v) => html`<option value=${v.number}>${t('documents.version', { n: v.number })}</option>`)}
            </select>`}
          ${p.doc.may_download && html`
            <a class="button button-secondary" href=${api.documentDownloadUrl(p.doc.id, p.version)} data-testid="viewer-download">${t('documents.download')}</a>
            <a class="button button-secondary" href=${api.annotatedCopyUrl(p.doc.id)} data-testid="viewer-annotated">${t('documents.annotated')}</a>`}
          <${FindInDocument} doc=${p.doc} goTo=${p.goTo} />
        </div>`}
    </div>`;
}

function FindInDocument({ doc, goTo }) {
  const [query, setQuery] = useState('');
  const [hits, setHits] = useState(null);
  const [error, setError] = useState(null);
  async function submit(e) {
    e.preventDefault();
    if (!query.trim()) return;
    try {
      const out = await api.search({ q: query, documentId: doc.id, limit: 50 });
      setHits(out.hits);
      setError(null);
      if (out.hits.length) goTo(out.hits[0].page);
    } catch (err) { setError(err); }
  }
  return html`
    <form class="find" role="search" onSubmit=${submit}>
      <label class="visually-hidden" for="find">${t('viewer.find')}</label>
      <input id="find" type="search" data-testid="find-input" placeholder=${t('viewer.find')} value=${query}
        onInput=${(e) => setQuery(e.target.value)} />
      <button type="submit" class="button button-secondary" data-testid="find-submit">${t('viewer.find_go')}</button>
      ${error && html`<span class="muted">${error.message}</span>`}
      ${hits && html`
        <ul class="find-hits" data-testid="find-hits">
          ${hits.length === 0 && html`<li class="muted">${t('search.none')}</li>`}
          ${hits.map((h) => html`<li><button type="button" class="link" onClick=${() => goTo(h.page)}>
            ${t('viewer.page_n', { n: h.page })}: <${Snippet} hit=${h} /></button></li>`)}
        </ul>`}
    </form>`;
}

export function Snippet({ hit }) {
  // A Mật page's text is read in the viewer only: its hit says where, not what.
  if (hit.secret) return html`<span class="snippet muted" data-testid="secret-hit">${t('search.secret_hit')}</span>`;
  const parts = [];
  let at = 0;
  for (const [a, b] of hit.highlights) {
    if (a < at) continue;
    parts.push(hit.snippet.slice(at, a));
    parts.push(html`<mark>${hit.snippet.slice(a, b)}</mark>`);
    at = b;
  }
  parts.push(hit.snippet.slice(at));
  return html`<span class="snippet">${parts}</span>`;
}

/** One page: the canvas, the selectable text layer and the annotation layer on top. */
function PageView({ pdf, number, zoom, rotation, tool, marks, onCreate, userId, stage }) {
  const canvasRef = useRef(null);
  const textRef = useRef(null);
  const [viewport, setViewport] = useState(null);
  const [draft, setDraft] = useState(null); // ink stroke in progress (viewport points)
  const [noteAt, setNoteAt] = useState(null); // {pdf: [x, y], view: [x, y]}
  const [noteText, setNoteText] = useState('');
  const noteRef = useRef(null);

  useEffect(() => {
    let cancelled = false;
    let renderTask = null;
    let textLayer = null;
    (async () => {
      // The member may leave while the page is being read: the closed document then refuses it.
      const page = await pdf.getPage(number).catch((err) => { if (cancelled) return null; throw err; });
      if (cancelled) return;
      const vp = page.getViewport({ scale: zoom, rotation: (page.rotate + rotation) % 360 });
      const canvas = canvasRef.current;
      const ratio = window.devicePixelRatio || 1;
      canvas.width = Math.floor(vp.width * ratio);
      canvas.height = Math.floor(vp.height * ratio);
      canvas.style.width = `${Math.floor(vp.width)}px`;
      canvas.style.height = `${Math.floor(vp.height)}px`;
      const ctx = canvas.getContext('2d');
      renderTask = page.render({ canvasContext: ctx, viewport: vp, transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null });
      const container = textRef.current;
      container.replaceChildren();
      textLayer = new pdfjs.TextLayer({ textContentSource: page.streamTextContent(), container, viewport: vp });
      setViewport(vp);
      try {
        await Promise.all([renderTask.promise, textLayer.render()]);
      } catch (err) {
        if (!cancelled && err && err.name !== 'RenderingCancelledException') throw err;
      }
    })();
    return () => {
      cancelled = true;
      if (renderTask) renderTask.cancel();
      if (textLayer) textLayer.cancel();
    };
  }, [pdf, number, zoom, rotation]);

  const toPdf = (x, y) => viewport.convertToPdfPoint(x, y).map((v) => Math.round(v * 100) / 100);
  const local = (e) => {
    const box = canvasRef.current.getBoundingClientRect();
    return [e.clientX - box.left, e.clientY - box.top];
  };

  // Highlight: the text selected in the text layer, one rectangle per line box.
  const onSelectionEnd = () => {
    if (tool !== 'highlight' || !viewport) return;
    const selection = window.getSelection();
    if (!selection || selection.isCollapsed || !selection.rangeCount) return;
    const range = selection.getRangeAt(0);
    if (!textRef.current.contains(range.commonAncestorContainer)) return;
    const box = canvasRef.current.getBoundingClientRect();
    const rects = [];
    for (const r of range.getClientRects()) {
      if (r.width < 1 || r.height < 1) continue;
      const [ax, ay] = toPdf(Math.max(0, r.left - box.left), Math.max(0, r.top - box.top));
      const [bx, by] = toPdf(Math.min(box.width, r.right - box.left), Math.min(box.height, r.bottom - box.top));
      rects.push([Math.min(ax, bx), Math.min(ay, by), Math.max(ax, bx), Math.max(ay, by)]);
    }
    const text = selection.toString().trim();
    selection.removeAllRanges();
    if (rects.length) onCreate({ kind: 'highlight', geometry: { rects: rects.slice(0, 200) }, text: text.slice(0, 5000) });
  };

  const onPointerDown = (e) => {
    if (!viewport) return;
    if (tool === 'ink') {
      e.currentTarget.setPointerCapture(e.pointerId);
      setDraft([local(e)]);
    } else if (tool === 'note') {
      const at = local(e);
      setNoteAt({ view: at, pdf: toPdf(...at), place: notePlace(e) });
      setNoteText('');
    }
  };
  const onPointerMove = (e) => {
    if (tool === 'ink' && draft) setDraft([...draft, local(e)]);
  };
  const onPointerUp = () => {
    if (tool === 'ink' && draft) {
      const points = draft.filter((_, i) => i % Math.ceil(draft.length / 1500) === 0).map(([x, y]) => toPdf(x, y));
      setDraft(null);
      if (points.length) onCreate({ kind: 'ink', geometry: { paths: [points] } });
    }
  };
  // The note's editor opens where the finger was, moved back inside what is on screen (the stage's
  // visible part and the window) when it would cross an edge: in portrait a tap near the right edge.
  const notePlace = (e) => {
    const page = canvasRef.current.getBoundingClientRect();
    const area = stage && stage.current ? stage.current.getBoundingClientRect() : page;
    const right = Math.min(area.right, window.innerWidth, page.right);
    const left = Math.max(area.left, 0, page.left);
    const width = Math.min(288, right - left);
    const x = Math.min(Math.max(e.clientX, left), right - width);
    return { left: x - page.left, top: e.clientY - page.top, width };
  };
  useEffect(() => {
    if (noteAt && noteRef.current) {
      noteRef.current.scrollIntoView({ block: 'nearest', inline: 'nearest' });
      const box = noteRef.current.querySelector('textarea');
      if (box) box.focus({ preventScroll: true });
    }
  }, [noteAt]);

  const saveNote = (e) => {
    e.preventDefault();
    if (!noteText.trim()) return;
    onCreate({ kind: 'note', geometry: { at: noteAt.pdf }, text: noteText.trim() });
    setNoteAt(null);
  };

  const drawing = tool === 'ink' || tool === 'note';
  return html`
    <div class="pdf-page" data-testid="pdf-page" data-page=${number}
      style=${viewport ? `width:${Math.floor(viewport.width)}px;height:${Math.floor(viewport.height)}px;--scale-factor:${viewport.scale};--total-scale-factor:${viewport.scale};--scale-round-x:1px;--scale-round-y:1px` : ''}>
      <canvas ref=${canvasRef} data-testid="pdf-canvas"></canvas>
      <div class=${`textLayer ${tool === 'highlight' ? 'highlighting-tool' : ''}`} ref=${textRef} data-testid="text-layer"
        onMouseUp=${onSelectionEnd} onTouchEnd=${onSelectionEnd}></div>
      ${viewport && html`
        <svg class=${`annotation-layer ${drawing ? 'drawing' : ''}`} data-testid="annotation-layer"
          width=${viewport.width} height=${viewport.height}
          onPointerDown=${onPointerDown} onPointerMove=${onPointerMove} onPointerUp=${onPointerUp}>
          ${marks.map((a) => html`<${Mark} a=${a} viewport=${viewport} userId=${userId} />`)}
          ${draft && html`<polyline class="ink-draft" points=${draft.map((p) => p.join(',')).join(' ')} />`}
        </svg>`}
      ${viewport && marks.filter((a) => a.kind === 'note').map((a) => {
        const [x, y] = viewport.convertToViewportPoint(...a.geometry.at);
        // A pin on the right half opens leftwards: its text never hangs past the page's edge.
        const side = x > viewport.width / 2 ? `right:${Math.max(0, viewport.width - x - 8)}px` : `left:${x}px`;
        return html`<div class=${`note-pin ${a.pending ? 'pending' : ''} ${x > viewport.width / 2 ? 'note-pin-left' : ''}`}
          style=${`${side};top:${y}px`} key=${a.id}
          data-testid="note-pin" title=${`${a.author_name || ''}: ${a.text}`} tabindex="0">
          <span aria-hidden="true">✎</span><span class="note-text">${a.text}</span></div>`;
      })}
      ${noteAt && html`
        <form class="note-form" ref=${noteRef} data-testid="note-form" onSubmit=${saveNote}
          style=${`left:${noteAt.place.left}px;top:${noteAt.place.top}px;width:${noteAt.place.width}px`}>
          <label class="visually-hidden" for="note-text">${t('viewer.note_text')}</label>
          <textarea id="note-text" data-testid="note-text" rows="3" maxlength="5000" value=${noteText}
            onInput=${(e) => setNoteText(e.target.value)} placeholder=${t('viewer.note_text')}></textarea>
          <div class="note-actions">
            <button type="submit" class="button button-primary" data-testid="note-save">${t('viewer.note_save')}</button>
            <button type="button" class="button button-secondary" onClick=${() => setNoteAt(null)}>${t('common.cancel')}</button>
          </div>
        </form>`}
    </div>`;
}

function Mark({ a, viewport }) {
  const cls = `mark mark-${a.kind} mark-${a.visibility} ${a.pending ? 'pending' : ''}`;
  if (a.kind === 'highlight') {
    return html`<g class=${cls} data-testid="mark-highlight" data-visibility=${a.visibility}>
      ${a.geometry.rects.map(([x0, y0, x1, y1]) => {
        const [ax, ay] = viewport.convertToViewportPoint(x0, y0);
        const [bx, by] = viewport.convertToViewportPoint(x1, y1);
        return html`<rect x=${Math.min(ax, bx)} y=${Math.min(ay, by)} width=${Math.abs(bx - ax)} height=${Math.abs(by - ay)}
          fill=${a.color} />`;
      })}</g>`;
  }
  if (a.kind === 'ink') {
    return html`<g class=${cls} data-testid="mark-ink" data-visibility=${a.visibility}>
      ${a.geometry.paths.map((path) => html`<polyline fill="none" stroke=${a.color} stroke-width=${a.width * viewport.scale}
        stroke-linecap="round" stroke-linejoin="round"
        points=${path.map(([x, y]) => viewport.convertToViewportPoint(x, y).join(',')).join(' ')} />`)}</g>`;
  }
  return null; // notes are pins (HTML) above the layer
}

function Thumbnails({ pdf, page, goTo }) {
  const numbers = useMemo(() => Array.from({ length: pdf.numPages }, (_, i) => i + 1), [pdf]);
  return html`
    <nav class="thumbs" aria-label=${t('viewer.thumbnails')} data-testid="thumbnails">
      ${numbers.map((n) => html`<${Thumb} pdf=${pdf} n=${n} active=${n === page} goTo=${goTo} key=${n} />`)}
    </nav>`;
}

function Thumb({ pdf, n, active, goTo }) {
  const ref = useRef(null);
  const [seen, setSeen] = useState(false);
  useEffect(() => {
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) { setSeen(true); observer.disconnect(); }
    });
    observer.observe(ref.current);
    return () => observer.disconnect();
  }, []);
  useEffect(() => {
    if (!seen) return undefined;
    let task = null;
    let cancelled = false;
    pdf.getPage(n).then((page) => {
      if (cancelled) return;
      const base = page.getViewport({ scale: 1 });
      const vp = page.getViewport({ scale: 120 / base.width });
      const canvas = ref.current.querySelector('canvas');
      canvas.width = vp.width;
      canvas.height = vp.height;
      task = page.render({ canvasContext: canvas.getContext('2d'), viewport: vp });
      task.promise.catch(() => {});
    }).catch(() => {}); // a thumbnail of a document closed meanwhile: nothing to draw
    return () => { cancelled = true; if (task) task.cancel(); };
  }, [seen, pdf, n]);
  return html`
    <button type="button" class=${`thumb ${active ? 'active' : ''}`} ref=${ref} data-testid="thumb"
      aria-current=${active ? 'page' : undefined} onClick=${() => goTo(n)}>
      <canvas aria-hidden="true"></canvas><span>${n}</span>
    </button>`;
}

/** The notes list: beside the page on a wide screen, below it on a narrow one; the toolbar's notes button
 * brings it into view (on a narrow screen as a sheet over the bottom of the screen). */
function Sidebar({ doc, marks, queued, goTo, change, destroy, current, open, close }) {
  const sorted = [...marks].sort((a, b) => a.page - b.page || String(a.created_at).localeCompare(String(b.created_at)));
  const ref = useRef(null);
  useEffect(() => {
    if (!open || !ref.current) return;
    ref.current.scrollIntoView({ block: 'nearest' });
    const heading = ref.current.querySelector('h2');
    if (heading) heading.focus({ preventScroll: true });
  }, [open]);
  const pick = (n) => {
    goTo(n);
    if (window.matchMedia('(max-width: 900px)').matches) close();
  };
  return html`
    <aside class=${`viewer-side ${open ? 'open' : ''}`} id="viewer-notes" aria-labelledby="marks-heading" ref=${ref}
      data-testid="viewer-notes">
      <div class="viewer-side-head">
        <h2 id="marks-heading" tabindex="-1">${t('viewer.annotations')}</h2>
        ${open && html`<button type="button" class="button button-small button-secondary side-close" data-testid="notes-close"
          onClick=${close}>${t('viewer.notes_close')}</button>`}
      </div>
      ${sorted.length === 0 && queued.length === 0 && html`<p class="empty">${t('viewer.no_annotations')}</p>`}
      <ul class="mark-list" data-testid="mark-list">
        ${queued.map((q) => html`
          <li class="mark-row pending" data-testid="mark-row-pending" key=${q.client_id}>
            <span class="badge badge-queued">${t('viewer.waiting_one')}</span>
            <span>${t(`viewer.kind_${q.kind}`)} · ${t('viewer.page_n', { n: q.page })}</span>
            ${q.text && html`<span class="mark-text">${q.text}</span>`}
          </li>`)}
        ${sorted.map((a) => html`
          <li class="mark-row" data-testid="mark-row" data-kind=${a.kind} data-visibility=${a.visibility} key=${a.id}>
            <button type="button" class="link" onClick=${() => pick(a.page)}>
              ${t(`viewer.kind_${a.kind}`)} · ${t('viewer.page_n', { n: a.page })}</button>
            <span class="muted">${a.mine ? t('viewer.by_me') : a.author_name} · ${t(`viewer.vis_${a.visibility}`)}
              ${a.version !== current && html` · ${t('viewer.on_version', { n: a.version })}`}</span>
            ${a.text && html`<span class="mark-text" data-testid="mark-text">${a.text}</span>`}
            <span class="muted">${formatDateTime(a.created_at)}</span>
            ${a.mine && html`
              <span class="mark-tools">
                <button type="button" class="button button-small" data-testid="mark-share"
                  onClick=${() => change(a, { visibility: a.visibility === 'private' ? 'shared' : 'private' })}>
                  ${a.visibility === 'private' ? t('viewer.share') : t('viewer.unshare')}</button>
                <button type="button" class="button button-small button-icon-danger" data-testid="mark-delete"
                  onClick=${() => destroy(a)}>${t('common.delete')}</button>
              </span>`}
          </li>`)}
      </ul>
    </aside>`;
}

export const documentPath = (id, page) => `/documents/${id}${page ? `?page=${page}` : ''}`;
export function openDocument(id, page) { navigate(documentPath(id, page)); }
