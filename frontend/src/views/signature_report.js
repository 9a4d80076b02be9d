// What a verification found, one card per signature: the verdict first (green or red), then who
// signed, when, with which certificate, the PAdES level, and in plain words why it does not hold.
// Used by the record page (GET /api/records/<id>/verification) and the public verify page.
import { html } from '../lib/preact.js';
import { formatDateTime, has, locale, t } from '../lib/i18n.js';

function Fact({ label, children }) {
  return html`<div><dt>${label}</dt><dd>${children}</dd></div>`;
}

const yesNo = (value) => t(value ? 'verify.yes' : 'verify.no');

/** The verifier's reasons are English sentences; the known ones are said in the reader's language,
 * with the verifier's words kept below them (they carry the technical detail). */
const REASONS = [
  ['digest mismatch', 'changed'],
  ['the cryptographic signature does not verify', 'bad_signature'],
  ["the signer's certificate is revoked", 'revoked'],
  ["the signer's certificate was not valid at signing time", 'expired'],
  ['the certificate chain does not reach a trusted root', 'untrusted'],
  ['changes after signing are not allowed', 'changes_not_allowed'],
  ['the signature timestamp does not verify', 'bad_timestamp'],
  ['the signature could not be processed', 'unreadable'],
];

function Reason({ text }) {
  const known = REASONS.find(([start]) => String(text).toLowerCase().startsWith(start));
  if (!known) return html`<li>${text}</li>`;
  return html`<li>${t(`verify.reason.${known[1]}`)} <span class="reason-detail">(${text})</span></li>`;
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
      ${signatures.map((s, i) => html`
        <article key=${i} class=${`signature-card ${s.bottom_line ? 'signature-ok' : 'signature-bad'}`} data-testid="signature-card"
          data-valid=${s.bottom_line ? 'true' : 'false'}>
          <h3><span class="signature-mark" aria-hidden="true">${s.bottom_line ? '✓' : '✗'}</span>
            ${s.bottom_line ? t('verify.signature_valid') : t('verify.signature_invalid')}: ${s.signer_common_name}</h3>
          ${s.reasons && s.reasons.length > 0 && html`
            <ul class="reasons" data-testid="signature-reasons">${s.reasons.map((r) => html`<${Reason} text=${r} />`)}</ul>`}
          <dl class="facts">
            <${Fact} label=${t('verify.field')}>${fieldLabel(s.field_name)}${s.certification ? ` · ${t('verify.certification')}` : ''}<//>
            <${Fact} label=${t('verify.signing_time')}>${s.signing_time ? formatDateTime(s.signing_time) : '—'}<//>
            <${Fact} label=${t('verify.timestamp')}>${s.timestamp_time ? formatDateTime(s.timestamp_time) : t('verify.none')}<//>
            <${Fact} label=${t('verify.level')}>${s.pades_level ? `PAdES ${s.pades_level}` : t('verify.not_pades')}<//>
            <${Fact} label=${t('verify.intact')}>${yesNo(s.intact)}<//>
            <${Fact} label=${t('verify.trusted')}>${yesNo(s.trusted)}<//>
            <${Fact} label=${t('verify.revocation')}>${t(`verify.revocation_${s.revocation}`)}<//>
            <${Fact} label=${t('verify.coverage')}>${t(s.coverage === 'entire_file' ? 'verify.whole_file' : 'verify.revision')}<//>
            <${Fact} label=${t('verify.issuer')}>${commonName(s.issuer)}<//>
            <${Fact} label=${t('verify.validity')}>${day(s.not_before)} – ${day(s.not_after)}<//>
          </dl>
        </article>`)}
      ${(report.document_timestamps || []).map((d, i) => html`
        <p key=${`ts${i}`} class="muted">${t('verify.doc_timestamp')}: ${d.time ? formatDateTime(d.time) : '—'} · ${commonName(d.tsa)} · ${yesNo(d.intact && d.trusted)}</p>`)}
    </div>`;
}
