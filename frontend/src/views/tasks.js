// #/tasks: the Government Office's dashboard of what became of the decisions. Every published
// resolution's tasks by agency (due, overdue, done: the agency leads or cooperates), filtered by agency
// and state. The secretariat (its body's meetings) and administrators only.
import { html, useEffect, useState } from '../lib/preact.js';
import { formatDay, t } from '../lib/i18n.js';
import { meetingPath } from '../lib/router.js';
import { ErrorBox, Loading, useTitle } from './components.js';
import { TaskCounts } from './meeting_tasks.js';
import { TaskItem, tasksApi } from './record_tasks.js';

const STATES = ['due', 'overdue', 'done'];

export function TasksView() {
  const [agency, setAgency] = useState('');
  const [state, setState] = useState('');
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useTitle(t('tasks.dashboard'));
  useEffect(() => {
    const query = new URLSearchParams();
    if (agency) query.set('agency', agency);
    if (state) query.set('state', state);
    tasksApi.dashboard(query.toString()).then((d) => { setData(d); setError(null); }).catch(setError);
  }, [agency, state]);
  const pick = (code, which) => { setAgency(code); setState(which || ''); };
  return html`
    <main class="page page-tasks" id="main">
      <section class="card" aria-labelledby="tasks-dashboard-heading">
        <h1 id="tasks-dashboard-heading" tabindex="-1">${t('tasks.dashboard')}</h1>
        <p class="muted">${t('tasks.dashboard_help')}${data ? ` ${t('tasks.as_of', { date: formatDay(data.today) })}` : ''}</p>
        <${ErrorBox} error=${error} testid="tasks-dashboard-error" />
        ${!data && !error && html`<${Loading} />`}
        ${data && html`<${TaskCounts} totals=${data.totals} testid="tasks-totals" />`}
        ${data && data.agencies.length > 0 && html`
          <div class="table-wrap">
            <table class="task-table" data-testid="tasks-by-agency">
              <caption class="visually-hidden">${t('tasks.by_agency')}</caption>
              <thead><tr><th scope="col">${t('tasks.agency')}</th>
                ${STATES.map((s) => html`<th key=${s} scope="col">${t(`tasks.state.${s}`)}</th>`)}</tr></thead>
              <tbody>
                ${data.agencies.map((a) => html`
                  <tr key=${a.code} data-testid="tasks-agency-row" data-code=${a.code} class=${a.code === agency ? 'selected' : ''}>
                    <th scope="row"><button type="button" class="link-button" onClick=${() => pick(a.code)}>${a.name || a.code}</button></th>
                    ${STATES.map((s) => html`<td key=${s} class=${`task-count-${s}`}>
                      <button type="button" class="link-button" data-testid=${`tasks-agency-${s}`}
                        onClick=${() => pick(a.code, s)}>${a[s]}</button></td>`)}
                  </tr>`)}
              </tbody>
            </table>
          </div>`}
        <div class="toolbar task-filters" role="group" aria-label=${t('tasks.filters')}>
          <label for="tasks-agency">${t('tasks.agency')}</label>
          <select id="tasks-agency" value=${agency} onChange=${(e) => setAgency(e.currentTarget.value)} data-testid="tasks-filter-agency">
            <option value="">${t('tasks.all_agencies')}</option>
            ${(data ? data.agencies : []).map((a) => html`<option key=${a.code} value=${a.code}>${a.name || a.code}</option>`)}
          </select>
          <label for="tasks-state">${t('tasks.state_filter')}</label>
          <select id="tasks-state" value=${state} onChange=${(e) => setState(e.currentTarget.value)} data-testid="tasks-filter-state">
            <option value="">${t('tasks.all_states')}</option>
            ${STATES.map((s) => html`<option key=${s} value=${s}>${t(`tasks.state.${s}`)}</option>`)}
          </select>
        </div>
      </section>
      <section class="card" aria-labelledby="tasks-list-heading">
        <h2 id="tasks-list-heading">${t('tasks.list')}</h2>
        ${data && data.tasks.length === 0 && html`<p class="empty" data-testid="tasks-empty">${t('tasks.none_here')}</p>`}
        ${data && data.tasks.length > 0 && html`
          <ul class="task-list">
            ${data.tasks.map((task) => html`
              <${TaskItem} key=${task.id} task=${task} showRecord=${true}>
                <p class="task-link"><a href=${`#${meetingPath(task.meeting_id)}`}>${task.record_title}</a></p>
              <//>`)}
          </ul>`}
      </section>
    </main>`;
}
