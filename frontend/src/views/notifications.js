// The header's bell: my unread count, live, and a panel with my newest notifications. Each links into
// the app; following one marks it read. The server sends a kind and its params: the words are here.
import { html, useEffect, useRef, useState } from '../lib/preact.js';
import { formatDateTime, formatNumber, t } from '../lib/i18n.js';
import {
  load, markAllRead, markRead, useNotifications,
} from '../lib/notifications.js';
import { ErrorBox, Loading } from './components.js';

/** The params as the text shows them: times in the device's zone and language. */
function wording(n) {
  const params = { ...n.params };
  ['deadline', 'starts_at'].forEach((key) => { if (params[key]) params[key] = formatDateTime(params[key]); });
  return { title: t(`notify.${n.kind}.title`, params), text: t(`notify.${n.kind}.text`, params) };
}

function Item({ n, onOpen }) {
  const { title, text } = wording(n);
  return html`
    <li class=${n.read_at ? 'notify-item' : 'notify-item unread'} data-testid="notify-item"
      data-kind=${n.kind} data-read=${n.read_at ? 'true' : 'false'}>
      <a href=${n.link} data-testid="notify-link" onClick=${() => onOpen(n)}>
        <strong class="notify-title">${title}</strong>
        <span class="notify-text">${text}</span>
        <span class="notify-time muted">${formatDateTime(n.created_at)}</span>
      </a>
    </li>`;
}

export function NotificationBell() {
  const { unread, items, error } = useNotifications();
  const [open, setOpen] = useState(false);
  const [failed, setFailed] = useState(null);
  const root = useRef(null);

  useEffect(() => {
    if (!open) return undefined;
    load();
    const away = (e) => { if (root.current && !root.current.contains(e.target)) setOpen(false); };
    const escape = (e) => { if (e.key === 'Escape') setOpen(false); };
    document.addEventListener('click', away);
    document.addEventListener('keydown', escape);
    return () => {
      document.removeEventListener('click', away);
      document.removeEventListener('keydown', escape);
    };
  }, [open]);

  const onOpen = (n) => {
    setOpen(false);
    if (!n.read_at) markRead(n.id).catch(setFailed);
  };
  const label = unread ? t('notify.bell_unread', { count: formatNumber(unread) }) : t('notify.bell');
  return html`
    <div class="notify" ref=${root}>
      <button type="button" class="button button-header notify-bell" aria-haspopup="true" aria-expanded=${open ? 'true' : 'false'}
        aria-label=${label} title=${label} data-testid="notify-bell" onClick=${() => setOpen(!open)}>
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
          <path fill="currentColor" d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1Z" />
        </svg>
        ${unread > 0 && html`<span class="notify-count" data-testid="notify-count">${unread > 99 ? '99+' : unread}</span>`}
      </button>
      ${open && html`
        <section class="notify-panel" role="dialog" aria-label=${t('notify.heading')} data-testid="notify-panel">
          <div class="notify-head">
            <h2>${t('notify.heading')}</h2>
            <button type="button" class="button button-secondary" data-testid="notify-read-all" disabled=${!unread}
              onClick=${() => markAllRead().catch(setFailed)}>${t('notify.read_all')}</button>
          </div>
          <${ErrorBox} error=${failed || error} testid="notify-error" />
          ${items === null && !error && html`<${Loading} />`}
          ${items && items.length === 0 && html`<p class="empty" data-testid="notify-empty">${t('notify.empty')}</p>`}
          ${items && items.length > 0 && html`
            <ul class="notify-list">${items.map((n) => html`<${Item} key=${n.id} n=${n} onOpen=${onOpen} />`)}</ul>`}
        </section>`}
    </div>`;
}
