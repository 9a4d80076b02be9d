// The meeting page's documents: by agenda item, each opened in the viewer; for the secretariat the
// upload (a new document or a new version), who may read it, "Mật", and who received which copy;
// for everyone the meeting book and search. Opening a published meeting asks the service worker
// to keep its documents for reading offline.
import { html, useEffect, useState } from '../lib/preact.js';
import { api } from '../lib/api.js';
import { formatDateTime, formatNumber, t } from '../lib/i18n.js';
import { navigate } from '../lib/router.js';
import { liveSocket } from '../lib/socket.js';
import { keepOffline } from '../lib/offline.js';
import { ConfirmButton, ErrorBox, Notice } from './components.js';

export function DocumentsSection({ meeting: m, allowed }) {
  const [docs, setDocs] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);
  const manage = allowed.has('manage_documents');

  async function reload() {
    try {
      const list = await api.documents(m.id);
      setDocs(list);
      keepOffline(m, list);
    } catch (err) {
      setError(err);
    }
  }
  useEffect(() => { reload(); }, [m.id, m.status]);
  useEffect(() => {
    const socket = liveSocket();
    const onChange = (p) => { if (p.meeting_id === m.id) reload(); };
    socket.on('documents.changed', onChange);
    return () => socket.off('documents.changed', onChange);
  }, [m.id]);

  async function run(work, doneText) {
    setBusy(true);
    setError(null);
    setNotice('');
    try {
      await work();
      if (doneText) setNotice(doneText);
      await reload();
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(false);
    }
  }

  const items = [...(m.agenda || [])].sort((a, b) => a.position - b.position);
  const groups = items.map((item) => ({ item, docs: (docs || []).filter((d) => d.agenda_item_id === item.id) }));
  const loose = (docs || []).filter((d) => !items.some((i) => i.id === d.agenda_item_id));
  if (loose.length) groups.push({ item: null, docs: loose });

  return html`
    <section class="card section-documents" aria-labelledby="documents-heading" data-testid="documents-section">
      <div class="section-head">
        <h2 id="documents-heading">${t('documents.heading')}</h2>
        <div class="toolbar">
          ${docs && docs.length > 0 && html`
            <a class="button button-secondary" href=${api.meetingBookUrl(m.id)} data-testid="meeting-book">${t('documents.book')}</a>`}
          <${SearchBox} meetingId=${m.id} />
        </div>
      </div>
      <div class="messages" aria-live="polite">
        <${ErrorBox} error=${error} testid="documents-error" />
        <${Notice} text=${notice} testid="documents-notice" />
      </div>
      ${docs === null ? html`<p class="muted">${t('app.loading')}</p>`
        : docs.length === 0 ? html`<p class="empty" data-testid="documents-empty">${t('documents.empty')}</p>`
        : groups.filter((g) => g.docs.length).map(({ item, docs: list }) => html`
          <div class="doc-group" key=${item ? item.id : 'loose'}>
            <h3>${item ? t('documents.item', { n: item.position, title: item.title }) : t('documents.general')}</h3>
            <ul class="doc-list">
              ${list.map((d) => html`<${DocumentRow} doc=${d} meeting=${m} manage=${manage} busy=${busy} run=${run} key=${d.id} />`)}
            </ul>
          </div>`)}
      ${manage && html`<${UploadForm} meeting=${m} items=${items} busy=${busy} run=${run} />`}
    </section>`;
}

function DocumentRow({ doc: d, meeting: m, manage, busy, run }) {
  const [editing, setEditing] = useState(false);
  const [copies, setCopies] = useState(null);
  // A new version replaces what everyone reads: name the file and the version it replaces, then ask.
  const [pending, setPending] = useState(null);
  const newVersion = (e) => {
    const file = e.target.files[0];
    e.target.value = '';
    if (file) setPending(file);
  };
  const uploadPending = () => {
    const file = pending;
    setPending(null);
    run(() => api.uploadVersion(d.id, file), t('documents.version_uploaded', { n: d.current_version + 1 }));
  };
  return html`
    <li class="doc-row" data-testid="document-row" data-document-id=${d.id}>
      <div class="doc-main">
        <a class="doc-title" href=${`#/documents/${d.id}`} data-testid="document-open">${d.title}</a>
        <span class="doc-meta">
          <span>${t('documents.version', { n: d.current_version })}</span>
          <span>${t('documents.pages', { n: formatNumber(d.page_count) })}</span>
          ${d.secret && html`<span class="badge badge-secret" data-testid="document-secret">${t('documents.secret_badge')}</span>`}
          ${d.audience === 'named' && html`<span class="badge">${t('documents.named_badge')}</span>`}
        </span>
      </div>
      <div class="doc-tools">
        ${d.may_download && html`
          <a class="button button-small" href=${api.documentDownloadUrl(d.id)} data-testid="document-download">${t('documents.download')}</a>`}
        ${manage && html`
          <label class="button button-small file-button">
            ${t('documents.new_version')}
            <input type="file" accept="application/pdf,.pdf" class="visually-hidden" data-testid="document-new-version"
              disabled=${busy} onChange=${newVersion} />
          </label>
          <button type="button" class="button button-small" data-testid="document-edit" onClick=${() => setEditing(!editing)}>
            ${t('documents.access')}</button>
          <button type="button" class="button button-small" data-testid="document-copies"
            onClick=${async () => setCopies(copies ? null : await api.documentCopies(d.id))}>${t('documents.recipients')}</button>
          <${ConfirmButton} label=${t('common.delete')} question=${t('documents.confirm_remove')} disabled=${busy}
            testid="document-remove" onConfirm=${() => run(() => api.removeDocument(d.id), t('documents.removed'))} />`}
      </div>
      ${pending && html`
        <div class="confirm" role="group" data-testid="new-version-confirm">
          <span class="confirm-question" data-testid="new-version-question">${t('documents.confirm_version', {
            file: pending.name, size: fileSize(pending), next: d.current_version + 1, current: d.current_version, title: d.title,
          })}</span>
          <button type="button" class="button button-primary" disabled=${busy} data-testid="document-new-version-confirm"
            onClick=${uploadPending}>${t('common.confirm')}</button>
          <button type="button" class="button button-secondary" data-testid="document-new-version-cancel"
            onClick=${() => setPending(null)}>${t('common.cancel')}</button>
        </div>`}
      ${editing && html`<${AccessForm} doc=${d} meeting=${m} busy=${busy} run=${run} done=${() => setEditing(false)} />`}
      ${copies && html`
        <table class="copies" data-testid="copies-table">
          <thead><tr><th>${t('documents.copy_who')}</th><th>${t('documents.copy_kind')}</th><th>${t('documents.copy_version')}</th><th>${t('documents.copy_when')}</th></tr></thead>
          <tbody>
            ${copies.length === 0 && html`<tr><td colspan="4" class="muted">${t('documents.no_copies')}</td></tr>`}
            ${copies.map((c) => html`<tr><td>${c.user_name}</td><td>${t(`documents.kind_${c.kind}`)}</td>
              <td>${c.version || '—'}</td><td>${formatDateTime(c.created_at)}</td></tr>`)}
          </tbody>
        </table>`}
    </li>`;
}

function ReaderPicker({ meeting: m, readers, setReaders }) {
  const people = (m.participants || []).filter((p) => !['chair', 'secretary'].includes(p.role));
  const toggle = (id) => setReaders(readers.includes(id) ? readers.filter((r) => r !== id) : [...readers, id]);
  return html`
    <fieldset class="readers" data-testid="readers">
      <legend>${t('documents.readers')}</legend>
      ${people.map((p) => html`
        <label class="check"><input type="checkbox" checked=${readers.includes(p.user_id)} data-testid="reader"
          data-user-id=${p.user_id} onChange=${() => toggle(p.user_id)} /> ${p.full_name}</label>`)}
    </fieldset>`;
}

function AccessForm({ doc: d, meeting: m, busy, run, done }) {
  const [title, setTitle] = useState(d.title);
  const [audience, setAudience] = useState(d.audience);
  const [secret, setSecret] = useState(d.secret);
  const [readers, setReaders] = useState(d.readers || []);
  async function submit(e) {
    e.preventDefault();
    const ok = await run(() => api.updateDocument(d.id, { title, audience, secret, readers }), t('documents.saved'));
    if (ok) done();
  }
  return html`
    <form class="form access-form" onSubmit=${submit} data-testid="access-form">
      <label>${t('documents.title')}<input value=${title} maxlength="500" required onInput=${(e) => setTitle(e.target.value)} /></label>
      <${AudienceFields} ...${{ audience, setAudience, secret, setSecret, readers, setReaders, meeting: m }} />
      <div class="toolbar">
        <button type="submit" class="button button-primary" disabled=${busy} data-testid="access-save">${t('documents.save')}</button>
        <button type="button" class="button button-secondary" onClick=${done}>${t('common.cancel')}</button>
      </div>
    </form>`;
}

function AudienceFields({ audience, setAudience, secret, setSecret, readers, setReaders, meeting }) {
  return html`
    <label>${t('documents.audience')}
      <select value=${audience} data-testid="audience" onChange=${(e) => setAudience(e.target.value)}>
        <option value="participants">${t('documents.audience_participants')}</option>
        <option value="named">${t('documents.audience_named')}</option>
      </select>
    </label>
    ${audience === 'named' && html`<${ReaderPicker} meeting=${meeting} readers=${readers} setReaders=${setReaders} />`}
    <label class="check"><input type="checkbox" checked=${secret} data-testid="secret" onChange=${(e) => setSecret(e.target.checked)} />
      ${t('documents.secret')}</label>`;
}

/** "120 KB": the size of a chosen file, for the person to recognise it. */
function fileSize(file) {
  return t('documents.size_kb', { n: formatNumber(Math.max(1, Math.ceil(file.size / 1024))) });
}

function UploadForm({ meeting: m, items, busy, run }) {
  const [file, setFile] = useState(null);
  const [title, setTitle] = useState('');
  const [itemId, setItemId] = useState(items.length ? String(items[0].id) : '');
  const [audience, setAudience] = useState('participants');
  const [secret, setSecret] = useState(false);
  const [readers, setReaders] = useState([]);
  const [formKey, setFormKey] = useState(0);
  async function submit(e) {
    e.preventDefault();
    if (!file) return;
    const ok = await run(() => api.uploadDocument(m.id, file, {
      title: title.trim(), agenda_item_id: itemId, audience, secret, readers: audience === 'named' ? readers : [],
    }), t('documents.uploaded', { title: title.trim() || file.name }));
    if (ok) {
      setFile(null); setTitle(''); setSecret(false); setReaders([]); setFormKey(formKey + 1);
    }
  }
  return html`
    <form class="form upload-form" onSubmit=${submit} key=${formKey} data-testid="upload-form">
      <h3>${t('documents.upload')}</h3>
      <span class="field-label">${t('documents.file')}</span>
      <span class="file-pick">
        <label class="button button-secondary file-button">
          ${t('documents.choose_file')}
          <input type="file" accept="application/pdf,.pdf" required class="visually-hidden" data-testid="upload-file"
            onChange=${(e) => setFile(e.target.files[0] || null)} />
        </label>
        <span class=${file ? 'file-name' : 'file-name muted'} data-testid="upload-file-name">
          ${file ? `${file.name} (${fileSize(file)})` : t('documents.no_file')}</span>
      </span>
      <label>${t('documents.title')}
        <input value=${title} maxlength="500" placeholder=${t('documents.title_hint')} data-testid="upload-title"
          onInput=${(e) => setTitle(e.target.value)} /></label>
      <label>${t('documents.agenda_item')}
        <select value=${itemId} data-testid="upload-item" onChange=${(e) => setItemId(e.target.value)}>
          <option value="">${t('documents.general')}</option>
          ${items.map((i) => html`<option value=${String(i.id)}>${i.position}. ${i.title}</option>`)}
        </select></label>
      <${AudienceFields} ...${{ audience, setAudience, secret, setSecret, readers, setReaders, meeting: m }} />
      <button type="submit" class="button button-primary" disabled=${busy || !file} data-testid="upload-submit">
        ${busy ? t('documents.uploading') : t('documents.upload_submit')}</button>
    </form>`;
}

function SearchBox({ meetingId }) {
  const [q, setQ] = useState('');
  return html`
    <form class="search-box" role="search" onSubmit=${(e) => {
      e.preventDefault();
      if (q.trim()) navigate(`/search?q=${encodeURIComponent(q.trim())}${meetingId ? `&meeting=${meetingId}` : ''}`);
    }}>
      <label class="visually-hidden" for="doc-search">${t('search.label')}</label>
      <input id="doc-search" type="search" placeholder=${t('search.placeholder')} value=${q} data-testid="search-input"
        onInput=${(e) => setQ(e.target.value)} />
      <button type="submit" class="button button-secondary" data-testid="search-submit">${t('search.go')}</button>
    </form>`;
}
