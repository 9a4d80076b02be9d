// Search across every document I may read (#/search?q=...&meeting=<id>): diacritics optional,
// each hit with its page and a snippet; opening a hit opens the viewer at that page.
import { html, useEffect, useState } from '../lib/preact.js';
import { api } from '../lib/api.js';
import { formatNumber, t } from '../lib/i18n.js';
import { navigate } from '../lib/router.js';
import { ErrorBox, Loading, useTitle } from './components.js';
import { Snippet } from './viewer.js';

function queryFromHash() {
  const params = new URLSearchParams(window.location.hash.split('?')[1] || '');
  return { q: params.get('q') || '', meeting: Number(params.get('meeting')) || null };
}

export function SearchView() {
  const [{ q, meeting }, setQuery] = useState(queryFromHash);
  const [text, setText] = useState(q);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [loading, setLoading] = useState(false);
  useTitle(t('search.title'));

  useEffect(() => {
    const onHash = () => { const next = queryFromHash(); setQuery(next); setText(next.q); };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    if (!q.trim()) { setResult(null); return; }
    setLoading(true);
    api.search({ q, meetingId: meeting, limit: 50 })
      .then((out) => { setResult(out); setError(null); })
      .catch((err) => setError(err))
      .finally(() => setLoading(false));
  }, [q, meeting]);

  const submit = (e) => {
    e.preventDefault();
    navigate(`/search?q=${encodeURIComponent(text.trim())}${meeting ? `&meeting=${meeting}` : ''}`);
  };
  return html`
    <main class="page page-search" id="main">
      <p class="breadcrumb"><a href=${meeting ? `#/meetings/${meeting}` : '#/meetings'}>← ${meeting ? t('nav.back_to_meeting') : t('nav.back_to_list')}</a></p>
      <h1 tabindex="-1">${t('search.title')}</h1>
      <form class="search-box search-page" role="search" onSubmit=${submit}>
        <label class="visually-hidden" for="search-q">${t('search.label')}</label>
        <input id="search-q" type="search" value=${text} data-testid="search-page-input" placeholder=${t('search.placeholder')}
          onInput=${(e) => setText(e.target.value)} />
        <button type="submit" class="button button-primary">${t('search.go')}</button>
      </form>
      <p class="muted">${t('search.hint')}</p>
      <${ErrorBox} error=${error} testid="search-error" />
      ${loading && html`<${Loading} />`}
      ${result && html`
        <p data-testid="search-count">${t('search.count', { n: formatNumber(result.hits.length) })}</p>
        <ol class="search-hits" data-testid="search-hits">
          ${result.hits.map((h) => html`
            <li class="card search-hit" data-testid="search-hit">
              <a href=${`#/documents/${h.document_id}?page=${h.page}`} data-testid="search-hit-open">
                <strong>${h.document_title}</strong> — ${t('viewer.page_n', { n: h.page })}</a>
              <span class="muted">${h.meeting_title}</span>
              <p><${Snippet} hit=${h} /></p>
            </li>`)}
        </ol>`}
    </main>`;
}
