// #/meetings/<id>/live: the member's tablet during the session (also bridge points and guests).
// Follows the chair by default (the current item and the presenter's page); the member can leave
// follow mode to browse the agenda, request the floor, and vote.
import { html, useEffect, useRef, useState } from '../lib/preact.js';
import { api } from '../lib/api.js';
import { formatNumber, t } from '../lib/i18n.js';
import { useLive } from '../lib/live_store.js';
import { bridgePath, consolePath, controlPath, livePath, meetingPath, wallPath } from '../lib/router.js';
import { ErrorBox, Loading, StatusBadge, useTitle } from './components.js';
import {
  ConnectionBanner, ConnectionDot, FloorCard, OnlineChip, PollPanel, QuorumChip, allowedSet, currentItem,
  lastClosedPoll, openPoll, sortedAgenda, speakerInfo,
} from './live_parts.js';

/** The top strip of every live screen: title, state, connection and quorum, and the links. */
export function LiveBar({ state, snapshot, here, children }) {
  const m = state.meeting;
  const staff = state.me && state.me.staff;
  return html`
    <section class="live-bar" aria-label=${t('live.session_bar')}>
      <div class="live-bar-title">
        <p class="breadcrumb"><a href=${`#${meetingPath(m.id)}`}>← ${t('live.back_to_meeting')}</a></p>
        <h1 tabindex="-1" data-testid="live-heading">${m.title}</h1>
      </div>
      <div class="live-bar-chips">
        <${StatusBadge} status=${m.status} />
        <${ConnectionDot} snapshot=${snapshot} />
        ${m.status === 'in_progress' && html`<${QuorumChip} quorum=${state.quorum} />`}
        <${OnlineChip} state=${state} />
      </div>
      <nav class="live-bar-links" aria-label=${t('live.screens')}>
        ${here !== 'live' && html`<a class="button button-secondary" href=${`#${livePath(m.id)}`} data-testid="link-live">${t('live.open_member')}</a>`}
        ${here !== 'bridge' && m.status === 'in_progress' && html`<a class="button button-secondary" href=${`#${bridgePath(m.id)}`} data-testid="link-bridge">${t('live.open_bridge')}</a>`}
        ${staff && here !== 'console' && html`<a class="button button-secondary" href=${`#${consolePath(m.id)}`} data-testid="link-console">${t('live.open_console')}</a>`}
        ${staff && html`<a class="button button-secondary" href=${`#${wallPath(m.id)}`} data-testid="link-wall">${t('live.open_wall')}</a>`}
        ${staff && here !== 'control' && m.status === 'in_progress' && html`<a class="button button-secondary" href=${`#${controlPath(m.id)}`} data-testid="link-control">${t('live.open_control')}</a>`}
        ${children}
      </nav>
    </section>`;
}

/** Loading, refusals and the banner around a live screen's body. */
export function LiveFrame({ snapshot, title, children, className = '' }) {
  useTitle(snapshot && snapshot.state ? snapshot.state.meeting.title : title);
  if (!snapshot || !snapshot.state) {
    return html`
      <main class=${`page page-live ${className}`} id="main">
        <h1 tabindex="-1" class="visually-hidden">${title}</h1>
        <${ConnectionBanner} snapshot=${snapshot} />
        ${snapshot && snapshot.error ? html`<${ErrorBox} error=${snapshot.error} testid="live-error" />` : html`<${Loading} />`}
      </main>`;
  }
  const stale = snapshot.connection !== 'online';
  return html`
    <main class=${`page page-live ${className}${stale ? ' live-stale' : ''}`} id="main" data-connection=${snapshot.connection}>
      <${ConnectionBanner} snapshot=${snapshot} />
      ${children}
    </main>`;
}

export function SessionNotice({ status }) {
  if (status === 'in_progress') return null;
  const key = status === 'published' ? 'live.not_started' : status === 'draft' ? 'live.draft' : 'live.ended';
  return html`<div class="alert alert-info" role="status" data-testid="session-notice">${t(key)}</div>`;
}

function followKey(meetingId) {
  return `ecabinet.follow.${meetingId}`;
}

function initialFollow(meetingId) {
  try {
    return window.sessionStorage.getItem(followKey(meetingId)) !== 'off';
  } catch {
    return true;
  }
}

export function LiveView({ meetingId }) {
  const [store, snapshot] = useLive(meetingId);
  const [following, setFollowing] = useState(() => initialFollow(meetingId));
  const [browsed, setBrowsed] = useState(null);

  function follow(on) {
    setFollowing(on);
    if (on) setBrowsed(null);
    try { window.sessionStorage.setItem(followKey(meetingId), on ? 'on' : 'off'); } catch { /* not kept */ }
  }

  return html`
    <${LiveFrame} snapshot=${snapshot} title=${t('live.title')}>
      ${snapshot && snapshot.state && html`
        <${MemberBody} store=${store} snapshot=${snapshot} state=${snapshot.state} following=${following}
          follow=${follow} browsed=${browsed} browse=${setBrowsed} />`}
    <//>`;
}

/** The meeting's documents this person may read (asked again when the item under discussion changes). */
export function useMeetingDocuments(meetingId, stamp) {
  const [documents, setDocuments] = useState([]);
  useEffect(() => {
    let live = true;
    api.documents(meetingId).then((list) => { if (live) setDocuments(list || []); }).catch(() => {});
    return () => { live = false; };
  }, [meetingId, stamp]);
  return documents;
}

function MemberBody({ store, snapshot, state, following, follow, browsed, browse }) {
  const documents = useMeetingDocuments(state.meeting.id, state.presenter && state.presenter.item_id);
  const agenda = sortedAgenda(state);
  const current = currentItem(state);
  const focusId = following ? (current && current.id) : (browsed || (current && current.id));
  const focus = agenda.find((i) => i.id === focusId) || null;
  const poll = openPoll(state);
  const last = lastClosedPoll(state);
  const allowed = allowedSet(state);
  const canVote = allowed.has('vote') && state.me.may_vote;
  const running = state.meeting.status === 'in_progress';
  // The result of a vote on the item under discussion comes first; older results go below.
  const lastOnTop = !poll && last && current && last.agenda_item_id === current.id;
  // Tapping another item leaves follow mode (the member browses); tapping the chair's item does not.
  const pick = (id) => {
    if (following && current && id === current.id) return;
    browse(id);
    if (following) follow(false);
  };
  // Leaving follow mode keeps the item on screen where it is: later moves of the chair don't move it.
  const toggleFollow = (on) => {
    if (!on && current) browse(current.id);
    follow(on);
  };

  return html`
    <${LiveBar} state=${state} snapshot=${snapshot} here="live" />
    <${SessionNotice} status=${state.meeting.status} />
    <div class="live-grid">
      <${AgendaPanel} agenda=${agenda} current=${current} focusId=${focusId} following=${following}
        follow=${toggleFollow} browse=${pick} page=${state.presenter && state.presenter.document_id ? state.presenter.page : null}
        running=${running} />
      <div class="live-main">
        ${poll && html`<${PollPanel} store=${store} state=${state} poll=${poll} canVote=${canVote} key=${`p${poll.id}`} />`}
        ${lastOnTop && html`<${PollPanel} store=${store} state=${state} poll=${last} canVote=${false} key=${`p${last.id}`} />`}
        <${FocusCard} item=${focus} current=${current} following=${following} presenter=${state.presenter}
          documents=${documents} status=${state.meeting.status} />
        ${running && html`<${SpeakCard} store=${store} state=${state} allowed=${allowed} />`}
        ${!poll && last && !lastOnTop && html`<${PollPanel} store=${store} state=${state} poll=${last} canVote=${false}
          className="poll-older" key=${`p${last.id}`} />`}
      </div>
    </div>`;
}

function AgendaPanel({ agenda, current, focusId, following, follow, browse, page, running }) {
  const list = useRef(null);
  // Following: keep the chair's item in view when it changes.
  useEffect(() => {
    if (!following || !current || !list.current) return;
    const el = list.current.querySelector(`[data-item-id="${current.id}"]`);
    if (el && el.scrollIntoView) el.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }, [following, current && current.id]);

  return html`
    <section class="card live-agenda" aria-labelledby="live-agenda-heading">
      <div class="section-head">
        <h2 id="live-agenda-heading">${t('meeting.agenda')}</h2>
      </div>
      ${running && html`
        <div class=${following ? 'follow follow-on' : 'follow follow-off'} data-testid="follow-indicator"
          data-following=${following ? 'true' : 'false'}>
          <span class="follow-state">
            <span class="follow-dot" aria-hidden="true"></span>
            ${following ? t('live.following') : t('live.browsing')}
          </span>
          <button type="button" class="button button-secondary" data-testid="follow-toggle" aria-pressed=${following ? 'true' : 'false'}
            onClick=${() => follow(!following)}>${following ? t('live.leave_follow') : t('live.follow_again')}</button>
        </div>`}
      <ol class="live-agenda-list" ref=${list} data-testid="live-agenda">
        ${agenda.map((item) => {
          const isCurrent = current && item.id === current.id;
          const isFocus = item.id === focusId;
          const cls = `live-agenda-item${isCurrent ? ' is-current' : ''}${isFocus ? ' is-focus' : ''} status-${item.status}`;
          return html`
            <li key=${item.id} data-item-id=${item.id}>
              <button type="button" class=${cls} data-testid="live-agenda-item" data-current=${isCurrent ? 'true' : 'false'}
                aria-current=${isCurrent ? 'step' : null} aria-pressed=${isFocus ? 'true' : 'false'}
                onClick=${() => browse(item.id)}>
                <span class="agenda-pos" aria-hidden="true">${item.position}</span>
                <span class="agenda-body">
                  <span class="agenda-title" data-testid="live-agenda-title">${item.title}</span>
                  <span class="agenda-meta">
                    ${isCurrent && html`<span class="badge badge-item badge-item-current">${t('agenda_status.current')}${page ? ` · ${t('live.page', { page: formatNumber(page) })}` : ''}</span>`}
                    ${!isCurrent && (item.status === 'done' || item.status === 'adopted') && html`<span class="badge badge-item badge-item-done">${t(`agenda_status.${item.status}`)}</span>`}
                    ${item.presenter && html`<span>${item.presenter}</span>`}
                  </span>
                </span>
              </button>
            </li>`;
        })}
      </ol>
    </section>`;
}

function FocusCard({ item, current, following, presenter, documents, status }) {
  if (!item) {
    const key = status === 'closed' || status === 'archived' ? 'live.session_over' : 'live.no_current_item';
    return html`<section class="card focus" data-testid="focus-card"><p class="muted" data-testid="focus-empty">${t(key)}</p></section>`;
  }
  const isCurrent = current && current.id === item.id;
  const papers = documents.filter((d) => d.agenda_item_id === item.id);
  const presented = isCurrent && presenter && presenter.document_id
    ? documents.find((d) => d.id === presenter.document_id) || { id: presenter.document_id, title: '' } : null;
  return html`
    <section class=${isCurrent ? 'card focus focus-current' : 'card focus'} data-testid="focus-card" aria-labelledby="focus-title">
      <span class="focus-kicker">${isCurrent ? t('live.current_item') : t('live.browsing_item')}</span>
      <h2 id="focus-title" class="focus-title" data-testid="focus-title">
        <span class="focus-pos">${item.position}.</span> ${item.title}
      </h2>
      <p class="agenda-meta">
        ${item.presenter && html`<span>${t('agenda.presenter', { name: item.presenter })}</span>`}
        ${item.planned_minutes > 0 && html`<span>${t('agenda.minutes', { n: formatNumber(item.planned_minutes) })}</span>`}
      </p>
      ${presented && following && html`
        <p class="presenter-page" data-testid="presenter-page">
          ${t('live.presenting_doc', { title: presented.title, page: formatNumber(presenter.page) })}
          <a class="button button-small button-secondary" data-testid="open-presented"
            href=${`#/documents/${presented.id}?page=${presenter.page}`}>${t('live.open_presented')}</a></p>`}
      <div class="item-documents">
        <h3 class="item-documents-title">${t('live.item_documents')}</h3>
        ${papers.length
          ? html`<ul class="item-document-list" data-testid="item-documents">
              ${papers.map((d) => html`<li key=${d.id}>
                <a class="item-document" data-testid="item-document" data-document-id=${d.id} href=${`#/documents/${d.id}`}>
                  <span class="item-document-name">${d.title}</span>
                  <span class="muted">${t('live.doc_pages', { n: formatNumber(d.page_count) })}</span>
                  ${d.secret && html`<span class="badge badge-secret">${t('live.doc_secret')}</span>`}
                </a></li>`)}
            </ul>`
          : html`<p class="muted" data-testid="item-documents-none">${t('live.item_no_documents')}</p>`}
      </div>
      ${!isCurrent && current && html`<p class="muted">${t('live.chair_is_at', { title: current.title })}</p>`}
    </section>`;
}

export function SpeakCard({ store, state, allowed }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const info = speakerInfo(state);
  const may = allowed.has('request_floor');
  const online = store.snapshot.connection === 'online';
  const hasItem = Boolean(state.presenter && state.presenter.item_id);

  async function act(event) {
    setBusy(true);
    setError(null);
    try {
      await store.send(event);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return html`
    <section class="card speak" aria-labelledby="speak-heading">
      <div class="section-head"><h2 id="speak-heading">${t('live.speakers')}</h2></div>
      <${FloorCard} store=${store} state=${state} />
      ${may && hasItem && html`
        <div class="speak-me">
          ${info.mine && info.mine.status === 'speaking' && html`<p class="speak-status speak-status-now" data-testid="my-floor">${t('live.you_have_floor')}</p>`}
          ${info.mine && info.mine.status === 'waiting' && html`
            <p class="speak-status" data-testid="queue-position">${t('live.queue_position', { n: formatNumber(info.position), total: formatNumber(info.waiting.length) })}</p>
            <button type="button" class="button button-secondary button-big" data-testid="speak-withdraw"
              disabled=${busy || !online} onClick=${() => act('speaker.withdraw')}>${t('live.withdraw')}</button>`}
          ${!info.mine && html`
            <button type="button" class="button button-primary button-big" data-testid="speak-request"
              disabled=${busy || !online} onClick=${() => act('speaker.request')}>${t('live.request_floor')}</button>`}
        </div>`}
      <${ErrorBox} error=${error} testid="speak-error" />
    </section>`;
}
