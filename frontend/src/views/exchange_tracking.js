// The tracking panel of a record sent to other agencies (GET /api/records/<id>/exchange), shown on the
// record's page to the meeting's staff: per recipient its delivery, the statuses it reported (01 arrived
// ... 06 done) in order, the latest, the due date and an overdue badge. Nothing is shown before the record
// was sent (the send form is elsewhere).
import { html, useEffect, useState } from '../lib/preact.js';
import { request } from '../lib/api.js';
import { formatDateTime, t } from '../lib/i18n.js';
import { ErrorBox } from './components.js';
import { OverdueBadge, formatDay } from './exchange_inbox.js';

const STAFF = new Set(['chair', 'secretary']);

function Recipient({ row, names }) {
  const latest = row.latest;
  return html`
    <li class="tracking-recipient" data-testid="tracking-row" data-recipient=${row.recipient_code}
      data-latest=${latest ? latest.code : ''} data-overdue=${row.overdue ? 'yes' : 'no'}>
      <div>
        <strong>${names[row.recipient_code] || row.recipient_code}</strong>
        <span class="muted"> (${row.recipient_code})</span>
        <span class=${`badge badge-delivery badge-delivery-${row.state}`} data-testid="tracking-delivery">${t(`exchange.delivery.${row.state}`)}</span>
        ${latest && html` <span class="badge badge-exchange" data-testid="tracking-latest">${latest.code} · ${t(`exchange.step.${latest.code}`)}</span>`}
        <${OverdueBadge} overdue=${row.overdue} />
      </div>
      ${row.due_date && html`<div class="muted">${t('exchange.field.due_date')}: ${formatDay(row.due_date)}</div>`}
      ${row.last_error && row.state !== 'delivered' && html`<div class="muted">${row.last_error}</div>`}
      ${row.history.length === 0
        ? html`<p class="muted" data-testid="tracking-none">${t('exchange.tracking.no_status')}</p>`
        : html`
          <ol class="exchange-history">
            ${row.history.map((h) => html`
              <li key=${h.package_sha256} data-testid="tracking-step" data-code=${h.code}>
                <strong>${h.code} · ${t(`exchange.step.${h.code}`)}</strong>
                <span class="muted"> · ${formatDateTime(h.at)}</span>
                ${(h.department || h.staff) && html`<span> · ${[h.department, h.staff].filter(Boolean).join(', ')}</span>`}
                ${h.description && html`<div class="exchange-note">${h.description}</div>`}
              </li>`)}
          </ol>`}
    </li>`;
}

/** Rendered by views/record.js; renders nothing for people who may not see it, or before a send. */
export function ExchangeTracking({ record, meeting }) {
  const [rows, setRows] = useState(null);
  const [names, setNames] = useState({});
  const [error, setError] = useState(null);
  const visible = record && record.status === 'published' && meeting && STAFF.has(meeting.my_role);
  useEffect(() => {
    if (!visible) return;
    request('GET', `/records/${record.id}/exchange`).then(setRows).catch(setError);
    request('GET', '/exchange/agencies')
      .then((list) => setNames(Object.fromEntries(list.map((a) => [a.code, a.name])))).catch(() => {});
  }, [visible, record && record.id]);
  if (!visible || (!error && (!rows || rows.length === 0))) return null;
  return html`
    <section class="card" aria-labelledby="tracking-heading" data-testid="exchange-tracking">
      <h2 id="tracking-heading">${t('exchange.tracking.title')}</h2>
      <${ErrorBox} error=${error} testid="tracking-error" />
      ${rows && html`<ul class="tracking-list">${rows.map((r) => html`<${Recipient} key=${r.id} row=${r} names=${names} />`)}</ul>`}
    </section>`;
}
