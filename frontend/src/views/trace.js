// Leak tracing for administrators (#/trace): drop a leaked PDF, see whose copy it was and when it was
// handed out. The same as `ecabinet trace leaked.pdf` on the server.
import { html, useState } from '../lib/preact.js';
import { api } from '../lib/api.js';
import { formatDateTime, t } from '../lib/i18n.js';
import { ErrorBox, useTitle } from './components.js';

export function TraceView() {
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useTitle(t('trace.title'));
  async function pick(e) {
    const file = e.target.files[0];
    if (!file) return;
    setBusy(true);
    setError(null);
    try { setResult(await api.trace(file)); } catch (err) { setError(err); setResult(null); } finally { setBusy(false); }
  }
  return html`
    <main class="page page-trace" id="main">
      <p class="breadcrumb"><a href="#/meetings">← ${t('nav.back_to_list')}</a></p>
      <h1 tabindex="-1">${t('trace.title')}</h1>
      <section class="card">
        <p>${t('trace.intro')}</p>
        <label class="button button-primary file-button">${busy ? t('trace.reading') : t('trace.pick')}
          <input type="file" accept="application/pdf,.pdf" class="visually-hidden" data-testid="trace-file" onChange=${pick} /></label>
        <${ErrorBox} error=${error} testid="trace-error" />
        ${result && (result.copies.length === 0
          ? html`<p class="alert alert-error" data-testid="trace-none">${t('trace.none')}</p>`
          : html`
            <table class="copies" data-testid="trace-result">
              <thead><tr><th>${t('documents.copy_who')}</th><th>${t('documents.copy_kind')}</th><th>${t('trace.document')}</th><th>${t('documents.copy_when')}</th><th>${t('trace.token')}</th></tr></thead>
              <tbody>${result.copies.map((c) => html`
                <tr><td data-testid="trace-who">${c.user_name} (${c.username})</td><td>${t(`documents.kind_${c.kind}`)}</td>
                  <td>${c.document_id ? html`<a href=${`#/documents/${c.document_id}`}>#${c.document_id}</a>` : t('documents.book')}${c.version ? ` · v${c.version}` : ''}</td>
                  <td>${formatDateTime(c.created_at)}</td><td><code>${c.token}</code></td></tr>`)}</tbody>
            </table>`)}
      </section>
    </main>`;
}
