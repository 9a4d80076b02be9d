// What a verification found, one card per signature: the verdict first (green or red), then who
// signed, when, with which certificate, the PAdES level, and in plain words why it does not hold.
import { html } from '../lib/preact.js';
import { formatDateTime, t } from '../lib/i18n.js';

function Fact({ label, children }) {
  return html`<div><dt>${label}</dt><dd>${children}</dd></div>`;
}

const yesNo = (value) => t(value ? 'verify.yes' : 'verify.no');

export function SignatureReport({ report }) {
  const signatures = report.signatures || [];
  return html`
    <div class="signature-report" data-testid="signature-report" data-valid=${report.valid ? 'true' : 'false'}>
      <p class=${`alert ${report.valid ? 'alert-ok' : 'alert-error'}`} data-testid="report-verdict">
        ${signatures.length === 0 ? t('verify.unsigned') : t(report.valid ? 'verify.all_valid' : 'verify.not_valid')}
      </p>
      ${signatures.map((s, i) => html`
        <article key=${i} class=${`signature-card ${s.bottom_line ? 'signature-ok' : 'signature-bad'}`} data-testid="signature-card"
          data-valid=${s.bottom_line ? 'true' : 'false'}>
          <h3>${s.bottom_line ? t('verify.signature_valid') : t('verify.signature_invalid')}: ${s.signer_common_name}</h3>
          <dl class="facts">
            <${Fact} label=${t('verify.field')}>${s.field_name}<//>
            <${Fact} label=${t('verify.signing_time')}>${s.signing_time ? formatDateTime(s.signing_time) : '—'}<//>
            <${Fact} label=${t('verify.timestamp')}>${s.timestamp_time ? formatDateTime(s.timestamp_time) : t('verify.none')}<//>
            <${Fact} label=${t('verify.level')}>${s.pades_level || t('verify.not_pades')}<//>
            <${Fact} label=${t('verify.intact')}>${yesNo(s.intact)}<//>
            <${Fact} label=${t('verify.trusted')}>${yesNo(s.trusted)}<//>
            <${Fact} label=${t('verify.revocation')}>${t(`verify.revocation_${s.revocation}`)}<//>
            <${Fact} label=${t('verify.coverage')}>${t(s.coverage === 'entire_file' ? 'verify.whole_file' : 'verify.revision')}${s.certification ? ` · ${t('verify.certification')}` : ''}<//>
            <${Fact} label=${t('verify.issuer')}>${s.issuer}<//>
          </dl>
          ${s.reasons && s.reasons.length > 0 && html`
            <ul class="reasons" data-testid="signature-reasons">${s.reasons.map((r) => html`<li>${r}</li>`)}</ul>`}
        </article>`)}
      ${(report.document_timestamps || []).map((d, i) => html`
        <p key=${`ts${i}`} class="muted">${t('verify.doc_timestamp')}: ${d.time ? formatDateTime(d.time) : '—'} · ${d.tsa} · ${yesNo(d.intact && d.trusted)}</p>`)}
    </div>`;
}
