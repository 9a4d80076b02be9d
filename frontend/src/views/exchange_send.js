// Sending a published record to other agencies (document exchange, issue 17): the secretariat picks
// recipients from the agency directory, optionally a due date, confirms, and follows each recipient in one
// table: the delivery (queued, sending, delivered, failed) and what the recipient reported since (01 arrived
// ... 06 done, with the history, the due date and an overdue badge), both from GET /records/<id>/exchange.
// The chair sees the table; nobody else sees this card. Rendered from record.js: <ExchangeSend record meeting />.
import { html, useEffect, useState } from '../lib/preact.js';
import { request } from '../lib/api.js';
import { formatDateTime, formatDay, t } from '../lib/i18n.js';
import { ConfirmButton, ErrorBox, Notice } from './components.js';
import { OverdueBadge } from './exchange_inbox.js';

const STAFF = new Set(['chair', 'secretary']);
const REFRESH_MS = 5000; // the outbox looks every few seconds: follow it while something is on its way
const enc = encodeURIComponent;

function StateBadge({ state }) {
  return html`<span class=${`badge badge-exchange badge-exchange-${state}`} data-testid="exchange-state">${t(`exchange_send.state.${state}`)}</span>`;
}

/** What the recipient reported (01 arrived ... 06 done): the latest, the due date, and the whole history. */
function Reported({ row }) {
  const latest = row.latest;
  return html`
    ${latest
      ? html`<span class="badge badge-exchange" data-testid="tracking-latest">${latest.code} · ${t(`exchange.step.${latest.code}`)}</span>`
      : html`<span class="muted" data-testid="tracking-none">${t('exchange.tracking.no_status')}</span>`}
    <${OverdueBadge} overdue=${row.overdue} />
    ${row.due_date && html`<div class="muted">${t('exchange.field.due_date')}: ${formatDay(row.due_date)}</div>`}
    ${row.history.length > 0 && html`
      <details class="exchange-history-details">
        <summary>${t('exchange_send.history', { count: row.history.length })}</summary>
        <ol class="exchange-history">
          ${row.history.map((h) => html`
            <li key=${h.package_sha256} data-testid="tracking-step" data-code=${h.code}>
              <strong>${h.code} · ${t(`exchange.step.${h.code}`)}</strong>
              <span class="muted"> · ${formatDateTime(h.at)}</span>
              ${(h.department || h.staff) && html`<span> · ${[h.department, h.staff].filter(Boolean).join(', ')}</span>`}
              ${h.description && html`<div class="exchange-note">${h.description}</div>`}
            </li>`)}
        </ol>
      </details>`}`;
}

/** The card of a published record's page; nothing for other records or readers. */
export function ExchangeSend({ record, meeting }) {
  if (!record || !meeting || record.status !== 'published' || !STAFF.has(meeting.my_role)) return null;
  return html`<${ExchangeCard} record=${record} maysend=${meeting.my_role === 'secretary'} />`;
}

function ExchangeCard({ record, maysend }) {
  const [rows, setRows] = useState(null);
  const [agencies, setAgencies] = useState([]);
  const [chosen, setChosen] = useState(() => new Set());
  const [due, setDue] = useState('');
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);
  const path = `/records/${enc(record.id)}/exchange`;
  const load = () => request('GET', path).then(setRows).catch(setError);

  useEffect(() => { load(); if (maysend) request('GET', '/exchange/agencies').then(setAgencies).catch(setError); }, [record.id]);
  const pending = (rows || []).some((r) => r.state === 'queued' || r.state === 'sending');
  useEffect(() => {
    if (!pending) return undefined;
    const timer = setInterval(load, REFRESH_MS);
    return () => clearInterval(timer);
  }, [pending, record.id]);

  const sentTo = new Set((rows || []).filter((r) => r.business === 'new').map((r) => r.recipient_code));
  const names = Object.fromEntries(agencies.map((a) => [a.code, a.name]));
  const choices = agencies.filter((a) => a.active && !sentTo.has(a.code) && a.code !== ourCode(rows));
  const toggle = (code) => {
    const next = new Set(chosen);
    if (next.has(code)) next.delete(code); else next.add(code);
    setChosen(next);
  };
  async function send() {
    setBusy(true);
    setError(null);
    try {
      const body = { recipients: [...chosen] };
      if (due) body.due_date = due;
      const sent = await request('POST', path, body);
      setNotice(t('exchange_send.queued', { count: sent.length }));
      setChosen(new Set());
      setDue('');
      await load();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return html`
    <section class="card section-exchange" aria-labelledby="exchange-heading" data-testid="exchange-send">
      <h2 id="exchange-heading">${t('exchange_send.heading')}</h2>
      <div aria-live="polite">
        <${ErrorBox} error=${error} testid="exchange-error" />
        <${Notice} text=${notice} testid="exchange-notice" />
      </div>
      ${maysend && html`
        <fieldset class="exchange-recipients">
          <legend>${t('exchange_send.recipients')}</legend>
          ${choices.length === 0 && html`<p class="empty">${t('exchange_send.no_agencies')}</p>`}
          <ul class="checklist">
            ${choices.map((a) => html`
              <li key=${a.code}>
                <label>
                  <input type="checkbox" checked=${chosen.has(a.code)} onChange=${() => toggle(a.code)}
                    data-testid="exchange-recipient" value=${a.code} />
                  <span>${a.name}</span> <span class="muted">${a.code}</span>
                </label>
              </li>`)}
          </ul>
          <label class="field">
            <span>${t('exchange_send.due_date')}</span>
            <input type="date" value=${due} onInput=${(e) => setDue(e.target.value)} data-testid="exchange-due" />
          </label>
          <div class="toolbar">
            <${ConfirmButton} label=${t('exchange_send.send')} variant="primary" testid="exchange-send-button"
              question=${t('exchange_send.send_question', { count: chosen.size })}
              disabled=${busy || chosen.size === 0} onConfirm=${send} />
          </div>
        </fieldset>`}
      <h3>${t('exchange_send.deliveries')}</h3>
      ${rows && rows.length === 0 && html`<p class="empty" data-testid="exchange-none">${t('exchange_send.none')}</p>`}
      ${rows && rows.length > 0 && html`
        <table class="table exchange-table" data-testid="exchange-table">
          <thead><tr>
            <th scope="col">${t('exchange_send.col_recipient')}</th>
            <th scope="col">${t('exchange_send.col_kind')}</th>
            <th scope="col">${t('exchange_send.col_state')}</th>
            <th scope="col">${t('exchange_send.col_when')}</th>
            <th scope="col">${t('exchange_send.col_reported')}</th>
          </tr></thead>
          <tbody>
            ${rows.map((r) => html`
              <tr key=${r.id} data-testid="exchange-row" data-recipient=${r.recipient_code}
                data-latest=${r.latest ? r.latest.code : ''} data-overdue=${r.overdue ? 'yes' : 'no'}>
                <td>${names[r.recipient_code] || ''} <span class="muted">${r.recipient_code}</span></td>
                <td>${t(`exchange_send.kind.${r.business}`)}</td>
                <td><${StateBadge} state=${r.state} />
                  ${r.last_error && html`<div class="muted" data-testid="exchange-last-error">${t('exchange_send.last_error', { attempts: r.attempts, error: r.last_error })}</div>`}</td>
                <td>${formatDateTime(r.delivered_at || r.created_at)}</td>
                <td><${Reported} row=${r} /></td>
              </tr>`)}
          </tbody>
        </table>`}
    </section>`;
}

/** Our own agency is never a recipient: the document id of a row starts with it; before any row, the
 * server refuses it anyway (bad_recipients). */
function ourCode(rows) {
  const first = (rows || [])[0];
  return first ? first.document_id.split(',')[0] : null;
}
