// My meetings: every meeting the user takes part in (or may see), with time, place, status and role.
import { html, useEffect, useState } from '../lib/preact.js';
import { api } from '../lib/api.js';
import { formatDateTime, t } from '../lib/i18n.js';
import { ConfidentialityBadge, ErrorBox, Loading, StatusBadge, useTitle } from './components.js';

export function MeetingsView({ user }) {
  const [state, setState] = useState({ status: 'loading', meetings: [], error: null });
  useTitle(t('meetings.title'));

  function load() {
    setState((s) => ({ ...s, status: 'loading', error: null }));
    api.meetings()
      .then((meetings) => setState({ status: 'ok', meetings, error: null }))
      .catch((error) => setState({ status: 'error', meetings: [], error }));
  }
  useEffect(load, []);

  const mayCreate = user.is_secretariat || user.is_admin;
  return html`
    <main class="page" id="main">
      <div class="page-head">
        <h1 tabindex="-1">${t('meetings.title')}</h1>
        ${mayCreate && html`
          <a class="button button-primary" href="#/meetings/new" data-testid="new-meeting">+ ${t('meetings.new')}</a>`}
      </div>
      ${state.status === 'loading' && html`<${Loading} />`}
      ${state.status === 'error' && html`
        <${ErrorBox} error=${state.error} />
        <button type="button" class="button button-secondary" onClick=${load}>${t('common.retry')}</button>`}
      ${state.status === 'ok' && state.meetings.length === 0 && html`
        <p class="card empty" data-testid="meetings-empty">${t('meetings.empty')}</p>`}
      ${state.status === 'ok' && state.meetings.length > 0 && html`
        <ul class="meeting-list" data-testid="meeting-list">
          ${waitingFirst(state.meetings).map((m) => html`<${MeetingRow} key=${m.id} meeting=${m} />`)}
        </ul>`}
    </main>`;
}

/** Opinion rounds that are open (waiting for answers) come first: they have a deadline. */
function waitingFirst(meetings) {
  const open = (m) => m.kind === 'opinion_round' && m.status === 'published';
  return [...meetings.filter(open), ...meetings.filter((m) => !open(m))];
}

function MeetingRow({ meeting: m }) {
  return html`
    <li class="meeting-row" data-testid="meeting-row" data-meeting-id=${m.id}>
      <a class="meeting-link" href=${`#/meetings/${m.id}`}>
        <span class="meeting-row-main">
          <span class="meeting-row-title" data-testid="meeting-row-title">${m.title}</span>
          <span class="meeting-row-meta">
            <span class="meta-item"><span class="meta-label">${t('meeting.time')}:</span> ${formatDateTime(m.starts_at)}</span>
            ${m.place && html`<span class="meta-item"><span class="meta-label">${t('meeting.place')}:</span> ${m.place}</span>`}
          </span>
        </span>
        <span class="meeting-row-side">
          ${m.kind === 'opinion_round' && m.status === 'published'
            ? html`<span class="badge badge-round" data-testid="round-waiting">${t('round.waiting_badge')}</span>`
            : html`<${StatusBadge} status=${m.status} />`}
          <${ConfidentialityBadge} level=${m.confidentiality} />
          ${m.my_role && html`<span class="my-role" data-testid="meeting-row-role">${t('meetings.my_role', { role: t(`role.${m.my_role}`) })}</span>`}
        </span>
      </a>
    </li>`;
}
