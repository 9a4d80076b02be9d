// The tasks a resolution assigns (issue 17 point 6), on the record's page: the secretary writes them on
// the draft (lead and cooperating agencies of the directory, deadline, expected output), the chair reads
// them before signing, the secretary sends them once published, and everyone who may read the record
// sees how far each agency got (sent, then 01 arrived ... 06 done). The task list and badges are shared
// with the dashboard (tasks.js) and the meeting's decisions (meeting_tasks.js).
import { html, useEffect, useState } from '../lib/preact.js';
import { request } from '../lib/api.js';
import { formatDateTime, formatDay, t } from '../lib/i18n.js';
import { ConfirmButton, ErrorBox, Loading, Notice } from './components.js';

const enc = encodeURIComponent;

export const tasksApi = {
  list: (recordId) => request('GET', `/records/${enc(recordId)}/tasks`),
  add: (recordId, data) => request('POST', `/records/${enc(recordId)}/tasks`, data),
  edit: (taskId, changes) => request('PATCH', `/tasks/${enc(taskId)}`, changes),
  remove: (taskId) => request('DELETE', `/tasks/${enc(taskId)}`),
  send: (recordId) => request('POST', `/records/${enc(recordId)}/tasks/send`),
  agencies: () => request('GET', '/exchange/agencies'),
  dashboard: (query) => request('GET', `/tasks${query ? `?${query}` : ''}`),
  meeting: (meetingId) => request('GET', `/meetings/${enc(meetingId)}/tasks`),
};

export function TaskStateBadge({ state }) {
  return html`<span class=${`badge badge-task badge-task-${state}`} data-testid="task-state">${t(`tasks.state.${state}`)}</span>`;
}

function DeliveryList({ task }) {
  if (!task.deliveries.length) return null;
  return html`
    <ul class="task-deliveries" data-testid="task-deliveries">
      ${task.deliveries.map((d) => html`
        <li key=${d.agency_code} data-testid="task-delivery" data-status=${d.status}>
          <span class="task-agency">${d.agency_name || d.agency_code}</span>
          <span class="muted"> (${t(`tasks.role.${d.role}`)})</span>:
          <strong> ${t(`tasks.status.${d.status}`)}</strong>
          ${d.status_at && html`<span class="muted"> · ${formatDateTime(d.status_at)}</span>`}
          ${d.status === 'sent' && html`<span class="muted"> · ${t(`tasks.delivery.${d.delivery}`)}</span>`}
        </li>`)}
    </ul>`;
}

/** One task: what, who leads and helps, by when; its state and each agency's status once sent. */
export function TaskItem({ task, showRecord = false, children }) {
  return html`
    <li class="task-item" data-testid="task-item" data-state=${task.state}>
      <div class="task-head">
        <span class="task-article">${t('tasks.article', { n: task.article })}${showRecord ? ` · ${task.record_number}` : ''}</span>
        ${task.document_id || task.record_status === 'published' ? html`<${TaskStateBadge} state=${task.state} />` : null}
      </div>
      <p class="task-text" data-testid="task-text">${task.text}</p>
      <dl class="task-facts">
        <dt>${t('tasks.lead')}</dt><dd data-testid="task-lead">${task.lead_name || task.lead_code}</dd>
        ${task.cooperating.length > 0 && html`<dt>${t('tasks.cooperating')}</dt>
          <dd>${task.cooperating.map((c) => c.name || c.code).join('; ')}</dd>`}
        <dt>${t('tasks.deadline')}</dt><dd data-testid="task-deadline">${formatDay(task.deadline)}</dd>
        ${task.output && html`<dt>${t('tasks.output')}</dt><dd>${task.output}</dd>`}
      </dl>
      <${DeliveryList} task=${task} />
      ${children}
    </li>`;
}

function emptyForm() {
  return { article: '1', text: '', lead_code: '', cooperating: [], deadline: '', output: '' };
}

function formOf(task) {
  return { article: String(task.article), text: task.text, lead_code: task.lead_code,
    cooperating: task.cooperating.map((c) => c.code), deadline: task.deadline, output: task.output };
}

/** Adding a task (no `task`) or editing one. */
function TaskForm({ record, agencies, task, onDone, onCancel }) {
  const [form, setForm] = useState(() => (task ? formOf(task) : emptyForm()));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const articles = (record.content && record.content.articles) || [];
  const count = Math.max(articles.length, 1);
  const set = (key) => (e) => setForm({ ...form, [key]: e.currentTarget.value });
  const setMany = (e) => setForm({ ...form, cooperating: [...e.currentTarget.selectedOptions].map((o) => o.value) });
  const prefix = task ? `tf-${task.id}` : 'tf-new';
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const data = { article: Number(form.article), text: form.text, lead_code: form.lead_code,
      cooperating: form.cooperating.filter((c) => c !== form.lead_code), deadline: form.deadline, output: form.output };
    try {
      onDone(task ? await tasksApi.edit(task.id, data) : await tasksApi.add(record.id, data));
      if (!task) setForm(emptyForm());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  const active = agencies.filter((a) => a.active);
  return html`
    <form class="form task-form" onSubmit=${submit} data-testid="task-form">
      <h3>${t(task ? 'tasks.edit' : 'tasks.add')}</h3>
      <label for=${`${prefix}-article`}>${t('tasks.article_field')}</label>
      <select id=${`${prefix}-article`} value=${form.article} onChange=${set('article')} data-testid="task-article">
        ${Array.from({ length: count }, (_, i) => html`<option key=${i} value=${String(i + 1)}>${
          articles[i] ? `${articles[i].heading} ${articles[i].text}`.slice(0, 90) : t('tasks.article', { n: i + 1 })}</option>`)}
      </select>
      <label for=${`${prefix}-text`}>${t('tasks.text')}</label>
      <textarea id=${`${prefix}-text`} rows="3" required maxlength="5000" value=${form.text} onInput=${set('text')}
        placeholder=${t('tasks.text_hint')} data-testid="task-text-input"></textarea>
      <label for=${`${prefix}-lead`}>${t('tasks.lead')}</label>
      <select id=${`${prefix}-lead`} required value=${form.lead_code} onChange=${set('lead_code')} data-testid="task-lead-input">
        <option value="">${t('tasks.pick_agency')}</option>
        ${active.map((a) => html`<option key=${a.code} value=${a.code}>${a.name} (${a.code})</option>`)}
      </select>
      <label for=${`${prefix}-coop`}>${t('tasks.cooperating')}</label>
      <select id=${`${prefix}-coop`} multiple size="4" onChange=${setMany} data-testid="task-cooperating-input">
        ${active.filter((a) => a.code !== form.lead_code).map((a) => html`
          <option key=${a.code} value=${a.code} selected=${form.cooperating.includes(a.code)}>${a.name} (${a.code})</option>`)}
      </select>
      <p class="muted">${t('tasks.cooperating_hint')}</p>
      <label for=${`${prefix}-deadline`}>${t('tasks.deadline')}</label>
      <input id=${`${prefix}-deadline`} type="date" required value=${form.deadline} onInput=${set('deadline')} data-testid="task-deadline-input" />
      <label for=${`${prefix}-output`}>${t('tasks.output')}</label>
      <input id=${`${prefix}-output`} type="text" maxlength="2000" value=${form.output} onInput=${set('output')}
        placeholder=${t('tasks.output_hint')} data-testid="task-output-input" />
      <${ErrorBox} error=${error} testid="task-form-error" />
      <div class="toolbar">
        <button type="submit" class="button button-primary" disabled=${busy} data-testid=${task ? 'task-save' : 'task-add'}>${t(task ? 'tasks.save' : 'tasks.add')}</button>
        ${onCancel && html`<button type="button" class="button button-secondary" onClick=${onCancel}>${t('common.cancel')}</button>`}
      </div>
    </form>`;
}

/** The record page's panel. */
export function RecordTasks({ record, meeting }) {
  const [tasks, setTasks] = useState(null);
  const [agencies, setAgencies] = useState([]);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState('');
  const [editing, setEditing] = useState(null);
  const secretary = meeting && meeting.my_role === 'secretary';
  const writable = secretary && record.status === 'draft';
  const load = () => tasksApi.list(record.id).then(setTasks).catch(setError);
  useEffect(() => { if (record.kind === 'resolution') load(); }, [record.id, record.status]);
  useEffect(() => { if (writable) tasksApi.agencies().then(setAgencies).catch(setError); }, [writable]);
  if (record.kind !== 'resolution' || !meeting) return null;
  if (tasks && tasks.length === 0 && !writable) return null;
  const unsent = tasks && tasks.length > 0 && tasks.every((task) => !task.document_id);
  const saved = (text) => () => { setEditing(null); setNotice(text); setError(null); load(); };
  return html`
    <section class="card section-tasks" aria-labelledby="tasks-heading" data-testid="record-tasks">
      <div class="section-head"><h2 id="tasks-heading">${t('tasks.section')}</h2></div>
      <p class="muted">${t(writable ? 'tasks.help_draft' : (record.status === 'published' ? 'tasks.help_published' : 'tasks.help_signing'))}</p>
      <div aria-live="polite">
        <${ErrorBox} error=${error} testid="tasks-error" />
        <${Notice} text=${notice} testid="tasks-notice" />
      </div>
      ${tasks === null && !error && html`<${Loading} />`}
      ${tasks && tasks.length === 0 && html`<p class="empty">${t('tasks.none')}</p>`}
      ${tasks && tasks.length > 0 && html`
        <ul class="task-list">
          ${tasks.map((task) => html`
            <${TaskItem} key=${task.id} task=${task}>
              ${writable && editing !== task.id && html`
                <div class="toolbar">
                  <button type="button" class="button button-secondary" data-testid="task-edit" onClick=${() => setEditing(task.id)}>${t('tasks.edit')}</button>
                  <${ConfirmButton} label=${t('tasks.remove')} question=${t('tasks.remove_question')} testid="task-remove"
                    onConfirm=${() => tasksApi.remove(task.id).then(saved(t('tasks.removed'))).catch(setError)} />
                </div>`}
              ${writable && editing === task.id && html`
                <${TaskForm} record=${record} agencies=${agencies} task=${task} onDone=${saved(t('tasks.saved'))}
                  onCancel=${() => setEditing(null)} />`}
            <//>`)}
        </ul>`}
      ${writable && editing === null && html`<${TaskForm} record=${record} agencies=${agencies} onDone=${saved(t('tasks.added'))} />`}
      ${secretary && record.status === 'published' && unsent && html`
        <div class="toolbar">
          <${ConfirmButton} label=${t('tasks.send')} question=${t('tasks.send_question', { n: tasks.length })} variant="primary"
            testid="tasks-send"
            onConfirm=${() => tasksApi.send(record.id).then(saved(t('tasks.sent'))).catch(setError)} />
        </div>`}
    </section>`;
}
