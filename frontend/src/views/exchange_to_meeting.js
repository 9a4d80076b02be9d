// One PDF attachment of a document received, put before a meeting (POST
// /api/exchange/inbox/<id>/attachments/<n>/meeting): the clerk picks one of the meetings it prepares and,
// if it likes, an agenda item; the server checks the PDF as an upload and the clerk's right on that meeting.
// Also says what the PDF's own signatures were found to be on arrival.
import { html, useEffect, useState } from '../lib/preact.js';
import { api, request } from '../lib/api.js';
import { t } from '../lib/i18n.js';
import { meetingPath } from '../lib/router.js';
import { ConfirmButton, ErrorBox } from './components.js';

const OPEN = new Set(['draft', 'published', 'in_progress']);

/** The PDF's own signatures as found on arrival. */
export function PdfSignatures({ pdf }) {
  if (!pdf) return null;
  if (pdf.signatures === 0) {
    return html`<span class="badge" data-testid="attachment-unsigned">${t('exchange.to_meeting.unsigned')}</span>`;
  }
  return html`<span class="badge badge-ok" data-testid="attachment-signed">
    ${t('exchange.to_meeting.signed', { signers: pdf.signers.join(', ') })}</span>`;
}

export function ToMeeting({ doc, attachment }) {
  const [open, setOpen] = useState(false);
  const [meetings, setMeetings] = useState(null);
  const [meetingId, setMeetingId] = useState('');
  const [items, setItems] = useState([]);
  const [itemId, setItemId] = useState('');
  const [done, setDone] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    if (!open || meetings) return;
    api.meetings().then((all) => setMeetings(all.filter((m) => OPEN.has(m.status)
      && (m.my_role === 'secretary' || m.my_role === 'chair')))).catch(setError);
  }, [open]);
  useEffect(() => {
    setItemId('');
    setItems([]);
    if (meetingId) api.meeting(Number(meetingId)).then((m) => setItems(m.agenda || [])).catch(setError);
  }, [meetingId]);

  if (!attachment.pdf || ['recalled', 'replaced'].includes(doc.status)) return null;
  if (done) {
    return html`<p class="notice" role="status" data-testid="to-meeting-done">
      ${t('exchange.to_meeting.done')} <a href=${`#${meetingPath(done.meeting_id)}`}>${t('exchange.to_meeting.open')}</a></p>`;
  }
  if (!open) {
    return html`<button type="button" class="button button-secondary button-small" data-testid="to-meeting-open"
      onClick=${() => setOpen(true)}>${t('exchange.to_meeting.button')}</button>`;
  }
  const chosen = meetings && meetings.find((m) => String(m.id) === meetingId);
  const attach = async () => {
    setError(null);
    try {
      setDone(await request('POST', `/exchange/inbox/${doc.id}/attachments/${attachment.number}/meeting`, {
        meeting_id: Number(meetingId), agenda_item_id: itemId ? Number(itemId) : null,
      }));
    } catch (err) {
      setError(err);
    }
  };
  return html`
    <div class="exchange-to-meeting" data-testid="to-meeting-form">
      <${ErrorBox} error=${error} testid="to-meeting-error" />
      ${meetings && meetings.length === 0 && html`<p class="empty">${t('exchange.to_meeting.none')}</p>`}
      ${meetings && meetings.length > 0 && html`
        <label class="field">${t('exchange.to_meeting.meeting')}
          <select value=${meetingId} onChange=${(e) => setMeetingId(e.target.value)} data-testid="to-meeting-meeting">
            <option value="">${t('exchange.to_meeting.pick_meeting')}</option>
            ${meetings.map((m) => html`<option value=${String(m.id)}>${m.title}</option>`)}
          </select>
        </label>
        ${items.length > 0 && html`
          <label class="field">${t('exchange.to_meeting.item')}
            <select value=${itemId} onChange=${(e) => setItemId(e.target.value)} data-testid="to-meeting-item">
              <option value="">${t('exchange.to_meeting.no_item')}</option>
              ${items.map((i) => html`<option value=${String(i.id)}>${i.title}</option>`)}
            </select>
          </label>`}
        <${ConfirmButton} label=${t('exchange.to_meeting.confirm')} disabled=${!chosen} testid="to-meeting-submit" variant="primary"
          question=${chosen ? t('exchange.to_meeting.question', { name: attachment.name, meeting: chosen.title }) : ''}
          onConfirm=${attach} />`}
    </div>`;
}
