// One meeting: its details, agenda and participants; and for those allowed, the tools to prepare it
// (agenda items, participants) and to move it through its states (publish, start, close, ...).
import { html, useEffect, useRef, useState } from '../lib/preact.js';
import { api } from '../lib/api.js';
import { formatDateTime, formatNumber, t } from '../lib/i18n.js';
import { consolePath, livePath, roundPath, wallPath } from '../lib/router.js';
import {
  ConfidentialityBadge, ConfirmButton, ErrorBox, Loading, Notice, RoleBadge, StatusBadge, useTitle,
} from './components.js';
import { RecordsSection } from './record.js';
import { MeetingTasksSection } from './meeting_tasks.js';
import { PositionsSection } from './positions.js';
import { DocumentsSection } from './documents.js';

const ROLES = ['chair', 'secretary', 'member', 'guest', 'bridge'];
const VOTING_ROLES = new Set(['chair', 'member']);
const STAFF_ROLES = new Set(['chair', 'secretary']);
const LIVE_STATES = new Set(['published', 'in_progress']);
// Transitions in the order they happen; each asks for confirmation, saying what will happen.
const TRANSITIONS = [
  { action: 'publish', variant: 'primary' },
  { action: 'start', variant: 'primary' },
  { action: 'close', variant: 'danger' },
  { action: 'archive', variant: 'secondary' },
  { action: 'withdraw', variant: 'secondary' },
];

/** The confirmation question of a transition (publishing an opinion round sends the ballot). */
function confirmQuestion(meeting, action) {
  return t(action === 'publish' && meeting.kind === 'opinion_round' ? 'action.confirm_publish_round' : `action.confirm_${action}`);
}

export function MeetingView({ meetingId }) {
  const [meeting, setMeeting] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);
  useTitle(meeting ? meeting.title : t('meeting.loading_title'));

  async function reload() {
    try {
      setMeeting(await api.meeting(meetingId));
      setLoadError(null);
    } catch (err) {
      setLoadError(err);
    }
  }
  useEffect(() => { reload(); }, [meetingId]);

  /** Runs one change: disables the tools meanwhile, shows the refusal or a confirmation. */
  async function run(work, doneText) {
    if (busy) return false;
    setBusy(true);
    setError(null);
    setNotice('');
    try {
      await work();
      if (doneText) setNotice(doneText);
      return true;
    } catch (err) {
      setError(err);
      await reload();
      return false;
    } finally {
      setBusy(false);
    }
  }

  if (!meeting) {
    return html`
      <main class="page" id="main">
        <p class="breadcrumb"><a href="#/meetings">← ${t('nav.back_to_list')}</a></p>
        <h1 tabindex="-1" class="visually-hidden">${t('meeting.loading_title')}</h1>
        ${loadError ? html`<${ErrorBox} error=${loadError} />` : html`<${Loading} />`}
      </main>`;
  }

  const allowed = new Set(meeting.allowed_actions || []);
  const ctx = { meeting, allowed, busy, run, reload, setMeeting };
  return html`
    <main class="page page-meeting" id="main">
      <p class="breadcrumb"><a href="#/meetings">← ${t('nav.back_to_list')}</a></p>
      <${MeetingHeader} ...${ctx} />
      <div class="messages" aria-live="polite">
        <${ErrorBox} error=${error} testid="meeting-error" />
        <${Notice} text=${notice} testid="meeting-notice" />
      </div>
      <div class="meeting-columns">
        ${meeting.kind === 'opinion_round' ? html`<${RoundQuestions} meeting=${meeting} />` : html`<${AgendaSection} ...${ctx} />`}
        <${ParticipantsSection} ...${ctx} />
      </div>
      <${DocumentsSection} meeting=${meeting} allowed=${allowed} />
      <${PositionsSection} meeting=${meeting} allowed=${allowed} />
      <${RecordsSection} meeting=${meeting} />
      <${MeetingTasksSection} meeting=${meeting} />
    </main>`;
}

function MeetingHeader({ meeting: m, allowed, busy, run, setMeeting }) {
  const transitions = TRANSITIONS.filter((tr) => allowed.has(tr.action));
  const transition = (action) => run(async () => {
    setMeeting(await api.transition(m.id, action));
  }, t(`notice.${action}`));

  return html`
    <section class="card meeting-head" aria-labelledby="meeting-title">
      <div class="meeting-head-top">
        <h1 id="meeting-title" tabindex="-1" data-testid="meeting-heading">${m.title}</h1>
        <div class="badges">
          <${StatusBadge} status=${m.status} />
          <${ConfidentialityBadge} level=${m.confidentiality} />
        </div>
      </div>
      <dl class="facts">
        <div><dt>${t('meeting.time')}</dt><dd data-testid="meeting-time">${formatDateTime(m.starts_at)}</dd></div>
        ${m.place && html`<div><dt>${t('meeting.place')}</dt><dd>${m.place}</dd></div>`}
        ${m.body_name && html`<div><dt>${t('meeting.body')}</dt><dd>${m.body_name}</dd></div>`}
        <div><dt>${t('meeting.kind')}</dt><dd>${t(`kind.${m.kind}`)}</dd></div>
        ${m.my_role && html`<div><dt>${t('meeting.my_role')}</dt><dd data-testid="meeting-my-role">${t(`role.${m.my_role}`)}</dd></div>`}
      </dl>
      ${m.description && html`<p class="description">${m.description}</p>`}
      ${(transitions.length > 0 || allowed.has('edit_details')) && html`
        <div class="toolbar" role="group" aria-label=${t('meeting.actions')}>
          ${transitions.map((tr) => html`<${ConfirmButton} label=${t(`action.${tr.action}`)}
              question=${confirmQuestion(m, tr.action)} variant=${tr.variant} disabled=${busy} testid=${`action-${tr.action}`}
              onConfirm=${() => transition(tr.action)} />`)}
          ${allowed.has('edit_details') && html`
            <a class="button button-secondary" href=${`#/meetings/${m.id}/edit`} data-testid="edit-meeting">${t('meeting.edit')}</a>`}
        </div>`}
      <${LiveLinks} meeting=${m} />
    </section>`;
}

/** The way into the live session: the tablet view for everyone, the console and the wall for the staff. */
function LiveLinks({ meeting: m }) {
  if (m.kind === 'opinion_round') {
    return html`
      <div class="toolbar toolbar-live">
        <a class="button button-primary" href=${`#${roundPath(m.id)}`} data-testid="open-round">${t('round.open')}</a>
      </div>`;
  }
  if (!LIVE_STATES.has(m.status)) return null;
  const staff = STAFF_ROLES.has(m.my_role);
  return html`
    <div class="toolbar toolbar-live" role="group" aria-label=${t('meeting.live_actions')}>
      ${m.status === 'in_progress' && html`<span class="live-pulse" aria-hidden="true"></span>`}
      <a class="button button-primary" href=${`#${livePath(m.id)}`} data-testid="open-live">${t('meeting.open_live')}</a>
      ${staff && html`
        <a class="button button-secondary" href=${`#${consolePath(m.id)}`} data-testid="open-console">${t('meeting.open_console')}</a>
        <a class="button button-secondary" href=${`#${wallPath(m.id)}`} data-testid="open-wall">${t('meeting.open_wall')}</a>`}
    </div>`;
}

/** An opinion round has questions and a deadline (set on its own page), not an agenda with minutes. */
function RoundQuestions({ meeting: m }) {
  const [round, setRound] = useState(null);
  useEffect(() => {
    let live = true;
    api.round(m.id).then((r) => live && setRound(r)).catch(() => live && setRound(null));
    return () => { live = false; };
  }, [m.id, m.status]);
  const questions = (round && round.questions) || [];
  return html`
    <section class="card section-agenda" aria-labelledby="questions-heading" data-testid="round-questions-section">
      <div class="section-head">
        <h2 id="questions-heading">${t('round.questions_heading')}</h2>
        ${round && html`<span class="muted">${t('round.deadline')}: ${formatDateTime(round.deadline)}</span>`}
      </div>
      ${questions.length === 0
        ? html`<p class="empty">${t('round.no_questions')}</p>`
        : html`<ol class="agenda-list">${questions.map((q) => html`<li key=${q.id} class="agenda-item">${q.text}</li>`)}</ol>`}
      <a class="button button-secondary" href=${`#${roundPath(m.id)}`}>${t('round.open')}</a>
    </section>`;
}

function AgendaSection({ meeting: m, allowed, busy, run, reload, setMeeting }) {
  const manage = allowed.has('manage_agenda');
  const items = [...(m.agenda || [])].sort((a, b) => a.position - b.position);
  const total = items.reduce((sum, item) => sum + (item.planned_minutes || 0), 0);

  const move = (index, delta) => {
    const ids = items.map((item) => item.id);
    const [moved] = ids.splice(index, 1);
    ids.splice(index + delta, 0, moved);
    return run(async () => {
      const agenda = await api.reorderAgenda(m.id, ids);
      setMeeting((current) => ({ ...current, agenda }));
    });
  };
  const remove = (item) => run(async () => {
    await api.deleteAgendaItem(m.id, item.id);
    await reload();
  }, t('notice.agenda_deleted', { title: item.title }));

  return html`
    <section class="card section-agenda" aria-labelledby="agenda-heading">
      <div class="section-head">
        <h2 id="agenda-heading">${t('meeting.agenda')}</h2>
        ${total > 0 && html`<span class="muted">${t('agenda.total', { n: formatNumber(total) })}</span>`}
      </div>
      ${items.length === 0
        ? html`<p class="empty" data-testid="agenda-empty">${t('agenda.empty')}</p>`
        : html`
          <ol class="agenda-list" data-testid="agenda-list">
            ${items.map((item, index) => html`
              <li class="agenda-item" key=${item.id} data-testid="agenda-item" data-item-id=${item.id}>
                <span class="agenda-pos" aria-hidden="true">${item.position}</span>
                <div class="agenda-body">
                  <span class="agenda-title" data-testid="agenda-item-title">${item.title}</span>
                  <span class="agenda-meta">
                    ${item.presenter && html`<span>${t('agenda.presenter', { name: item.presenter })}</span>`}
                    ${item.planned_minutes > 0 && html`<span>${t('agenda.minutes', { n: formatNumber(item.planned_minutes) })}</span>`}
                    ${item.status && item.status !== 'pending' && html`
                      <span class=${`badge badge-item badge-item-${item.status}`}>${t(`agenda_status.${item.status}`)}</span>`}
                  </span>
                </div>
                ${manage && html`
                  <div class="agenda-tools">
                    <button type="button" class="button button-icon" disabled=${busy || index === 0}
                      aria-label=${t('agenda.move_up', { title: item.title })} title=${t('agenda.move_up_short')}
                      data-testid="agenda-move-up" onClick=${() => move(index, -1)}>▲</button>
                    <button type="button" class="button button-icon" disabled=${busy || index === items.length - 1}
                      aria-label=${t('agenda.move_down', { title: item.title })} title=${t('agenda.move_down_short')}
                      data-testid="agenda-move-down" onClick=${() => move(index, 1)}>▼</button>
                    <button type="button" class="button button-icon button-icon-danger"
                      disabled=${busy || item.status === 'current' || item.status === 'done'}
                      aria-label=${t('agenda.delete_label', { title: item.title })} title=${t('common.delete')}
                      data-testid="agenda-delete" onClick=${() => remove(item)}>✕</button>
                  </div>`}
              </li>`)}
          </ol>`}
      ${manage && html`<${AddAgendaForm} meeting=${m} busy=${busy} run=${run} reload=${reload} />`}
    </section>`;
}

function AddAgendaForm({ meeting: m, busy, run, reload }) {
  const [title, setTitle] = useState('');
  const [presenter, setPresenter] = useState('');
  const [minutes, setMinutes] = useState('');
  const titleRef = useRef(null);

  async function submit(event) {
    event.preventDefault();
    const clean = title.trim();
    if (!clean) return;
    const planned = minutes === '' ? 0 : Math.max(0, Math.round(Number(minutes)) || 0);
    const ok = await run(async () => {
      await api.addAgendaItem(m.id, { title: clean, presenter: presenter.trim(), planned_minutes: planned, description: '' });
      await reload();
    }, t('notice.agenda_added', { title: clean }));
    if (ok) {
      setTitle('');
      setPresenter('');
      setMinutes('');
      if (titleRef.current) titleRef.current.focus();
    }
  }

  return html`
    <form class="form form-inline-card" onSubmit=${submit} data-testid="add-agenda-form">
      <h3>${t('agenda.add_heading')}</h3>
      <div class="field">
        <label for="aa-title">${t('agenda.field_title')}</label>
        <input id="aa-title" ref=${titleRef} type="text" required maxlength="500" value=${title}
          onInput=${(e) => setTitle(e.currentTarget.value)} data-testid="add-agenda-title" />
      </div>
      <div class="field-row">
        <div class="field field-grow">
          <label for="aa-presenter">${t('agenda.field_presenter')}</label>
          <input id="aa-presenter" type="text" maxlength="200" value=${presenter}
            onInput=${(e) => setPresenter(e.currentTarget.value)} data-testid="add-agenda-presenter" />
        </div>
        <div class="field field-small">
          <label for="aa-minutes">${t('agenda.field_minutes')}</label>
          <input id="aa-minutes" type="number" inputmode="numeric" min="0" max="1440" step="1" value=${minutes}
            onInput=${(e) => setMinutes(e.currentTarget.value)} data-testid="add-agenda-minutes" />
        </div>
      </div>
      <button type="submit" class="button button-primary" disabled=${busy} data-testid="add-agenda-submit">
        ${t('agenda.add_submit')}
      </button>
    </form>`;
}

function ParticipantsSection({ meeting: m, allowed, busy, run, reload }) {
  const manage = allowed.has('manage_participants');
  const [deputyFor, setDeputyFor] = useState(null);
  const participants = m.participants || [];
  const groups = ROLES.map((role) => ({ role, people: participants.filter((p) => p.role === role) }))
    .filter((g) => g.people.length > 0);
  const others = participants.filter((p) => !ROLES.includes(p.role));
  if (others.length) groups.push({ role: null, people: others });

  const remove = (p) => run(async () => {
    await api.removeParticipant(m.id, p.id);
    await reload();
  }, t('notice.participant_removed', { name: p.full_name }));

  return html`
    <section class="card section-participants" aria-labelledby="participants-heading">
      <div class="section-head">
        <h2 id="participants-heading">${t('meeting.participants')}</h2>
        ${participants.length > 0 && html`<span class="muted">${t('participants.count', { n: formatNumber(participants.length) })}</span>`}
      </div>
      ${participants.length === 0 && html`<p class="empty">${t('participants.empty')}</p>`}
      ${groups.map((g) => html`
        <div class="participant-group" key=${g.role || 'other'}>
          <h3 class="group-title">${g.role ? t(`role_plural.${g.role}`) : t('participants.other')}</h3>
          <ul class="participant-list">
            ${g.people.map((p) => html`
              <li class="participant-row" key=${p.id} data-testid="participant-row" data-username=${p.username}
                data-role=${p.role}>
                <div class="participant-body">
                  <span class="participant-name">${p.full_name}</span>
                  ${p.title && html`<span class="participant-title">${p.title}</span>`}
                  ${p.deputy_full_name && html`<span class="participant-title" data-testid="participant-deputy">${t('participants.deputy', { name: p.deputy_full_name })}</span>`}
                </div>
                <div class="participant-side">
                  ${g.role === null && html`<${RoleBadge} role=${p.role} />`}
                  ${p.may_vote && html`<span class="badge badge-vote">${t('participants.may_vote')}</span>`}
                  ${manage && p.role === 'member' && html`
                    <button type="button" class="button button-icon" disabled=${busy}
                      aria-expanded=${deputyFor === p.id ? 'true' : 'false'}
                      aria-label=${t('deputy.edit_label', { name: p.full_name })} title=${t('deputy.edit')}
                      data-testid="participant-deputy-edit" onClick=${() => setDeputyFor(deputyFor === p.id ? null : p.id)}>⇄</button>`}
                  ${manage && html`
                    <button type="button" class="button button-icon button-icon-danger" disabled=${busy}
                      aria-label=${t('participants.remove_label', { name: p.full_name })} title=${t('participants.remove')}
                      data-testid="participant-remove" onClick=${() => remove(p)}>✕</button>`}
                </div>
                ${deputyFor === p.id && html`
                  <${DeputyForm} meeting=${m} participant=${p} busy=${busy} run=${run} reload=${reload}
                    done=${() => setDeputyFor(null)} />`}
              </li>`)}
          </ul>
        </div>`)}
      ${manage && html`<${AddParticipantForm} meeting=${m} busy=${busy} run=${run} reload=${reload} />`}
      ${manage && html`<${GroupInviteForm} meeting=${m} busy=${busy} run=${run} reload=${reload} />`}
    </section>`;
}

/**
 * Active accounts not yet taking part, from GET /api/meetings/<id>/candidates?q= (allowed to whoever
 * manages the participants, the chair included). `null` while loading. Reloads when the query or the
 * participants change, a moment after the last keystroke.
 */
function useCandidates(meeting, query) {
  const [state, setState] = useState({ list: null, error: null });
  const taken = (meeting.participants || []).map((p) => `${p.user_id}:${p.deputy_user_id || ''}`).join(',');
  useEffect(() => {
    let live = true;
    const timer = window.setTimeout(() => {
      api.candidates(meeting.id, query.trim())
        .then((list) => live && setState({ list, error: null }))
        .catch((error) => live && setState({ list: [], error }));
    }, query ? 250 : 0);
    return () => { live = false; window.clearTimeout(timer); };
  }, [meeting.id, query, taken]);
  return state;
}

function personLabel(u) {
  return u.title ? `${u.full_name} — ${u.title}` : u.full_name;
}

function AddParticipantForm({ meeting: m, busy, run, reload }) {
  const [query, setQuery] = useState('');
  const { list: users, error: usersError } = useCandidates(m, query);
  const [userId, setUserId] = useState('');
  const [role, setRole] = useState('member');
  const [mayVote, setMayVote] = useState(null); // null: the role's default

  const choices = (users || []).filter((u) => u.is_active !== false)
    .sort((a, b) => a.full_name.localeCompare(b.full_name, 'vi'));
  const voting = mayVote ?? VOTING_ROLES.has(role);

  async function submit(event) {
    event.preventDefault();
    if (!userId) return;
    const person = choices.find((u) => String(u.id) === userId);
    const ok = await run(async () => {
      await api.addParticipant(m.id, { user_id: Number(userId), role, may_vote: voting });
      await reload();
    }, t('notice.participant_added', { name: person ? person.full_name : '' }));
    if (ok) {
      setUserId('');
      setRole('member');
      setMayVote(null);
      setQuery(''); // ready for the next name
    }
  }

  return html`
    <form class="form form-inline-card" onSubmit=${submit} data-testid="add-participant-form">
      <h3>${t('participants.add_heading')}</h3>
      <${ErrorBox} error=${usersError} />
      <div class="field">
        <label for="ap-search">${t('participants.search')}</label>
        <input id="ap-search" type="search" maxlength="100" value=${query} autocomplete="off"
          placeholder=${t('participants.search_placeholder')} data-testid="add-participant-search"
          onInput=${(e) => { setQuery(e.currentTarget.value); setUserId(''); }} />
      </div>
      <div class="field">
        <label for="ap-user">${t('participants.field_user')}</label>
        <select id="ap-user" required value=${userId} onChange=${(e) => setUserId(e.currentTarget.value)}
          disabled=${users === null} data-testid="add-participant-user">
          <option value="" selected=${userId === ''}>${users === null ? t('app.loading')
            : choices.length ? t('participants.choose_user') : t('participants.no_candidates')}</option>
          ${choices.map((u) => html`
            <option value=${String(u.id)} data-username=${u.username} selected=${String(u.id) === userId}>
              ${personLabel(u)}
            </option>`)}
        </select>
      </div>
      <div class="field-row">
        <div class="field field-grow">
          <label for="ap-role">${t('participants.field_role')}</label>
          <select id="ap-role" value=${role} onChange=${(e) => { setRole(e.currentTarget.value); setMayVote(null); }}
            data-testid="add-participant-role">
            ${ROLES.map((r) => html`<option value=${r} selected=${r === role}>${t(`role.${r}`)}</option>`)}
          </select>
        </div>
        <div class="field field-check">
          <input id="ap-vote" type="checkbox" checked=${voting} onChange=${(e) => setMayVote(e.currentTarget.checked)}
            data-testid="add-participant-may-vote" />
          <label for="ap-vote">${t('participants.field_may_vote')}</label>
        </div>
      </div>
      <button type="submit" class="button button-primary" disabled=${busy || !userId} data-testid="add-participant-submit">
        ${t('participants.add_submit')}
      </button>
    </form>`;
}

/** A member's named deputy (attends, speaks and votes for them): choose one from the candidates, or remove. */
function DeputyForm({ meeting: m, participant: p, busy, run, reload, done }) {
  const [query, setQuery] = useState('');
  const { list: users, error } = useCandidates(m, query);
  const [userId, setUserId] = useState('');
  const choices = (users || []).slice().sort((a, b) => a.full_name.localeCompare(b.full_name, 'vi'));
  const save = (deputyId, text) => run(async () => {
    await api.updateParticipant(m.id, p.id, { deputy_user_id: deputyId });
    await reload();
    done();
  }, text);

  async function submit(event) {
    event.preventDefault();
    if (!userId) return;
    const person = choices.find((u) => String(u.id) === userId);
    await save(Number(userId), t('notice.deputy_set', { name: p.full_name, deputy: person ? person.full_name : '' }));
  }

  const base = `deputy-${p.id}`;
  return html`
    <form class="form deputy-form" onSubmit=${submit} data-testid="deputy-form">
      <p class="deputy-help">${t('deputy.help', { name: p.full_name })}</p>
      <${ErrorBox} error=${error} />
      <div class="field">
        <label for=${`${base}-q`}>${t('participants.search')}</label>
        <input id=${`${base}-q`} type="search" maxlength="100" value=${query} autocomplete="off"
          placeholder=${t('participants.search_placeholder')}
          data-testid="deputy-search" onInput=${(e) => { setQuery(e.currentTarget.value); setUserId(''); }} />
      </div>
      <div class="field">
        <label for=${`${base}-user`}>${t('deputy.field')}</label>
        <select id=${`${base}-user`} value=${userId} disabled=${users === null} data-testid="deputy-user"
          onChange=${(e) => setUserId(e.currentTarget.value)}>
          <option value="" selected=${userId === ''}>${users === null ? t('app.loading') : t('deputy.choose')}</option>
          ${choices.map((u) => html`
            <option value=${String(u.id)} data-username=${u.username} selected=${String(u.id) === userId}>${personLabel(u)}</option>`)}
        </select>
      </div>
      <div class="form-actions">
        <button type="submit" class="button button-primary" disabled=${busy || !userId} data-testid="deputy-save">${t('deputy.save')}</button>
        ${p.deputy_user_id && html`
          <button type="button" class="button button-secondary" disabled=${busy} data-testid="deputy-remove"
            onClick=${() => save(null, t('notice.deputy_removed', { name: p.full_name }))}>${t('deputy.remove')}</button>`}
        <button type="button" class="button button-secondary" onClick=${done}>${t('common.cancel')}</button>
      </div>
    </form>`;
}

/**
 * Invitations by the group: everyone of the meeting's body, a saved group, or the participants of a
 * previous meeting with their roles; and saving the current list as a group for next time. People
 * already on the list (or the administrator) are skipped by the server and counted in the notice.
 */
function GroupInviteForm({ meeting: m, busy, run, reload }) {
  const [role, setRole] = useState('member');
  const [groups, setGroups] = useState([]);
  const [groupId, setGroupId] = useState('');
  const [meetings, setMeetings] = useState([]);
  const [fromId, setFromId] = useState('');
  const [name, setName] = useState('');
  const [said, setSaid] = useState('');
  const loadGroups = () => api.savedGroups().then(setGroups).catch(() => setGroups([]));
  useEffect(() => {
    loadGroups();
    api.meetings().then((list) => setMeetings(list.filter((x) => x.id !== m.id && x.body_id === m.body_id)))
      .catch(() => setMeetings([]));
  }, [m.id]);
  const bodyGroups = groups.filter((g) => g.body_id === m.body_id);

  async function inviteWith(data) {
    let out = null;
    setSaid('');
    const ok = await run(async () => {
      out = await api.inviteGroup(m.id, data);
      await reload();
    });
    if (ok && out) {
      const n = out.added.length;
      const skipped = out.skipped.length;
      setSaid(skipped ? t('groups.invited_skipped', { n, m: skipped }) : t('groups.invited', { n }));
    }
  }
  async function saveGroup(event) {
    event.preventDefault();
    const clean = name.trim();
    const ids = (m.participants || []).map((p) => p.user_id);
    if (!clean || ids.length === 0) return;
    const ok = await run(async () => { await api.saveGroup({ name: clean, user_ids: ids, body_id: m.body_id }); },
      t('groups.saved_notice', { name: clean, n: ids.length }));
    if (ok) {
      setName('');
      loadGroups();
    }
  }

  return html`
    <div class="form form-inline-card group-invite" data-testid="group-invite">
      <h3>${t('groups.heading')}</h3>
      <${Notice} text=${said} testid="group-invite-notice" />
      <div class="field">
        <label for="gi-role">${t('groups.role')}</label>
        <select id="gi-role" value=${role} onChange=${(e) => setRole(e.currentTarget.value)} data-testid="group-role">
          ${ROLES.map((r) => html`<option value=${r} selected=${r === role}>${t(`role.${r}`)}</option>`)}
        </select>
      </div>
      <button type="button" class="button button-secondary" disabled=${busy} data-testid="invite-body"
        onClick=${() => inviteWith({ source: 'body', role })}>
        ${m.body_name ? t('groups.invite_body', { body: m.body_name }) : t('groups.invite_body_plain')}</button>
      <div class="field-row">
        <div class="field field-grow">
          <label for="gi-group">${t('groups.saved')}</label>
          <select id="gi-group" value=${groupId} onChange=${(e) => setGroupId(e.currentTarget.value)} data-testid="invite-group-select">
            <option value="" selected=${groupId === ''}>${bodyGroups.length ? t('groups.choose') : t('groups.none_saved')}</option>
            ${bodyGroups.map((g) => html`<option value=${String(g.id)} selected=${String(g.id) === groupId}>${g.name} (${g.people.length})</option>`)}
          </select>
        </div>
        <button type="button" class="button button-secondary" disabled=${busy || !groupId} data-testid="invite-group"
          onClick=${() => inviteWith({ source: 'group', group_id: Number(groupId), role })}>${t('groups.invite_group')}</button>
      </div>
      <div class="field-row">
        <div class="field field-grow">
          <label for="gi-meeting">${t('groups.previous')}</label>
          <select id="gi-meeting" value=${fromId} onChange=${(e) => setFromId(e.currentTarget.value)} data-testid="copy-meeting-select">
            <option value="" selected=${fromId === ''}>${t('groups.choose_meeting')}</option>
            ${meetings.map((x) => html`<option value=${String(x.id)} selected=${String(x.id) === fromId}>${x.title} — ${formatDateTime(x.starts_at)}</option>`)}
          </select>
        </div>
        <button type="button" class="button button-secondary" disabled=${busy || !fromId} data-testid="copy-meeting"
          onClick=${() => inviteWith({ source: 'meeting', meeting_id: Number(fromId) })}>${t('groups.copy')}</button>
      </div>
      <form class="field-row" onSubmit=${saveGroup}>
        <div class="field field-grow">
          <label for="gi-name">${t('groups.save_name')}</label>
          <input id="gi-name" type="text" maxlength="200" value=${name} placeholder=${t('groups.save_placeholder')}
            onInput=${(e) => setName(e.currentTarget.value)} data-testid="save-group-name" />
        </div>
        <button type="submit" class="button button-secondary" disabled=${busy || !name.trim() || !(m.participants || []).length}
          data-testid="save-group">${t('groups.save')}</button>
      </form>
    </div>`;
}
