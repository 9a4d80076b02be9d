// What a verification found, one card per signature: the verdict first (green or red), then who
// signed, when, with which certificate, the PAdES level, and in plain words why it does not hold.
// Used by the record page (GET /api/records/<id>/verification) and the public verify page.
import { html } from '../lib/preact.js';
import { formatDateTime, has, locale, t } from '../lib/i18n.js';

function Fact({ label, children }) {
  return html`<div><dt>${label}</dt><dd>${children}</dd></div>`;
}

const yesNo = (value) => t(value ? 'verify.yes' : 'verify.no');

/** Trust is not judged when the signed bytes changed (null): neither yes nor no. */
const trustWord = (value) => (value === null || value === undefined ? t('verify.trust_not_judged') : yesNo(value));

/** What the signature covers, said so that a certification followed by allowed signatures reads well. */
function coverageWord(s) {
  if (s.coverage === 'entire_file') return t('verify.whole_file');
  return t(s.changes_allowed ? 'verify.revision_allowed' : 'verify.revision_changed');
}

/** The verifier names each reason by a stable code (reason_codes, beside the English sentences): the
 * reader sees it said in their language; the verifier's technical sentence is kept folded away. */
function Reason({ code, text }) {
  const key = `verify.reason.${code}`;
  if (!code || !has(key)) return html`<li>${text}</li>`;
  return html`<li>${t(key)}
    <details class="reason-detail"><summary>${t('verify.technical_detail')}</summary><span lang="en">${text}</span></details></li>`;
}

/** "Common Name: X, Organization: Y, Country: VN" → "X". */
function commonName(dn) {
  const hit = /(?:^|,\s*)Common Name:\s*([^,]+)/.exec(dn || '');
  return hit ? hit[1].trim() : (dn || '—');
}

/** The place the signature fills: the app's own fields by their role, any other by its name. */
function fieldLabel(name) {
  return has(`record.field.${name}`) ? t(`record.field.${name}`) : (name || '—');
}

function day(iso) {
  const date = iso ? new Date(iso) : null;
  if (!date || Number.isNaN(date.getTime())) return '—';
  return new Intl.DateTimeFormat(locale(), { day: '2-digit', month: '2-digit', year: 'numeric' }).format(date);
}

export function SignatureReport({ report }) {
  const signatures = report.signatures || [];
  return html`
    <div class="signature-report" data-testid="signature-report" data-valid=${report.valid ? 'true' : 'false'}>
      <p class=${`alert ${report.valid ? 'alert-ok' : 'alert-error'}`} data-testid="report-verdict">
        ${signatures.length === 0 ? t('verify.unsigned') : t(report.valid ? 'verify.all_valid' : 'verify.not_valid')}
        ${report.page_count ? ` ${t('verify.pages', { count: report.page_count })}` : ''}
      </p>
      ${report.document_title && html`<p data-testid="report-document">${t('verify.document', { title: report.document_title })}</p>`}
      ${signatures.map((s, i) => html`
        <article key=${i} class=${`signature-card ${s.valid ? 'signature-ok' : 'signature-bad'}`} data-testid="signature-card"
          data-valid=${s.valid ? 'true' : 'false'}>
          <h3><span class="signature-mark" aria-hidden="true">${s.valid ? '✓' : '✗'}</span>
            ${s.valid ? t('verify.signature_valid') : t('verify.signature_invalid')}: ${s.signer_common_name}</h3>
          ${s.reasons && s.reasons.length > 0 && html`
            <ul class="reasons" data-testid="signature-reasons">${s.reasons.map((r, j) => html`<${Reason} code=${(s.reason_codes || [])[j]} text=${r} />`)}</ul>`}
          <dl class="facts">
            <${Fact} label=${t('verify.field')}>${fieldLabel(s.field_name)}${s.certification ? ` · ${t('verify.certification')}` : ''}<//>
            <${Fact} label=${t('verify.signing_time')}>${s.signing_time ? formatDateTime(s.signing_time) : '—'}<//>
            <${Fact} label=${t('verify.timestamp')}>${s.timestamp_time ? formatDateTime(s.timestamp_time) : t('verify.none')}<//>
            <${Fact} label=${t('verify.level')}>${s.pades_level ? `PAdES ${s.pades_level}` : t('verify.not_pades')}<//>
            <${Fact} label=${t('verify.intact')}>${yesNo(s.intact)}<//>
            <${Fact} label=${t('verify.trusted')}>${trustWord(s.trusted)}<//>
            <${Fact} label=${t('verify.revocation')}>${t(`verify.revocation_${s.revocation}`)}<//>
            <${Fact} label=${t('verify.coverage')}>${coverageWord(s)}<//>
            <${Fact} label=${t('verify.issuer')}>${commonName(s.issuer)}<//>
            <${Fact} label=${t('verify.validity')}>${day(s.not_before)} – ${day(s.not_after)}<//>
          </dl>
        </article>`)}
      ${(report.document_timestamps || []).map((d, i) => html`
        <p key=${`ts${i}`} class="muted">${t('verify.doc_timestamp')}: ${d.time ? formatDateTime(d.time) : '—'} · ${commonName(d.tsa)} · ${yesNo(d.intact && d.trusted)}</p>`)}
    </div>`;
}
