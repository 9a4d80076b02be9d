// Small pieces shared by the screens: error boxes, badges, the page title, a two-step confirm button.
import { html, useEffect, useRef, useState } from '../lib/preact.js';
import { has, t } from '../lib/i18n.js';

/** Sets the browser tab's title to "<page> · e-Cabinet". */
export function useTitle(text) {
  useEffect(() => {
    document.title = text ? `${text} · ${t('app.name')}` : t('app.name');
  }, [text]);
}

/** A translated sentence for an ApiError: the catalogue's text for its code, else the server's message. */
export function errorText(error) {
  if (!error) return '';
  const code = error.code || 'generic';
  if (code === 'login_throttled') {
    const minutes = Math.max(1, Math.ceil((error.retryAfter || 60) / 60));
    return t('error.login_throttled', { minutes });
  }
  if (has(`error.${code}`)) return t(`error.${code}`);
  return error.message || t('error.generic');
}

function fieldName(field) {
  const name = String(field || '').split('.').pop();
  return has(`field.${name}`) ? t(`field.${name}`) : name;
}

export function ErrorBox({ error, testid = 'error' }) {
  const box = useRef(null);
  // A refusal may come back while the person looks at the bottom of a long form: bring it into view.
  useEffect(() => {
    if (error && box.current && box.current.scrollIntoView) box.current.scrollIntoView({ block: 'nearest' });
  }, [error]);
  if (!error) return null;
  const details = Array.isArray(error.details) ? error.details : [];
  return html`
    <div class="alert alert-error" role="alert" data-testid=${testid} ref=${box}>
      <p>${errorText(error)}</p>
      ${details.length > 0 && html`
        <ul class="alert-details">
          ${details.map((d) => html`<li>${fieldName(d.field)}: ${d.problem}</li>`)}
        </ul>`}
    </div>`;
}

export function Notice({ text, testid = 'notice' }) {
  if (!text) return null;
  return html`<div class="alert alert-ok" role="status" data-testid=${testid}>${text}</div>`;
}

export function Loading() {
  return html`<p class="loading" role="status"><span class="spinner" aria-hidden="true"></span>${t('app.loading')}</p>`;
}

export function StatusBadge({ status }) {
  return html`<span class=${`badge badge-status badge-${status}`} data-testid="status-badge">${t(`status.${status}`)}</span>`;
}

export function RoleBadge({ role }) {
  if (!role) return null;
  return html`<span class=${`badge badge-role badge-role-${role}`}>${t(`role.${role}`)}</span>`;
}

export function ConfidentialityBadge({ level }) {
  if (!level || level === 'normal') return null;
  return html`<span class=${`badge badge-secret badge-${level}`}>${t(`confidentiality.${level}`)}</span>`;
}

/** A button that asks once more, in place, before doing something that cannot be undone. */
export function ConfirmButton({ label, question, onConfirm, disabled, testid, variant = 'danger' }) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return html`<button type="button" class=${`button button-${variant}`} disabled=${disabled}
      data-testid=${testid} onClick=${() => setAsking(true)}>${label}</button>`;
  }
  return html`
    <span class="confirm" role="group" aria-label=${question}>
      <span class="confirm-question">${question}</span>
      <button type="button" class=${`button button-${variant}`} disabled=${disabled} data-testid=${`${testid}-confirm`}
        onClick=${() => { setAsking(false); onConfirm(); }}>${t('common.confirm')}</button>
      <button type="button" class="button button-secondary" onClick=${() => setAsking(false)}>${t('common.cancel')}</button>
    </span>`;
}

/** "2026-11-26T08:00" in the device's time zone, for <input type="datetime-local">. */
export function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The ISO time (UTC, with its "Z" offset) of a datetime-local value read in the device's time zone. */
export function fromLocalInput(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
