// The meeting page's "decisions" section: what became of the tasks its resolutions assigned (due,
// overdue, done, and how far each agency got), for every participant; hidden while there are none.
import { html, useEffect, useState } from '../lib/preact.js';
import { t } from '../lib/i18n.js';
import { recordPath } from '../lib/router.js';
import { ErrorBox } from './components.js';
import { TaskItem, tasksApi } from './record_tasks.js';

export function TaskCounts({ totals, testid = 'task-counts' }) {
  return html`
    <p class="task-counts" data-testid=${testid}>
      ${['due', 'overdue', 'done'].map((state) => html`
        <span key=${state} class=${`task-count task-count-${state}`} data-testid=${`${testid}-${state}`}>
          ${t(`tasks.state.${state}`)}: <strong>${totals[state]}</strong>
        </span>`)}
    </p>`;
}

export function MeetingTasksSection({ meeting }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { tasksApi.meeting(meeting.id).then(setData).catch(setError); }, [meeting.id, meeting.status]);
  if (!error && (!data || data.tasks.length === 0)) return null;
  const byRecord = new Map();
  for (const task of (data ? data.tasks : [])) {
    if (!byRecord.has(task.record_id)) byRecord.set(task.record_id, []);
    byRecord.get(task.record_id).push(task);
  }
  return html`
    <section class="card section-decisions" aria-labelledby="decisions-heading" data-testid="meeting-tasks">
      <div class="section-head"><h2 id="decisions-heading">${t('tasks.decisions')}</h2></div>
      <${ErrorBox} error=${error} testid="meeting-tasks-error" />
      ${data && html`<${TaskCounts} totals=${data.totals} />`}
      ${[...byRecord.entries()].map(([recordId, tasks]) => html`
        <div key=${recordId} class="task-group">
          <h3><a href=${`#${recordPath(recordId)}`} data-testid="meeting-tasks-record">${t('record.kind.resolution')} ${tasks[0].record_number}</a>
            ${tasks[0].record_status !== 'published' && html` <span class="badge badge-record">${t(`record.status.${tasks[0].record_status}`)}</span>`}</h3>
          <ul class="task-list">${tasks.map((task) => html`<${TaskItem} key=${task.id} task=${task} />`)}</ul>
        </div>`)}
    </section>`;
}
