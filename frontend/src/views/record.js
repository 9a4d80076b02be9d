// Resolutions and minutes: the list in the meeting page (with the staff's drafting form), and one
// record's page with its PDF, its signatures as they verify now, and the step the reader may take
// (the secretary reviews and initials, the chair signs, the staff publish).
import { html, useEffect, useState } from '../lib/preact.js';
import { api, framable } from '../lib/api.js';
import { acquireLive, releaseLive } from '../lib/live_store.js';
import { liveSocket } from '../lib/socket.js';
import { formatDateTime, t } from '../lib/i18n.js';
import { meetingPath, recordPath } from '../lib/router.js';
import { ConfirmButton, ErrorBox, Loading, Notice, useTitle } from './components.js';
import { SignatureReport } from './signature_report.js';
import { RecordTasks } from './record_tasks.js';
import { ExchangeSend } from './exchange_send.js';

const STAFF = new Set(['chair', 'secretary']);

function RecordBadge({ status }) {
  return html`<span class=${`badge badge-record badge-record-${status}`} data-testid="record-status">${t(`record.status.${status}`)}</span>`;
}

function lines(text) {
  return text.split('\n').map((s) => s.trim()).filter(Boolean);
}

/** The meeting's records; the staff also draft new ones here. */
export function RecordsSection({ meeting }) {
  const [records, setRecords] = useState(null);
  const [error, setError] = useState(null);
  const staff = STAFF.has(meeting.my_role);
  const load = () => api.records(meeting.id).then(setRecords).catch(setError);
  useEffect(() => { load(); }, [meeting.id, meeting.status]);
  if (!staff && records && records.length === 0) return null;
  return html`
    <section class="card section-records" aria-labelledby="records-heading">
      <div class="section-head"><h2 id="records-heading">${t('record.section')}</h2></div>
      <${ErrorBox} error=${error} testid="records-error" />
      ${records === null && !error && html`<${Loading} />`}
      ${records && records.length === 0 && html`<p class="empty">${t('record.none')}</p>`}
      ${records && records.length > 0 && html`
        <ul class="record-list">
          ${records.map((r) => html`
            <li key=${r.id} class="record-row" data-testid="record-row">
              <a href=${`#${recordPath(r.id)}`} data-testid="record-link">
                <span class="record-kind">${t(`record.kind.${r.kind}`)} ${r.number}</span>
                <span class="record-title">${r.title}</span>
              </a>
              <${RecordBadge} status=${r.status} />
            </li>`)}
        </ul>`}
      ${staff && html`<${DraftForm} meeting=${meeting} onDone=${(r) => { window.location.hash = `#${recordPath(r.id)}`; }} />`}
    </section>`;
}

/** The form's fields from a record's stored content (editing), or empty (a new draft). */
function initialForm(record) {
  if (!record) return { number: '', title: '', poll_id: '', preamble: '', articles: '', recipients: '' };
  const c = record.content || {};
  const body = record.kind === 'resolution' ? (c.articles || []).map((a) => a.text) : (c.summary || []);
  return { number: record.number, title: record.title, poll_id: String(record.poll_id || ''),
    preamble: (c.preamble || []).join('\n'), articles: body.join('\n'), recipients: (c.recipients || []).join('\n') };
}

function DraftForm({ meeting, onDone }) {
  const [kind, setKind] = useState(null);
  if (!kind) {
    return html`
      <div class="toolbar" role="group" aria-label=${t('record.draft_actions')}>
        <button type="button" class="button button-secondary" data-testid="draft-resolution" onClick=${() => setKind('resolution')}>${t('record.draft_resolution')}</button>
        ${meeting.status === 'closed' && meeting.kind !== 'opinion_round' && html`
          <button type="button" class="button button-secondary" data-testid="draft-minutes" onClick=${() => setKind('minutes')}>${t('record.draft_minutes')}</button>`}
      </div>`;
  }
  return html`<${RecordForm} meeting=${meeting} kind=${kind} onDone=${onDone} onCancel=${() => setKind(null)} />`;
}

/** Drafting a new record (no `record`) or editing a draft's text (`record`): the server renders it again. */
function RecordForm({ meeting, kind, record, onDone, onCancel }) {
  const fromRound = meeting.kind === 'opinion_round';
  const editing = Boolean(record);
  const [polls, setPolls] = useState([]);
  const [form, setForm] = useState(() => initialForm(record));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (kind === 'resolution' && !fromRound && !editing) api.polls(meeting.id).then((all) => setPolls(all.filter((p) => p.status === 'closed'))).catch(setError);
  }, [kind]);
  const set = (key) => (e) => setForm({ ...form, [key]: e.currentTarget.value });
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const data = { number: form.number, title: form.title, recipients: lines(form.recipients) };
    if (!editing) data.kind = kind;
    if (kind === 'resolution') {
      if (!fromRound && !editing) data.poll_id = Number(form.poll_id) || null;
      data.preamble = lines(form.preamble);
      const articles = lines(form.articles).map((text, i) => ({ heading: `Điều ${i + 1}.`, text }));
      if (articles.length || !fromRound || editing) data.articles = articles; // a new round's are pre-filled
    } else {
      data.summary = lines(form.articles);
    }
    try {
      onDone(editing ? await api.updateRecord(record.id, data) : await api.createRecord(meeting.id, data));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  const heading = editing ? 'record.edit_draft' : (kind === 'resolution' ? 'record.draft_resolution' : 'record.draft_minutes');
  return html`
    <form class="form record-form" onSubmit=${submit} data-testid="record-form">
      <h3>${t(heading)}</h3>
      ${kind === 'resolution' && !fromRound && !editing && html`
        <label for="rf-poll">${t('record.poll')}</label>
        <select id="rf-poll" required value=${form.poll_id} onChange=${set('poll_id')} data-testid="record-poll">
          <option value="">${t('record.pick_poll')}</option>
          ${polls.map((p) => html`<option key=${p.id} value=${p.id}>${p.question}</option>`)}
        </select>
        ${polls.length === 0 && html`<p class="muted" data-testid="record-no-polls">${t('record.no_closed_polls')}</p>`}`}
      <label for="rf-number">${t('record.number')}</label>
      <input id="rf-number" type="text" required maxlength="50" placeholder=${kind === 'resolution' ? '15/NQ-CP' : '02/BB-CP'}
        value=${form.number} onInput=${set('number')} data-testid="record-number" />
      <label for="rf-title">${t('record.title')}</label>
      <input id="rf-title" type="text" required maxlength="500" value=${form.title} onInput=${set('title')} data-testid="record-title" />
      ${kind === 'resolution' && html`
        <label for="rf-preamble">${t('record.preamble')}</label>
        <textarea id="rf-preamble" rows="3" value=${form.preamble} onInput=${set('preamble')} data-testid="record-preamble"></textarea>`}
      <label for="rf-articles">${t(kind === 'resolution' ? 'record.articles' : 'record.summary')}</label>
      <textarea id="rf-articles" rows="4" value=${form.articles} onInput=${set('articles')} data-testid="record-articles"></textarea>
      <label for="rf-recipients">${t('record.recipients')}</label>
      <textarea id="rf-recipients" rows="2" value=${form.recipients} onInput=${set('recipients')} data-testid="record-recipients"></textarea>
      <${ErrorBox} error=${error} testid="record-form-error" />
      <div class="toolbar">
        <button type="submit" class="button button-primary" disabled=${busy} data-testid=${editing ? 'record-save' : 'record-create'}>${t(editing ? 'record.save_draft' : 'record.create')}</button>
        <button type="button" class="button button-secondary" onClick=${onCancel}>${t('common.cancel')}</button>
      </div>
    </form>`;
}

/** The step this reader may take now, if any. */
function nextStep(record, role) {
  if (record.status === 'draft' && role === 'secretary') return 'review';
  if (record.status === 'reviewed' && role === 'chair') return 'sign';
  if (record.status === 'signed' && STAFF.has(role)) return 'publish';
  return null;
}

/** The staff's open record page follows the record (the secretary reviews while the chair looks):
 * `record.changed` comes to the meeting's staff room, which the meeting's live store joins. Answers
 * the connection ('online' once joined); every (re)join reloads, for changes made while away. */
function useRecordChanges(meeting, recordId, reload) {
  const [connection, setConnection] = useState('');
  const staffMeeting = meeting && STAFF.has(meeting.my_role) ? meeting.id : null;
  useEffect(() => {
    if (!staffMeeting) return undefined;
    const store = acquireLive(staffMeeting);
    let syncedAt = store.snapshot.syncedAt;
    const off = store.subscribe((snap) => {
      setConnection(snap.connection);
      if (snap.syncedAt !== syncedAt) {
        syncedAt = snap.syncedAt;
        reload();
      }
    });
    setConnection(store.snapshot.connection);
    const socket = liveSocket();
    const onChanged = (data) => { if (data && data.record_id === recordId) reload(); };
    socket.on('record.changed', onChanged);
    return () => {
      socket.off('record.changed', onChanged);
      off();
      releaseLive(store);
    };
  }, [staffMeeting, recordId]);
  return connection;
}

export function RecordView({ recordId }) {
  const [record, setRecord] = useState(null);
  const [meeting, setMeeting] = useState(null);
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState('');
  const [editing, setEditing] = useState(false);
  useTitle(record ? `${t(`record.kind.${record.kind}`)} ${record.number}` : t('record.section'));

  async function load() {
    try {
      const r = await api.record(recordId);
      setRecord(r);
      setMeeting(await api.meeting(r.meeting_id));
      setReport(r.signatures.length ? await api.recordVerification(recordId) : null);
    } catch (err) {
      setError(err);
    }
  }
  useEffect(() => { load(); }, [recordId]);
  const connection = useRecordChanges(meeting, recordId, load);

  if (!record) {
    return html`<main class="page" id="main"><h1 tabindex="-1" class="visually-hidden">${t('record.section')}</h1>
      ${error ? html`<${ErrorBox} error=${error} />` : html`<${Loading} />`}</main>`;
  }
  const step = meeting ? nextStep(record, meeting.my_role) : null;
  // Whoever cannot act now learns who is to act next (or when it was published).
  const waiting = meeting && !step && (record.status === 'published'
    ? t('record.published_on', { date: formatDateTime(record.published_at) })
    : t(`record.waiting.${record.status}`));
  const done = async (updated, text) => { setRecord(updated); setNotice(text); setError(null); await load(); };
  return html`
    <main class="page page-record" id="main" data-live=${connection}>
      <p class="breadcrumb"><a href=${`#${meetingPath(record.meeting_id)}`}>← ${t('nav.back_to_meeting')}</a></p>
      <section class="card" aria-labelledby="record-heading">
        <div class="meeting-head-top">
          <h1 id="record-heading" tabindex="-1" data-testid="record-heading">${t(`record.kind.${record.kind}`)} ${record.number}</h1>
          <${RecordBadge} status=${record.status} />
        </div>
        <p class="record-subject">${record.title}</p>
        ${waiting && html`<p class="muted" data-testid="record-next">${waiting}</p>`}
        <div class="toolbar">
          <a class="button button-secondary" href=${api.recordPdfUrl(record.id)} target="_blank" rel="noopener" data-testid="record-open-pdf">${t('record.open_pdf')}</a>
          <a class="button button-secondary" href=${api.recordPdfUrl(record.id)} download data-testid="record-download">${t('record.download')}</a>
        </div>
        <div aria-live="polite">
          <${ErrorBox} error=${error} testid="record-error" />
          <${Notice} text=${notice} testid="record-notice" />
        </div>
        ${record.status === 'draft' && meeting && STAFF.has(meeting.my_role) && !editing && html`
          <div class="toolbar" role="group" aria-label=${t('record.draft_actions')}>
            <button type="button" class="button button-secondary" data-testid="record-edit" onClick=${() => setEditing(true)}>${t('record.edit_draft')}</button>
            <${ConfirmButton} label=${t('record.discard')} question=${t('record.discard_question')} testid="record-discard"
              onConfirm=${() => api.discardRecord(record.id).then(() => { window.location.hash = `#${meetingPath(record.meeting_id)}`; }).catch(setError)} />
          </div>`}
        ${editing && html`<${RecordForm} meeting=${meeting} kind=${record.kind} record=${record}
          onDone=${(r) => { setEditing(false); done(r, t('record.draft_saved')); }} onCancel=${() => setEditing(false)} />`}
        ${step === 'publish' && html`
          <div class="toolbar">
            <${ConfirmButton} label=${t('record.publish')} question=${t('record.publish_question')} variant="primary"
              testid="record-publish"
              onConfirm=${() => api.publishRecord(record.id).then((r) => done(r, t('record.published'))).catch(setError)} />
          </div>`}
      </section>
      <${PdfInline} record=${record} />
      <${RecordTasks} record=${record} meeting=${meeting} />
      <${ExchangeSend} record=${record} meeting=${meeting} />
      ${(step === 'review' || step === 'sign') && html`
        <section class="card" aria-labelledby="sign-heading">
          <${SignForm} record=${record} step=${step}
            onSigned=${(r) => done(r, t(step === 'review' ? 'record.reviewed' : 'record.signed'))} />
        </section>`}
      <section class="card" aria-labelledby="signatures-heading">
        <h2 id="signatures-heading">${t('record.signatures')}</h2>
        ${record.signatures.length === 0 && html`<p class="empty">${t('record.no_signatures')}</p>`}
        ${report && html`<${SignatureReport} report=${report} />`}
        <ul class="signature-history">
          ${record.signatures.map((s) => html`<li key=${s.field_name}>${t(`record.field.${s.field_name}`)}: ${s.signer_name} · ${formatDateTime(s.signed_at)} · PAdES ${s.level}</li>`)}
        </ul>
      </section>
    </main>`;
}

/** My certificates that can sign now, and the one chosen (the first by default). */
export function useCredentials(setError) {
  const [credentials, setCredentials] = useState(null);
  const [credentialId, setCredentialId] = useState('');
  useEffect(() => {
    api.credentials().then((list) => {
      const usable = list.filter((c) => c.usable);
      setCredentials(usable);
      if (usable.length) setCredentialId(String(usable[0].id));
    }).catch(setError);
  }, []);
  return [credentials, credentialId, setCredentialId];
}

/** The PDF itself, in the page, when the server lets the app frame it; the links above always work. */
function PdfInline({ record }) {
  const url = api.recordPdfUrl(record.id);
  const [shown, setShown] = useState(false);
  useEffect(() => {
    let current = true;
    framable(url).then((ok) => { if (current) setShown(ok); });
    return () => { current = false; };
  }, [url]);
  if (!shown) return null;
  // A new frame for each version of the file (the server answers no-cache with an ETag, so a newly
  // signed version is fetched, not taken from a cache). The API refuses query strings: no "?v=".
  return html`
    <section class="card card-pdf" aria-labelledby="pdf-heading">
      <h2 id="pdf-heading" class="visually-hidden">${t('record.pdf')}</h2>
      <iframe class="pdf-frame" key=${record.pdf_sha256} src=${url}
        title=${`${t(`record.kind.${record.kind}`)} ${record.number} (PDF)`} data-testid="record-pdf"></iframe>
    </section>`;
}

function SignForm({ record, step, onSigned }) {
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [credentials, credentialId, setCredentialId] = useCredentials(setError);
  const chosen = credentials && credentials.find((c) => String(c.id) === credentialId);
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const call = step === 'review' ? api.reviewRecord : api.signRecord;
      const updated = await call(record.id, Number(credentialId), secret);
      setSecret('');
      onSigned(updated);
    } catch (err) {
      setError(err);
      if (err.code === 'wrong_passphrase') {
        setSecret('');
        const input = document.getElementById('sf-secret');
        if (input) input.focus();
      }
    } finally {
      setBusy(false);
    }
  }
  if (credentials && credentials.length === 0) return html`<p class="alert alert-error" data-testid="no-credentials">${t('record.no_credentials')}</p>`;
  return html`
    <form class="form sign-form" onSubmit=${submit} data-testid="sign-form">
      <h2 id="sign-heading">${t(step === 'review' ? 'record.review' : 'record.sign')}</h2>
      <p class="muted">${t(step === 'review' ? 'record.review_help' : 'record.sign_help')}</p>
      <label for="sf-cred">${t('record.credential')}</label>
      <select id="sf-cred" value=${credentialId} onChange=${(e) => setCredentialId(e.currentTarget.value)} data-testid="sign-credential">
        ${(credentials || []).map((c) => html`<option key=${c.id} value=${c.id}>${c.label} · ${t(`record.credential_kind.${c.kind}`)}</option>`)}
      </select>
      <label for="sf-secret">${t(chosen && chosen.kind === 'token' ? 'record.pin' : 'record.passphrase')}</label>
      <input id="sf-secret" type="password" required autocomplete="off" value=${secret}
        onInput=${(e) => setSecret(e.currentTarget.value)} data-testid="sign-secret" />
      <${SignatureImage} />
      <${ErrorBox} error=${error} testid="sign-error" />
      <button type="submit" class="button button-primary" disabled=${busy || !credentialId} data-testid="sign-submit">
        ${busy ? t('record.signing') : t(step === 'review' ? 'record.review' : 'record.sign')}
      </button>
    </form>`;
}

/** The signer's handwritten signature (a PNG), drawn in their signature boxes: shown, replaced, removed. */
function SignatureImage() {
  const [version, setVersion] = useState(0);
  const [shown, setShown] = useState(null); // an object URL of the stored image, or null
  const [error, setError] = useState(null);
  const present = Boolean(shown);
  useEffect(() => {
    let url = null;
    fetch(api.signatureImageUrl(), { credentials: 'same-origin', cache: 'no-store' })
      .then((r) => (r.ok ? r.blob() : null))
      .then((blob) => { url = blob ? URL.createObjectURL(blob) : null; setShown(url); })
      .catch(() => setShown(null));
    return () => { if (url) URL.revokeObjectURL(url); };
  }, [version]);
  async function choose(e) {
    const file = e.currentTarget.files && e.currentTarget.files[0];
    e.currentTarget.value = '';
    if (!file) return;
    setError(null);
    try {
      await api.setSignatureImage(file);
      setVersion(version + 1);
    } catch (err) {
      setError(err);
    }
  }
  async function remove() {
    setError(null);
    try {
      await api.clearSignatureImage();
      setVersion(version + 1);
    } catch (err) {
      setError(err);
    }
  }
  return html`
    <fieldset class="signature-image" data-testid="signature-image">
      <legend>${t('record.signature_image')}</legend>
      <p class="muted">${t('record.signature_image_help')}</p>
      ${present && html`<img src=${shown} alt=${t('record.signature_image')}
        class="signature-image-preview" data-testid="signature-image-preview" />`}
      <label class="button button-secondary file-button">
        ${t(present ? 'record.signature_image_replace' : 'record.signature_image_add')}
        <input type="file" accept="image/png" class="visually-hidden" onChange=${choose} data-testid="signature-image-file" />
      </label>
      ${present && html`<button type="button" class="button button-secondary" onClick=${remove}
        data-testid="signature-image-remove">${t('record.signature_image_remove')}</button>`}
      <${ErrorBox} error=${error} testid="signature-image-error" />
    </fieldset>`;
}
