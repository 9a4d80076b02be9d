// The public verify page: anyone drops a signed PDF and sees whether its signatures hold.
import { html, useState } from '../lib/preact.js';
import { api } from '../lib/api.js';
import { t } from '../lib/i18n.js';
import { ErrorBox, Loading, useTitle } from './components.js';
import { SignatureReport } from './signature_report.js';

export function VerifyView() {
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [name, setName] = useState('');
  const [over, setOver] = useState(false);
  useTitle(t('verify.title'));

  async function check(file) {
    if (!file) return;
    setName(file.name);
    setBusy(true);
    setError(null);
    setReport(null);
    try {
      setReport(await api.verifyPdf(file));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  const drop = (e) => {
    e.preventDefault();
    setOver(false);
    check(e.dataTransfer && e.dataTransfer.files[0]);
  };
  return html`
    <main class="page page-verify" id="main">
      <section class="card" aria-labelledby="verify-heading">
        <h1 id="verify-heading" tabindex="-1">${t('verify.title')}</h1>
        <p>${t('verify.intro')}</p>
        <label class=${`drop-zone${over ? ' drop-over' : ''}`} onDragOver=${(e) => { e.preventDefault(); setOver(true); }}
          onDragLeave=${() => setOver(false)} onDrop=${drop} data-testid="verify-drop">
          <span class="drop-icon" aria-hidden="true">⇪</span>
          <span>${t('verify.drop')}</span>
          <span class="button button-secondary drop-button" aria-hidden="true">${t('verify.choose')}</span>
          <input class="visually-hidden" type="file" accept="application/pdf,.pdf" data-testid="verify-file"
            onChange=${(e) => { const input = e.currentTarget; check(input.files[0]); input.value = ''; }} />
        </label>
        ${name && html`<p class="verify-name" data-testid="verify-name">${t('verify.file', { name })}</p>`}
        ${busy && html`<${Loading} />`}
        <${ErrorBox} error=${error} testid="verify-error" />
        ${report && html`<${SignatureReport} report=${report} />`}
      </section>
    </main>`;
}
