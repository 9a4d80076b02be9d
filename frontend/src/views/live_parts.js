// Pieces shared by the live screens (member tablet, chair console, wall): the clock and countdowns,
// the connection banner, quorum, the speaker on the floor, the poll panel and the result chart.
import { html, useEffect, useRef, useState } from '../lib/preact.js';
import { formatNumber, t } from '../lib/i18n.js';
import { storedBallot } from '../lib/live_store.js';
import { ErrorBox } from './components.js';

// --- reading the state -------------------------------------------------------------------------

export const allowedSet = (state) => new Set((state && state.allowed_actions) || []);

export function sortedAgenda(state) {
  return [...(state.agenda || [])].sort((a, b) => a.position - b.position || a.id - b.id);
}

/** The item under discussion: none before the start and after the end (the last one is done then). */
export function currentItem(state) {
  if (!state.meeting || state.meeting.status !== 'in_progress') return null;
  const id = state.presenter && state.presenter.item_id;
  return id ? (state.agenda || []).find((i) => i.id === id) || null : null;
}

export function speakerInfo(state) {
  const turns = (state.speakers && state.speakers.turns) || [];
  const speaking = turns.find((turn) => turn.status === 'speaking') || null;
  const waiting = turns.filter((turn) => turn.status === 'waiting');
  const done = turns.filter((turn) => turn.status === 'done');
  const pid = state.me && state.me.participant_id;
  const mine = turns.find((turn) => turn.participant_id === pid && (turn.status === 'waiting' || turn.status === 'speaking'));
  const position = mine && mine.status === 'waiting' ? waiting.indexOf(mine) + 1 : 0;
  return { speaking, waiting, done, next: waiting[0] || null, mine: mine || null, position };
}

export function openPoll(state) {
  return (state.polls || []).find((p) => p.status === 'open') || null;
}

export function lastClosedPoll(state) {
  const closed = (state.polls || []).filter((p) => p.status === 'closed');
  closed.sort((a, b) => String(b.closed_at || '').localeCompare(String(a.closed_at || '')) || b.id - a.id);
  return closed[0] || null;
}

export function draftPolls(state) {
  return (state.polls || []).filter((p) => p.status === 'draft');
}

/** An option's label in the current language (the three standard options are translated). */
export function optionLabel(option) {
  if (!option) return '';
  if (option.kind === 'yes' || option.kind === 'no' || option.kind === 'abstain') return t(`poll.option.${option.kind}`);
  return option.label;
}

export function optionByKey(poll, key) {
  return (poll.options || []).find((o) => o.key === key) || null;
}

// --- time ----------------------------------------------------------------------------------------

/** Re-renders every `ms` while `active` (for countdowns). */
export function useTick(active, ms = 500) {
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!active) return undefined;
    const timer = window.setInterval(() => setTick((n) => n + 1), ms);
    return () => window.clearInterval(timer);
  }, [active, ms]);
}

/** "03:07"; negative values as "+00:12" (over time). */
export function formatClock(seconds) {
  const over = seconds < 0;
  const s = Math.abs(seconds);
  const text = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  return over ? `+${text}` : text;
}

/** Seconds left until `iso` by the server's clock (the device's clock corrected for skew). */
export function secondsUntil(store, iso) {
  const end = Date.parse(iso);
  if (Number.isNaN(end)) return null;
  return Math.ceil((end - store.serverNow()) / 1000);
}

export function secondsSince(store, iso) {
  const start = Date.parse(iso);
  if (Number.isNaN(start)) return null;
  return Math.max(0, Math.floor((store.serverNow() - start) / 1000));
}

/** A countdown to `until` (or, without one, the time elapsed since `since`). */
export function Countdown({ store, until, since, overtime = true, testid = 'countdown', big = false }) {
  useTick(Boolean(until || since));
  let seconds;
  let cls = big ? 'countdown countdown-big' : 'countdown';
  if (until) {
    seconds = secondsUntil(store, until);
    if (seconds === null) return null;
    if (!overtime) seconds = Math.max(0, seconds);
    if (seconds < 0) cls += ' countdown-over';
    else if (seconds <= 30) cls += ' countdown-low';
  } else if (since) {
    seconds = secondsSince(store, since);
    if (seconds === null) return null;
    cls += ' countdown-elapsed';
  } else {
    return null;
  }
  const label = until ? (seconds < 0 ? t('live.overtime') : t('live.time_left')) : t('live.elapsed');
  return html`
    <span class=${cls} data-testid=${testid} role="timer" aria-label=${`${label}: ${formatClock(seconds)}`}>
      <span class="countdown-label">${label}</span>
      <span class="countdown-value">${formatClock(seconds)}</span>
    </span>`;
}

// --- connection, quorum ------------------------------------------------------------------------------

export function ConnectionBanner({ snapshot }) {
  if (!snapshot) return null;
  if (snapshot.connection === 'reconnecting') {
    return html`<div class="alert alert-warn live-banner" role="status" data-testid="connection-banner">
      <span class="spinner spinner-small" aria-hidden="true"></span>${t('live.reconnecting')}</div>`;
  }
  if (snapshot.connection === 'refused') {
    return html`<div class="alert alert-error live-banner" role="alert" data-testid="connection-banner">${t('live.refused')}</div>`;
  }
  return null;
}

export function ConnectionDot({ snapshot }) {
  const online = snapshot && snapshot.connection === 'online';
  return html`<span class=${online ? 'conn conn-online' : 'conn conn-offline'} data-testid="connection-status"
    data-state=${snapshot ? snapshot.connection : 'connecting'}>
    <span class="conn-dot" aria-hidden="true"></span>${online ? t('live.online') : t('live.offline')}</span>`;
}

export function QuorumChip({ quorum, testid = 'quorum' }) {
  if (!quorum) return null;
  const none = quorum.rule === 'none' || quorum.needed === 0;
  const cls = none ? 'chip' : quorum.reached ? 'chip chip-ok' : 'chip chip-warn';
  return html`
    <span class=${cls} data-testid=${testid} data-reached=${quorum.reached ? 'true' : 'false'}>
      <span class="chip-strong">${t('live.present_count', { present: formatNumber(quorum.present), entitled: formatNumber(quorum.entitled) })}</span>
      <span>${none ? t('live.quorum_none') : quorum.reached ? t('live.quorum_reached') : t('live.quorum_missing', { needed: formatNumber(quorum.needed) })}</span>
    </span>`;
}

export function OnlineChip({ state }) {
  const n = (state.presence && state.presence.count) || 0;
  return html`<span class="chip" data-testid="online-count">${t('live.online_count', { n: formatNumber(n) })}</span>`;
}

/** A person's name with their title (and "deputy" when standing in). */
export function PersonLine({ turn }) {
  return html`
    <span class="person">
      <span class="person-name" data-testid="person-name">${turn.full_name}</span>
      ${turn.title && html`<span class="person-title">${turn.title}</span>`}
      ${turn.deputy && html`<span class="badge badge-vote">${t('live.deputy')}</span>`}
    </span>`;
}

// --- the floor ----------------------------------------------------------------------------------------

/** Who has the floor (with the countdown) and who is next. */
export function FloorCard({ store, state, big = false, children }) {
  const { speaking, next, waiting } = speakerInfo(state);
  return html`
    <div class=${big ? 'floor floor-big' : 'floor'} data-testid="floor">
      <div class="floor-now">
        <span class="floor-label">${t('live.speaking_now')}</span>
        ${speaking
          ? html`<div class="floor-speaker" data-testid="speaking-now">
              <${PersonLine} turn=${speaking} />
              <${Countdown} store=${store} until=${speaking.ends_at} since=${speaking.ends_at ? null : speaking.started_at}
                big=${big} testid="speaker-countdown" />
            </div>`
          : html`<p class="muted" data-testid="speaking-nobody">${t('live.nobody_speaking')}</p>`}
      </div>
      <div class="floor-next">
        <span class="floor-label">${t('live.next')}</span>
        ${next
          ? html`<span data-testid="speaking-next"><${PersonLine} turn=${next} />
              ${waiting.length > 1 && html`<span class="muted"> ${t('live.more_waiting', { n: formatNumber(waiting.length - 1) })}</span>`}</span>`
          : html`<span class="muted">${t('live.queue_empty')}</span>`}
      </div>
      ${children}
    </div>`;
}

// --- polls ------------------------------------------------------------------------------------------------

export function PollBadges({ poll }) {
  return html`
    <span class="poll-badges">
      ${poll.secret ? html`<span class="badge badge-secret">${t('poll.secret')}</span>` : html`<span class="badge badge-role">${t('poll.named')}</span>`}
      <span class="badge badge-role">${t(`poll.majority.${poll.majority}`)}</span>
      ${poll.allow_change && html`<span class="badge badge-role">${t('poll.allow_change_badge')}</span>`}
    </span>`;
}

export function Turnout({ poll }) {
  const pct = poll.entitled ? Math.round((100 * poll.voted) / poll.entitled) : 0;
  return html`
    <div class="turnout" data-testid="turnout">
      <span>${t('poll.turnout', { voted: formatNumber(poll.voted), entitled: formatNumber(poll.entitled) })}</span>
      <span class="bar bar-thin" aria-hidden="true"><span class="bar-fill" style=${{ width: `${pct}%` }}></span></span>
    </div>`;
}

/** The result: one bar per option with its count, passed or not, and the quorum. */
export function ResultChart({ poll, big = false }) {
  const counts = (poll.result && poll.result.counts) || poll.counts || {};
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const r = poll.result;
  return html`
    <div class=${big ? 'result result-big' : 'result'} data-testid="poll-result">
      <ul class="result-bars">
        ${(poll.options || []).map((o) => {
          const n = counts[o.key] || 0;
          const pct = total ? Math.round((100 * n) / total) : 0;
          return html`
            <li class=${`result-row result-${o.kind}`} key=${o.key} data-testid="result-row" data-option=${o.key}>
              <span class="result-label">${optionLabel(o)}</span>
              <span class="bar" aria-hidden="true"><span class="bar-fill" style=${{ width: `${pct}%` }}></span></span>
              <span class="result-count" data-testid="result-count">${formatNumber(n)}</span>
            </li>`;
        })}
      </ul>
      ${r && html`
        <div class="result-verdict">
          <span class=${r.passed ? 'verdict verdict-passed' : 'verdict verdict-failed'} data-testid="poll-verdict">
            ${r.passed ? t('poll.passed') : t('poll.not_passed')}
          </span>
          <span class=${r.quorum_reached ? 'chip chip-ok' : 'chip chip-warn'} data-testid="poll-quorum">
            ${r.quorum_reached ? t('poll.quorum_ok') : t('poll.quorum_missing')}
          </span>
        </div>
        <p class="result-facts muted">
          ${t('poll.result_facts', {
            ballots: formatNumber(r.total_ballots), entitled: formatNumber(r.entitled), present: formatNumber(r.present),
            threshold: formatNumber(r.threshold),
          })}
        </p>`}
    </div>`;
}

/** The agenda item a poll belongs to (every result is labelled with its item, never another's). */
export function pollItem(state, poll) {
  if (!poll || !poll.agenda_item_id) return null;
  return (state.agenda || []).find((i) => i.id === poll.agenda_item_id) || null;
}

/** A named vote's choice; a secret one is never kept, not even on the voter's tablet. */
function myChoiceText(poll) {
  return poll.mine && poll.mine.choice ? optionLabel(optionByKey(poll, poll.mine.choice)) : '';
}

/**
 * The per-voter list a poll publishes (named votes, or secret receipts), asked for with `poll.ballots`
 * only when shown: sent with every result to every tablet it would make the result late.
 */
function useBallots(store, poll, wanted, spreadMs = 0) {
  const [ballots, setBallots] = useState(null);
  const [error, setError] = useState(null);
  const stamp = `${poll.id}:${poll.status}:${poll.status === 'open' ? poll.voted : ''}`;
  useEffect(() => {
    if (!wanted || !poll.ballots_published || !store) return undefined;
    let live = true;
    // Automatic checks are spread over a few seconds so a whole room does not ask in the same instant.
    const timer = setTimeout(() => {
      store.sendPoll('poll.ballots', { poll_id: poll.id })
        .then((ack) => { if (live) { setBallots(ack); setError(null); } })
        .catch((err) => { if (live) setError(err); });
    }, Math.random() * spreadMs);
    return () => { live = false; clearTimeout(timer); };
  }, [wanted, stamp, poll.ballots_published]);
  return [ballots, error];
}

function ReceiptBox({ store, poll, me }) {
  const kept = poll.secret && me ? storedBallot(me.user_id, poll.id) : null;
  const [ballots, error] = useBallots(store, poll, Boolean(kept) && poll.status === 'closed', 3000);
  if (!kept) return null;
  const receipts = ballots && ballots.receipts;
  const counted = receipts ? receipts.some((r) => r.receipt === kept.receipt) : false;
  let help = t('poll.receipt_help');
  if (poll.status === 'closed') {
    if (error) help = t('poll.receipt_unchecked');
    else if (!receipts) help = t('poll.receipt_checking');
    else help = counted ? t('poll.receipt_counted') : t('poll.receipt_missing');
  }
  return html`
    <div class="receipt" data-testid="receipt">
      <span class="receipt-label">${t('poll.receipt')}</span>
      <code class="receipt-code" data-testid="receipt-code">${kept.receipt}</code>
      <span class="muted receipt-help">${help}</span>
    </div>`;
}

/** Named votes or the published receipts of a secret poll, fetched when the reader opens the list. */
function BallotList({ store, poll }) {
  const [open, setOpen] = useState(false);
  const [ballots, error] = useBallots(store, poll, open);
  if (!poll.ballots_published || !poll.voted) return null;
  const label = poll.secret ? t('poll.receipts', { n: formatNumber(poll.voted) })
    : t('poll.named_votes', { n: formatNumber(poll.voted) });
  let body = html`<p class="muted">${t('app.loading')}</p>`;
  if (error) body = html`<${ErrorBox} error=${error} testid="ballots-error" />`;
  else if (ballots && ballots.votes) {
    body = html`<ul>${ballots.votes.map((v) => html`<li key=${v.participant_id}>${v.full_name}${v.by_deputy ? ` (${t('live.deputy')})` : ''}: <strong>${optionLabel(optionByKey(poll, v.choice))}</strong></li>`)}</ul>`;
  } else if (ballots && ballots.receipts) {
    body = html`<ul class="receipt-list">${ballots.receipts.map((r) => html`<li key=${r.receipt}><code>${r.receipt}</code></li>`)}</ul>`;
  }
  return html`
    <details class="ballots" data-testid="ballot-list" onToggle=${(e) => setOpen(e.currentTarget.open)}>
      <summary>${label}</summary>
      ${open && body}
    </details>`;
}

/**
 * A poll for a voter: the question, the options as big buttons (tap one, then confirm), the
 * countdown, turnout, "you voted" and the receipt of a secret ballot; after close, the result.
 */
export function PollPanel({ store, state, poll, canVote, className = '', headingLevel = 2, children }) {
  const [picked, setPicked] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const confirmRef = useRef(null);
  useEffect(() => { setPicked(null); setError(null); }, [poll.id, poll.status]);
  // After choosing, the required confirm step must be in sight (on a phone it was below the fold).
  useEffect(() => {
    const el = confirmRef.current;
    if (picked && el && el.scrollIntoView) el.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }, [picked]);
  const item = pollItem(state, poll);
  const me = state.me;
  const mine = poll.mine || { voted: false };
  const online = store.snapshot.connection === 'online';
  const kept = poll.secret && me ? storedBallot(me.user_id, poll.id) : null;
  const mayChange = poll.allow_change && (!poll.secret || kept);
  const showButtons = poll.status === 'open' && canVote && (!mine.voted || mayChange);
  const chosen = myChoiceText(poll);

  async function cast() {
    if (!picked || busy) return;
    setBusy(true);
    setError(null);
    try {
      await store.vote(poll, picked);
      setPicked(null);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const current = mine.voted ? poll.mine.choice : null;
  return html`
    <section class=${`card poll poll-${poll.status} ${className}`} data-testid="poll-panel" data-poll-id=${poll.id}
      data-status=${poll.status} aria-labelledby=${`poll-q-${poll.id}`}>
      <div class="poll-head">
        <span class="poll-kicker">${poll.status === 'closed' ? t('poll.result_title') : t('poll.title')}</span>
        ${poll.status === 'open' && poll.closes_at && html`<${Countdown} store=${store} until=${poll.closes_at} overtime=${false} testid="poll-countdown" />`}
      </div>
      ${item && html`<p class="poll-item" data-testid="poll-item" data-item-id=${item.id}>${t('poll.on_item', { position: item.position, title: item.title })}</p>`}
      ${headingLevel === 3
        ? html`<h3 class="poll-question" id=${`poll-q-${poll.id}`} data-testid="poll-question">${poll.question}</h3>`
        : html`<h2 class="poll-question" id=${`poll-q-${poll.id}`} data-testid="poll-question">${poll.question}</h2>`}
      <${PollBadges} poll=${poll} />
      ${poll.status === 'open' && html`<${Turnout} poll=${poll} />`}
      ${mine.voted && html`
        <p class="voted" data-testid="poll-voted">
          ${chosen ? t('poll.you_voted', { choice: chosen }) : t('poll.you_voted_secret')}
        </p>`}
      <${ReceiptBox} store=${store} poll=${poll} me=${me} />
      ${poll.status === 'open' && mine.voted && poll.secret && poll.allow_change && !kept && html`
        <p class="muted">${t('poll.no_receipt_here')}</p>`}
      ${showButtons && html`
        <div class="vote-options" role="group" aria-label=${t('poll.options')}>
          ${(poll.options || []).map((o) => html`
            <button type="button" key=${o.key} data-testid="vote-option" data-option=${o.key}
              class=${`vote-option vote-${o.kind}${picked === o.key ? ' picked' : ''}${current === o.key ? ' current' : ''}`}
              aria-pressed=${picked === o.key ? 'true' : 'false'} disabled=${busy || !online}
              onClick=${() => setPicked(o.key)}>${optionLabel(o)}</button>`)}
        </div>
        <button type="button" class="button button-primary button-block button-big vote-confirm" data-testid="vote-confirm"
          ref=${confirmRef} disabled=${!picked || busy || !online} onClick=${cast}>
          ${picked ? t('poll.confirm_vote', { choice: optionLabel(optionByKey(poll, picked)) }) : t('poll.pick_first')}
        </button>`}
      ${poll.status === 'open' && !canVote && !mine.voted && html`<p class="muted" data-testid="poll-no-vote">${t('poll.not_entitled')}</p>`}
      ${poll.status === 'open' && poll.counts && html`
        <p class="muted">${t('poll.interim')}</p>
        <${ResultChart} poll=${poll} />`}
      ${poll.status === 'closed' && html`<${ResultChart} poll=${poll} /><${BallotList} store=${store} poll=${poll} />`}
      <${ErrorBox} error=${error} testid="poll-error" />
      ${children}
    </section>`;
}
