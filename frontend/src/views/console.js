// #/meetings/<id>/console: the chair's console. The chair moves through the agenda, turns the
// presenter's page, runs the speaker queue, prepares, opens and closes polls, and sees quorum and
// turnout live. The secretary sees the same screen: it may turn pages, record attendance and prepare
// polls; everything else is shown read-only. What each may do comes from the state's allowed_actions.
import { html, useEffect, useState } from '../lib/preact.js';
import { api } from '../lib/api.js';
import { formatNumber, t } from '../lib/i18n.js';
import { useLive } from '../lib/live_store.js';
import { livePath } from '../lib/router.js';
import { ConfirmButton, ErrorBox } from './components.js';
import { LiveBar, LiveFrame, SessionNotice, useMeetingDocuments } from './live.js';
import {
  FloorCard, PersonLine, PollBadges, PollPanel, QuorumChip, allowedSet, currentItem, draftPolls, lastClosedPoll,
  openPoll, sortedAgenda, speakerInfo,
} from './live_parts.js';

const FLOOR_SECONDS = [120, 180, 300];
const POLL_LIMITS = [0, 60, 120, 180, 300, 600];
const MAJORITIES = ['majority_cast', 'majority_entitled', 'two_thirds'];

/** busy / error / run(work) for one group of controls. */
function useRunner() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  async function run(work) {
    if (busy) return null;
    setBusy(true);
    setError(null);
    try {
      return await work();
    } catch (err) {
      setError(err);
      return null;
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, run };
}

const minutesLabel = (seconds) => t('console.minutes', { n: formatNumber(seconds / 60) });

export function ConsoleView({ meetingId }) {
  const [store, snapshot] = useLive(meetingId);
  return html`
    <${LiveFrame} snapshot=${snapshot} title=${t('console.title')} className="page-console">
      ${snapshot && snapshot.state && html`<${ConsoleBody} store=${store} snapshot=${snapshot} state=${snapshot.state} />`}
    <//>`;
}

function ConsoleBody({ store, snapshot, state }) {
  const allowed = allowedSet(state);
  const online = snapshot.connection === 'online';
  if (!state.me.staff) {
    return html`
      <${LiveBar} state=${state} snapshot=${snapshot} here="console" />
      <div class="alert alert-info" role="status" data-testid="console-not-staff">
        ${t('console.staff_only')} <a href=${`#${livePath(state.meeting.id)}`}>${t('live.open_member')}</a>
      </div>`;
  }
  const ctx = { store, state, allowed, online };
  return html`
    <${LiveBar} state=${state} snapshot=${snapshot} here="console">
      <${SessionButtons} ...${ctx} />
    <//>
    <${SessionNotice} status=${state.meeting.status} />
    ${!allowed.has('run_agenda') && state.meeting.status === 'in_progress' && html`
      <p class="alert alert-info" data-testid="console-readonly">${t('console.secretary_note')}</p>`}
    <div class="console-grid">
      <div class="console-col">
        <${AgendaControl} ...${ctx} />
        <${PositionsControl} ...${ctx} />
      </div>
      <div class="console-col">
        <${SpeakersControl} ...${ctx} />
        <${AttendanceControl} ...${ctx} />
      </div>
      <div class="console-col">
        <${PollsControl} ...${ctx} />
      </div>
    </div>`;
}

function SessionButtons({ state, allowed, online }) {
  const { busy, error, run } = useRunner();
  const go = (action) => run(() => api.transition(state.meeting.id, action));
  return html`
    ${allowed.has('start') && html`
      <${ConfirmButton} label=${t('action.start')} question=${t('action.confirm_start')} variant="primary"
        disabled=${busy || !online} testid="console-start" onConfirm=${() => go('start')} />`}
    ${allowed.has('close') && html`
      <${ConfirmButton} label=${t('action.close')} question=${t('action.confirm_close')} disabled=${busy || !online}
        testid="console-close" onConfirm=${() => go('close')} />`}
    ${error && html`<div class="live-bar-error"><${ErrorBox} error=${error} testid="console-session-error" /></div>`}`;
}

// --- agenda and presenter --------------------------------------------------------------------------

function AgendaControl({ store, state, allowed, online }) {
  const { busy, error, run } = useRunner();
  const agenda = sortedAgenda(state);
  const current = currentItem(state);
  const presenter = state.presenter || {};
  const canRun = allowed.has('run_agenda');
  const canPresent = allowed.has('present');
  const goto = (item) => run(() => store.send('agenda.goto', { item_id: item.id }));
  // The page counter is presenting: it turns the page of a document of the current item, the same thing
  // as "present" in the viewer, so every tablet following the chair moves with it.
  const documents = useMeetingDocuments(state.meeting.id, presenter.item_id);
  const papers = current ? documents.filter((d) => d.agenda_item_id === current.id) : [];
  const shown = papers.find((d) => d.id === presenter.document_id) || null;
  const doc = shown || papers[0] || null;
  const page = shown ? presenter.page || 1 : 1;
  const present = (documentId, target) => run(() => store.send('presenter.page', { page: target, document_id: documentId }));
  const turn = (delta) => {
    if (!doc) return;
    const target = shown ? Math.min(Math.max(1, page + delta), doc.page_count || page + delta) : 1;
    present(doc.id, target);
  };

  return html`
    <section class="card console-agenda" aria-labelledby="console-agenda-heading">
      <div class="section-head"><h2 id="console-agenda-heading">${t('console.agenda')}</h2></div>
      ${current && html`
        <div class="pager" role="group" aria-label=${t('console.presenter_page')}>
          ${papers.length > 0 && html`
            <label class="pager-doc"><span class="pager-label">${t('console.presented_doc')}</span>
              <select data-testid="console-document" disabled=${!canPresent || busy || !online}
                value=${shown ? String(shown.id) : ''} onChange=${(e) => { if (e.currentTarget.value) present(Number(e.currentTarget.value), 1); }}>
                ${!shown && html`<option value="">${t('console.not_presenting')}</option>`}
                ${papers.map((d) => html`<option key=${d.id} value=${String(d.id)}>${d.title}</option>`)}
              </select></label>`}
          ${papers.length === 0 && html`<span class="muted" data-testid="console-no-document">${t('console.item_no_documents')}</span>`}
          <span class="pager-label">${t('console.presenter_page')}</span>
          <button type="button" class="button button-icon" data-testid="page-prev" aria-label=${t('console.page_prev')}
            disabled=${!canPresent || busy || !online || !shown || page <= 1} onClick=${() => turn(-1)}>−</button>
          <span class="pager-value" data-testid="console-page" data-document-id=${shown ? shown.id : ''}>${shown ? formatNumber(page) : '–'}</span>
          ${shown && html`<span class="muted">/ ${formatNumber(shown.page_count)}</span>`}
          <button type="button" class="button button-icon" data-testid="page-next" aria-label=${t('console.page_next')}
            disabled=${!canPresent || busy || !online || !doc || (shown && page >= shown.page_count)} onClick=${() => turn(1)}>+</button>
        </div>`}
      <ol class="console-agenda-list">
        ${agenda.map((item) => {
          const isCurrent = current && current.id === item.id;
          return html`
            <li key=${item.id} class=${`console-agenda-item${isCurrent ? ' is-current' : ''}`} data-testid="console-agenda-item"
              data-item-id=${item.id} data-current=${isCurrent ? 'true' : 'false'}>
              <span class="agenda-pos" aria-hidden="true">${item.position}</span>
              <span class="agenda-body">
                <span class="agenda-title" data-testid="console-agenda-title">${item.title}</span>
                <span class="agenda-meta">
                  ${isCurrent && html`<span class="badge badge-item badge-item-current">${t('agenda_status.current')}</span>`}
                  ${!isCurrent && (item.status === 'done' || item.status === 'adopted') && html`<span class="badge badge-item badge-item-done">${t(`agenda_status.${item.status}`)}</span>`}
                  ${item.planned_minutes > 0 && html`<span>${t('agenda.minutes', { n: formatNumber(item.planned_minutes) })}</span>`}
                  ${canRun && !isCurrent && html`
                    <button type="button" class="button button-secondary button-small goto" data-testid="agenda-goto"
                      aria-label=${t('console.goto_label', { title: item.title })} disabled=${busy || !online}
                      onClick=${() => goto(item)}>${t('console.goto')}</button>`}
                </span>
              </span>
            </li>`;
        })}
      </ol>
      <${ErrorBox} error=${error} testid="agenda-error" />
    </section>`;
}

// --- positions before the session ------------------------------------------------------------------

/** The members' positions on the current item (objections with their reasons, who has not answered),
 * and the chair's "adopt together" for the items every member said "no objection" to. */
function PositionsControl({ state, allowed, online }) {
  const { busy, error, run } = useRunner();
  const [data, setData] = useState(null);
  const [notice, setNotice] = useState('');
  const current = currentItem(state);
  const agendaKey = sortedAgenda(state).map((i) => `${i.id}:${i.status}`).join(',');
  useEffect(() => {
    let live = true;
    api.positions(state.meeting.id).then((d) => live && setData(d)).catch(() => live && setData(null));
    return () => { live = false; };
  }, [state.meeting.id, agendaKey, current && current.id]);
  if (!data) return null;
  const item = current && data.items.find((i) => i.agenda_item_id === current.id);
  const objections = item ? (item.positions || []).filter((p) => p.position !== 'no_objection') : [];
  const silent = item ? (item.not_answered || []) : [];
  const adoptable = data.items.filter((i) => i.adoptable).length;
  const adopt = () => run(async () => {
    const out = await api.adoptUnopposed(state.meeting.id);
    setData(out);
    setNotice(t('positions.adopted', { n: formatNumber(out.adopted.length) }));
  });
  return html`
    <section class="card console-positions" aria-labelledby="console-positions-heading" data-testid="console-positions">
      <div class="section-head"><h2 id="console-positions-heading">${t('positions.console_heading')}</h2></div>
      ${item && html`
        ${objections.length === 0
          ? html`<p class="muted" data-testid="console-no-objections">${t('positions.no_objections')}</p>`
          : html`<ul class="positions-list" data-testid="console-objections">
              ${objections.map((p) => html`<li key=${p.participant_id} data-testid="console-objection">
                <strong>${p.full_name}</strong>${': '}${t(`positions.${p.position}`)}${p.reason ? ` — ${p.reason}` : ''}</li>`)}
            </ul>`}
        <p class="muted" data-testid="console-not-answered">${silent.length
          ? t('positions.not_answered', { names: silent.map((p) => p.full_name).join(', ') })
          : t('positions.everyone_answered')}</p>`}
      ${allowed.has('adopt_unopposed') && (adoptable > 0
        ? html`<${ConfirmButton} label=${t('positions.adopt_count', { n: formatNumber(adoptable) })}
            question=${t('positions.confirm_adopt', { n: formatNumber(adoptable) })} variant="primary"
            disabled=${busy || !online} testid="console-adopt" onConfirm=${adopt} />`
        : html`<p class="muted" data-testid="console-nothing-adoptable">${t('positions.none_adoptable')}</p>`)}
      ${notice && html`<p class="alert alert-ok" role="status" data-testid="console-adopt-notice">${notice}</p>`}
      <${ErrorBox} error=${error} testid="console-positions-error" />
    </section>`;
}

// --- speakers ------------------------------------------------------------------------------------------

function SpeakersControl({ store, state, allowed, online }) {
  const { busy, error, run } = useRunner();
  const [seconds, setSeconds] = useState(180);
  const [newTime, setNewTime] = useState(180);
  const info = speakerInfo(state);
  const manage = allowed.has('manage_speakers');
  const ids = info.waiting.map((turn) => turn.id);
  const off = busy || !online;

  const give = (turn) => run(() => store.send('speaker.give', { turn_id: turn.id, ...(seconds ? { seconds } : {}) }));
  const move = (index, delta) => {
    const order = ids.slice();
    const [moved] = order.splice(index, 1);
    order.splice(index + delta, 0, moved);
    return run(() => store.send('speaker.reorder', { turn_ids: order }));
  };

  return html`
    <section class="card console-speakers" aria-labelledby="console-speakers-heading">
      <div class="section-head">
        <h2 id="console-speakers-heading">${t('live.speakers')}</h2>
        <span class="muted">${t('console.waiting_count', { n: formatNumber(info.waiting.length) })}</span>
      </div>
      <${FloorCard} store=${store} state=${state}>
        ${manage && info.speaking && html`
          <div class="floor-tools">
            <button type="button" class="button button-danger" data-testid="speaker-end" disabled=${off}
              onClick=${() => run(() => store.send('speaker.end'))}>${t('console.end_floor')}</button>
            <span class="inline-field">
              <label for="speaker-time">${t('console.set_time')}</label>
              <select id="speaker-time" value=${String(newTime)} data-testid="speaker-time-select"
                onChange=${(e) => setNewTime(Number(e.currentTarget.value))}>
                ${[...FLOOR_SECONDS, 600].map((s) => html`<option value=${String(s)} selected=${s === newTime}>${minutesLabel(s)}</option>`)}
              </select>
              <button type="button" class="button button-secondary" data-testid="speaker-time" disabled=${off}
                onClick=${() => run(() => store.send('speaker.time', { seconds: newTime }))}>${t('console.apply_time')}</button>
            </span>
          </div>`}
      <//>
      ${manage && html`
        <div class="inline-field give-time">
          <label for="give-seconds">${t('console.floor_time')}</label>
          <select id="give-seconds" value=${String(seconds)} data-testid="give-seconds"
            onChange=${(e) => setSeconds(Number(e.currentTarget.value))}>
            ${FLOOR_SECONDS.map((s) => html`<option value=${String(s)} selected=${s === seconds}>${minutesLabel(s)}</option>`)}
            <option value="0" selected=${seconds === 0}>${t('console.no_limit')}</option>
          </select>
        </div>`}
      ${info.waiting.length > 0 && html`
          <ol class="queue" data-testid="speaker-queue">
            ${info.waiting.map((turn, index) => html`
              <li class="queue-row" key=${turn.id} data-testid="queue-row" data-turn-id=${turn.id}>
                <span class="queue-pos" aria-hidden="true">${index + 1}</span>
                <${PersonLine} turn=${turn} />
                ${manage && html`
                  <span class="queue-tools">
                    <button type="button" class="button button-icon" disabled=${off || index === 0} data-testid="queue-up"
                      aria-label=${t('console.queue_up', { name: turn.full_name })} onClick=${() => move(index, -1)}>▲</button>
                    <button type="button" class="button button-icon" disabled=${off || index === ids.length - 1} data-testid="queue-down"
                      aria-label=${t('console.queue_down', { name: turn.full_name })} onClick=${() => move(index, 1)}>▼</button>
                    <button type="button" class="button button-primary" data-testid="speaker-give" disabled=${off}
                      aria-label=${t('console.give_label', { name: turn.full_name })} onClick=${() => give(turn)}>${t('console.give_floor')}</button>
                  </span>`}
              </li>`)}
          </ol>`}
      ${info.done.length > 0 && html`
        <details class="done-list">
          <summary>${t('console.done_count', { n: formatNumber(info.done.length) })}</summary>
          <ul>${info.done.map((turn) => html`<li key=${turn.id}>${turn.full_name}</li>`)}</ul>
        </details>`}
      <${ErrorBox} error=${error} testid="speakers-error" />
    </section>`;
}

// --- attendance ----------------------------------------------------------------------------------------

function AttendanceControl({ store, state, allowed, online }) {
  const { busy, error, run } = useRunner();
  const canRecord = allowed.has('record_attendance');
  const present = new Set((state.attendance || []).map((a) => a.participant_id));
  const onlineUsers = new Set((state.presence && state.presence.online) || []);
  const people = state.participants || [];
  const record = (p, value) => run(() => store.send('attendance.record', { participant_id: p.id, present: value }));

  return html`
    <section class="card console-attendance" aria-labelledby="console-attendance-heading">
      <div class="section-head">
        <h2 id="console-attendance-heading">${t('console.attendance')}</h2>
        <${QuorumChip} quorum=${state.quorum} testid="console-quorum" />
      </div>
      <ul class="attendance-list">
        ${people.map((p) => {
          const here = present.has(p.id);
          const connected = onlineUsers.has(p.user_id) || (p.deputy_user_id && onlineUsers.has(p.deputy_user_id));
          return html`
            <li class="attendance-row" key=${p.id} data-testid="attendance-row" data-participant-id=${p.id}
              data-present=${here ? 'true' : 'false'}>
              <span class=${connected ? 'conn-dot conn-dot-on' : 'conn-dot'} title=${connected ? t('live.online') : t('live.offline')}
                aria-label=${connected ? t('live.online') : t('live.offline')} role="img"></span>
              <span class="person">
                <span class="person-name">${p.full_name}</span>
                <span class="person-title">${t(`role.${p.role}`)}${p.deputy_full_name ? ` · ${t('participants.deputy', { name: p.deputy_full_name })}` : ''}</span>
              </span>
              ${canRecord
                ? html`
                  <span class="segmented" role="group" aria-label=${t('console.attendance_of', { name: p.full_name })}>
                    <button type="button" class=${here ? 'seg seg-on' : 'seg'} aria-pressed=${here ? 'true' : 'false'}
                      data-testid="attendance-present" disabled=${busy || !online || here} onClick=${() => record(p, true)}>${t('console.present')}</button>
                    <button type="button" class=${!here ? 'seg seg-off' : 'seg'} aria-pressed=${!here ? 'true' : 'false'}
                      data-testid="attendance-absent" disabled=${busy || !online || !here} onClick=${() => record(p, false)}>${t('console.absent')}</button>
                  </span>`
                : html`<span class=${here ? 'badge badge-item-current' : 'badge badge-draft'}>${here ? t('console.present') : t('console.absent')}</span>`}
            </li>`;
        })}
      </ul>
      <${ErrorBox} error=${error} testid="attendance-error" />
    </section>`;
}

// --- polls ---------------------------------------------------------------------------------------------

function PollsControl({ store, state, allowed, online }) {
  const { busy, error, run } = useRunner();
  const open = openPoll(state);
  const drafts = draftPolls(state);
  const last = lastClosedPoll(state);
  const canRun = allowed.has('run_polls');
  const canVote = allowed.has('vote') && state.me.may_vote;
  const openIt = (poll) => run(() => store.sendPoll('poll.open', { poll_id: poll.id }));
  const closeIt = (poll) => run(() => store.sendPoll('poll.close', { poll_id: poll.id }));

  return html`
    <section class="console-polls" aria-labelledby="console-polls-heading">
      <h2 id="console-polls-heading" class="visually-hidden">${t('poll.title')}</h2>
      ${open && html`
        <${PollPanel} store=${store} state=${state} poll=${open} canVote=${canVote} key=${`open-${open.id}`}>
          ${canRun && html`
            <div class="poll-tools">
              <${ConfirmButton} label=${t('console.close_poll')} question=${t('console.confirm_close_poll')}
                disabled=${busy || !online} testid="poll-close" onConfirm=${() => closeIt(open)} />
            </div>`}
        <//>`}
      ${drafts.length > 0 && html`
        <section class="card" aria-labelledby="drafts-heading">
          <div class="section-head"><h2 id="drafts-heading">${t('console.drafts')}</h2></div>
          <ul class="draft-list">
            ${drafts.map((poll) => html`
              <li class="draft-row" key=${poll.id} data-testid="poll-draft" data-poll-id=${poll.id}>
                <span class="draft-body">
                  <span class="draft-question">${poll.question}</span>
                  <${PollBadges} poll=${poll} />
                </span>
                ${canRun ? html`
                  <button type="button" class="button button-primary" data-testid="poll-open" disabled=${busy || !online || Boolean(open)
                    || state.meeting.status !== 'in_progress'} onClick=${() => openIt(poll)}>${t('console.open_poll')}</button>`
                  : html`<span class="muted">${t('console.chair_opens')}</span>`}
              </li>`)}
          </ul>
        </section>`}
      <${ErrorBox} error=${error} testid="polls-error" />
      ${!open && last && html`<${PollPanel} store=${store} state=${state} poll=${last} canVote=${false} key=${`last-${last.id}`} />`}
      ${allowed.has('prepare_polls') && html`<${PollForm} store=${store} online=${online} />`}
    </section>`;
}

function PollForm({ store, online }) {
  const { busy, error, run } = useRunner();
  const [question, setQuestion] = useState('');
  const [options, setOptions] = useState('');
  const [secret, setSecret] = useState(false);
  const [majority, setMajority] = useState('majority_cast');
  const [quorum, setQuorum] = useState(true);
  const [change, setChange] = useState(false);
  const [interim, setInterim] = useState(false);
  const [limit, setLimit] = useState(0);

  async function submit(event) {
    event.preventDefault();
    const clean = question.trim();
    if (!clean) return;
    const labels = options.split('\n').map((s) => s.trim()).filter(Boolean);
    const payload = {
      question: clean, secret, majority, quorum_required: quorum, allow_change: change,
      show_interim: interim && !secret, ...(labels.length ? { options: labels } : {}),
      ...(limit ? { time_limit_seconds: limit } : {}),
    };
    const ack = await run(() => store.send('poll.create', payload));
    if (ack) {
      setQuestion('');
      setOptions('');
    }
  }

  return html`
    <form class="card form poll-form" onSubmit=${submit} data-testid="poll-form" aria-labelledby="poll-form-heading">
      <div class="section-head"><h2 id="poll-form-heading">${t('console.new_poll')}</h2></div>
      <div class="field">
        <label for="pf-question">${t('console.poll_question')}</label>
        <textarea id="pf-question" required maxlength="1000" rows="2" value=${question} data-testid="poll-question-input"
          onInput=${(e) => setQuestion(e.currentTarget.value)}></textarea>
      </div>
      <div class="field">
        <label for="pf-options">${t('console.poll_options')}</label>
        <textarea id="pf-options" rows="2" value=${options} data-testid="poll-options-input"
          placeholder=${t('console.poll_options_placeholder')} onInput=${(e) => setOptions(e.currentTarget.value)}></textarea>
      </div>
      <div class="field-row">
        <div class="field">
          <label for="pf-majority">${t('console.poll_majority')}</label>
          <select id="pf-majority" value=${majority} data-testid="poll-majority" onChange=${(e) => setMajority(e.currentTarget.value)}>
            ${MAJORITIES.map((m) => html`<option value=${m} selected=${m === majority}>${t(`poll.majority.${m}`)}</option>`)}
          </select>
        </div>
        <div class="field">
          <label for="pf-limit">${t('console.poll_limit')}</label>
          <select id="pf-limit" value=${String(limit)} data-testid="poll-limit" onChange=${(e) => setLimit(Number(e.currentTarget.value))}>
            ${POLL_LIMITS.map((s) => html`<option value=${String(s)} selected=${s === limit}>${s ? minutesLabel(s) : t('console.no_limit')}</option>`)}
          </select>
        </div>
      </div>
      <div class="checks">
        <div class="field field-check">
          <input id="pf-secret" type="checkbox" checked=${secret} data-testid="poll-secret" onChange=${(e) => setSecret(e.currentTarget.checked)} />
          <label for="pf-secret">${t('console.poll_secret')}</label>
        </div>
        <div class="field field-check">
          <input id="pf-quorum" type="checkbox" checked=${quorum} data-testid="poll-quorum-required" onChange=${(e) => setQuorum(e.currentTarget.checked)} />
          <label for="pf-quorum">${t('console.poll_quorum')}</label>
        </div>
        <div class="field field-check">
          <input id="pf-change" type="checkbox" checked=${change} data-testid="poll-allow-change" onChange=${(e) => setChange(e.currentTarget.checked)} />
          <label for="pf-change">${t('console.poll_change')}</label>
        </div>
        <div class="field field-check">
          <input id="pf-interim" type="checkbox" checked=${interim && !secret} disabled=${secret} data-testid="poll-interim"
            onChange=${(e) => setInterim(e.currentTarget.checked)} />
          <label for="pf-interim">${t('console.poll_interim')}</label>
        </div>
      </div>
      <${ErrorBox} error=${error} testid="poll-form-error" />
      <button type="submit" class="button button-primary" disabled=${busy || !online || !question.trim()} data-testid="poll-create">
        ${t('console.create_poll')}
      </button>
    </form>`;
}
