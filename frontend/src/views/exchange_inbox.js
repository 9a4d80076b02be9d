// The secretariat's inbox of documents received from other agencies (edXML, QCVN 102:2016): the list
// (#/exchange/inbox) with each one's status and an overdue badge, and one document (#/exchange/inbox/<id>)
// with its attachments, the history of its handling and the next steps (accept, refuse with a reason,
// assign to a department and a person, in progress, done), each confirmed once more before it is sent.
// The order of the steps is the server's rule (backend/domain/exchange_status.py); NEXT only chooses
// which buttons to show.
import { html, useEffect, useState } from '../lib/preact.js';
import { request } from '../lib/api.js';
import { formatDateTime, formatDay, t } from '../lib/i18n.js';
import {
  ConfirmButton, ErrorBox, Loading, Notice, useTitle,
} from './components.js';
import { PdfSignatures, ToMeeting } from './exchange_to_meeting.js';

const API_BASE = new URL('../../api', import.meta.url).pathname;
const NEXT = {
  arrived: ['03', '02'], accepted: ['04'], assigned: ['05', '06'], in_progress: ['06'], refused: [], done: [],
};

export const inboxPath = () => '/exchange/inbox';
export const incomingPath = (id) => `/exchange/inbox/${id}`;

export function InboxStatus({ status }) {
  return html`<span class=${`badge badge-exchange badge-exchange-${status}`} data-testid="inbox-status"
    data-status=${status}>${t(`exchange.status.${status}`)}</span>`;
}

export function OverdueBadge({ overdue }) {
  if (!overdue) return null;
  return html`<span class="badge badge-overdue" data-testid="overdue-badge">${t('exchange.overdue')}</span>`;
}

function Page({ children }) {
  return html`<main class="page page-inbox" id="main">${children}</main>`;
}

export function InboxListView() {
  const [docs, setDocs] = useState(null);
  const [error, setError] = useState(null);
  useTitle(t('exchange.inbox.title'));
  useEffect(() => { request('GET', '/exchange/inbox').then(setDocs).catch(setError); }, []);
  return html`
    <${Page}>
      <section class="card" aria-labelledby="inbox-heading">
        <h1 id="inbox-heading" tabindex="-1">${t('exchange.inbox.title')}</h1>
        <p class="muted">${t('exchange.inbox.intro')}</p>
        <${ErrorBox} error=${error} testid="inbox-error" />
        ${!docs && !error && html`<${Loading} />`}
        ${docs && docs.length === 0 && html`<p class="empty" data-testid="inbox-empty">${t('exchange.inbox.empty')}</p>`}
        ${docs && docs.length > 0 && html`
          <table class="copies inbox-table" data-testid="inbox-table">
            <thead><tr>
              <th>${t('exchange.field.code')}</th><th>${t('exchange.field.subject')}</th>
              <th>${t('exchange.field.sender')}</th><th>${t('exchange.field.received_at')}</th>
              <th>${t('exchange.field.due_date')}</th><th>${t('exchange.field.status')}</th>
            </tr></thead>
            <tbody>
              ${docs.map((d) => html`
                <tr key=${d.id} data-testid="inbox-row" data-incoming-id=${d.id} data-overdue=${d.overdue ? 'yes' : 'no'}>
                  <td><a href=${`#${incomingPath(d.id)}`} data-testid="inbox-open">${d.code}</a></td>
                  <td>${d.subject}</td>
                  <td>${d.sender_name}</td>
                  <td>${formatDateTime(d.received_at)}</td>
                  <td>${formatDay(d.due_date)}</td>
                  <td><${InboxStatus} status=${d.status} /> <${OverdueBadge} overdue=${d.overdue} /></td>
                </tr>`)}
            </tbody>
          </table>`}
      </section>
    <//>`;
}

function History({ steps }) {
  return html`
    <ol class="exchange-history" data-testid="inbox-history">
      ${steps.map((s) => html`
        <li key=${`${s.code}-${s.at}`} data-testid="history-step" data-code=${s.code}>
          <strong>${s.code} · ${t(`exchange.step.${s.code}`)}</strong>
          <span class="muted"> · ${formatDateTime(s.at)}</span>
          ${(s.department || s.person) && html`<span> · ${[s.department, s.person].filter(Boolean).join(', ')}</span>`}
          ${s.description && html`<div class="exchange-note">${s.description}</div>`}
          <div class="muted exchange-delivery">${s.status_sent
            ? t('exchange.inbox.reported', { state: t(`exchange.delivery.${s.delivery || 'queued'}`) })
            : t('exchange.delivery.not_sent')}</div>
        </li>`)}
    </ol>`;
}

function Steps({ doc, onDone, setError }) {
  const [note, setNote] = useState('');
  const [department, setDepartment] = useState('');
  const [person, setPerson] = useState('');
  const [busy, setBusy] = useState(false);
  const next = NEXT[doc.status] || [];
  if (next.length === 0) return html`<p class="muted" data-testid="inbox-final">${t('exchange.inbox.final')}</p>`;

  async function take(code) {
    setBusy(true);
    try {
      const out = await request('POST', `/exchange/inbox/${doc.id}/status`, {
        code, description: note, department: code === '04' ? department : '', person: code === '04' ? person : '',
      });
      setNote(''); setDepartment(''); setPerson('');
      onDone(out);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  const missing = { '02': !note.trim(), '04': !(department.trim() && person.trim()) };
  return html`
    <div class="exchange-steps" data-testid="inbox-steps">
      <div class="field">
        <label for="step-note">${next.includes('02') ? t('exchange.inbox.note_or_reason') : t('exchange.inbox.note')}</label>
        <textarea id="step-note" data-testid="step-note" maxlength="2000" value=${note}
          onInput=${(e) => setNote(e.currentTarget.value)}></textarea>
      </div>
      ${next.includes('04') && html`
        <div class="field-row">
          <div class="field"><label for="step-department">${t('exchange.inbox.department')}</label>
            <input id="step-department" type="text" maxlength="300" data-testid="step-department" value=${department}
              onInput=${(e) => setDepartment(e.currentTarget.value)} /></div>
          <div class="field"><label for="step-person">${t('exchange.inbox.person')}</label>
            <input id="step-person" type="text" maxlength="300" data-testid="step-person" value=${person}
              onInput=${(e) => setPerson(e.currentTarget.value)} /></div>
        </div>`}
      <div class="toolbar" role="group" aria-label=${t('exchange.inbox.actions')}>
        ${next.map((code) => html`
          <${ConfirmButton} key=${code} label=${t(`exchange.action.${code}`)} testid=${`step-${code}`}
            question=${t(`exchange.confirm.${code}`)} variant=${code === '02' ? 'danger' : 'primary'}
            disabled=${busy || missing[code] === true} onConfirm=${() => take(code)} />`)}
      </div>
      ${next.includes('02') && !note.trim() && html`<p class="muted" data-testid="refuse-hint">${t('exchange.inbox.refuse_hint')}</p>`}
    </div>`;
}

export function InboxDocumentView({ incomingId }) {
  const [doc, setDoc] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState('');
  const [warning, setWarning] = useState('');
  useTitle(doc ? `${doc.code} · ${t('exchange.inbox.title')}` : t('exchange.inbox.title'));
  const load = () => request('GET', `/exchange/inbox/${incomingId}`).then(setDoc).catch(setError);
  useEffect(() => { load(); }, [incomingId]);

  if (!doc) {
    return html`<${Page}><h1 tabindex="-1" class="visually-hidden">${t('exchange.inbox.title')}</h1>
      ${error ? html`<${ErrorBox} error=${error} testid="inbox-error" />` : html`<${Loading} />`}<//>`;
  }
  const done = async (out) => {
    setError(null);
    setNotice(t('exchange.inbox.step_taken', { step: t(`exchange.step.${out.step.code}`) }));
    setWarning(out.status_sent ? '' : t('exchange.inbox.no_status_sent'));
    await load();
  };
  return html`
    <${Page}>
      <p class="breadcrumb"><a href=${`#${inboxPath()}`} data-testid="inbox-back">← ${t('exchange.inbox.back')}</a></p>
      <section class="card" aria-labelledby="incoming-heading">
        <div class="meeting-head-top">
          <h1 id="incoming-heading" tabindex="-1" data-testid="incoming-heading">${doc.code}</h1>
          <span><${InboxStatus} status=${doc.status} /> <${OverdueBadge} overdue=${doc.overdue} /></span>
        </div>
        <p class="record-subject" data-testid="incoming-subject">${doc.subject}</p>
        <dl class="exchange-facts">
          <dt>${t('exchange.field.sender')}</dt><dd>${doc.sender_name} (${doc.sender_code})</dd>
          <dt>${t('exchange.field.document_id')}</dt><dd><code>${doc.document_id}</code></dd>
          <dt>${t('exchange.field.promulgation_date')}</dt><dd>${formatDay(doc.promulgation_date)}</dd>
          ${doc.due_date && html`<dt>${t('exchange.field.due_date')}</dt><dd data-testid="incoming-due">${formatDay(doc.due_date)}</dd>`}
          <dt>${t('exchange.field.received_at')}</dt><dd>${formatDateTime(doc.received_at)}</dd>
          <dt>${t('exchange.field.signer')}</dt><dd>${doc.signer.common_name}</dd>
        </dl>
      </section>
      <section class="card" aria-labelledby="attachments-heading">
        <h2 id="attachments-heading">${t('exchange.inbox.attachments')}</h2>
        <ul class="exchange-attachments">
          ${doc.attachments.map((a) => html`
            <li key=${a.number}>
              <a href=${`${API_BASE}/exchange/inbox/${doc.id}/attachments/${a.number}`} download=${a.name}
                data-testid="attachment-download">${a.name}</a>
              <span class="muted"> · ${a.description} · ${Math.max(1, Math.round(a.size / 1024))} KB</span>
              <${PdfSignatures} pdf=${a.pdf} />
              <${ToMeeting} doc=${doc} attachment=${a} />
            </li>`)}
        </ul>
      </section>
      <section class="card" aria-labelledby="handling-heading">
        <h2 id="handling-heading">${t('exchange.inbox.handling')}</h2>
        <div aria-live="polite">
          <${ErrorBox} error=${error} testid="inbox-error" />
          <${Notice} text=${notice} testid="inbox-notice" />
          ${warning && html`<div class="alert alert-warn" role="status" data-testid="inbox-warning">${warning}</div>`}
        </div>
        <${Steps} doc=${doc} onDone=${done} setError=${setError} />
        <h3 class="exchange-history-heading">${t('exchange.inbox.history')}</h3>
        <${History} steps=${doc.history} />
      </section>
    <//>`;
}
