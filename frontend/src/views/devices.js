// Devices: my account page (#/account: the browsers I logged in from; report one lost), the
// administrator's pages (#/users, #/users/<id>: anyone's devices), the screen of a wiped device and the
// notice that offline copies expired (lib/device.js does the erasing).
import { html, useCallback, useEffect, useState } from '../lib/preact.js';
import { api } from '../lib/api.js';
import { formatDateTime, t } from '../lib/i18n.js';
import { ConfirmButton, ErrorBox, Loading, Notice, useTitle } from './components.js';

function DeviceStatus({ device }) {
  if (device.wiped_at) return html`<span class="badge badge-secret">${t('devices.wiped_at', { at: formatDateTime(device.wiped_at) })}</span>`;
  if (device.revoked_at) return html`<span class="badge badge-secret">${t('devices.revoked_at', { at: formatDateTime(device.revoked_at) })}</span>`;
  if (device.current) return html`<span class="badge badge-status">${t('devices.this_one')}</span>`;
  return null;
}

/** The devices of one account, each with "report lost" unless it is this one or already revoked. */
function DeviceTable({ load }) {
  const [devices, setDevices] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState('');
  const refresh = useCallback(() => load().then(setDevices).catch(setError), [load]);
  useEffect(() => { refresh(); }, [refresh]);

  async function revoke(device) {
    setError(null);
    try {
      await api.revokeDevice(device.id);
      setNotice(t('devices.revoked_notice', { name: device.name }));
      await refresh();
    } catch (err) {
      setError(err);
    }
  }

  if (!devices && !error) return html`<${Loading} />`;
  return html`
    <${ErrorBox} error=${error} />
    <${Notice} text=${notice} testid="devices-notice" />
    ${devices && devices.length === 0 && html`<p class="muted" data-testid="devices-empty">${t('devices.none')}</p>`}
    ${devices && devices.length > 0 && html`
      <table class="copies" data-testid="devices-table">
        <thead><tr>
          <th>${t('devices.name')}</th><th>${t('devices.first_seen')}</th><th>${t('devices.last_seen')}</th>
          <th>${t('devices.address')}</th><th>${t('devices.state')}</th><th></th>
        </tr></thead>
        <tbody>
          ${devices.map((d) => html`
            <tr key=${d.id} data-testid="device-row" data-device-id=${d.id} data-current=${d.current ? 'yes' : 'no'}
              data-revoked=${d.revoked_at ? 'yes' : 'no'}>
              <td>${d.name}</td>
              <td>${formatDateTime(d.first_seen_at)}</td>
              <td>${formatDateTime(d.last_seen_at)}</td>
              <td><code>${d.last_address}</code></td>
              <td><${DeviceStatus} device=${d} /></td>
              <td>${!d.current && !d.revoked_at && html`
                <${ConfirmButton} label=${t('devices.report_lost')} question=${t('devices.report_lost_question')}
                  testid="device-revoke" onConfirm=${() => revoke(d)} />`}</td>
            </tr>`)}
        </tbody>
      </table>`}`;
}

export function AccountView({ user }) {
  useTitle(t('devices.my_title'));
  const load = useCallback(() => api.myDevices(), []);
  return html`
    <main class="page" id="main">
      <section class="card" data-testid="account-page">
        <h1 tabindex="-1">${t('devices.my_title')}</h1>
        <p class="muted">${user.full_name} (${user.username})</p>
        <p>${t('devices.my_help')}</p>
        <${DeviceTable} load=${load} />
      </section>
    </main>`;
}

export function UsersView({ user }) {
  useTitle(t('devices.users_title'));
  const [users, setUsers] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { if (user.is_admin) api.users().then(setUsers).catch(setError); }, [user.is_admin]);
  if (!user.is_admin) return html`<main class="page" id="main"><section class="card"><h1 tabindex="-1">${t('notfound.title')}</h1></section></main>`;
  return html`
    <main class="page" id="main">
      <section class="card" data-testid="users-page">
        <h1 tabindex="-1">${t('devices.users_title')}</h1>
        <${ErrorBox} error=${error} />
        ${!users && !error && html`<${Loading} />`}
        ${users && html`<ul>${users.map((u) => html`
          <li key=${u.id}><a href=${`#/users/${u.id}`} data-testid="user-link">${u.full_name}</a> <span class="muted">${u.username}</span></li>`)}</ul>`}
      </section>
    </main>`;
}

export function UserView({ user, userId }) {
  const [person, setPerson] = useState(null);
  const [error, setError] = useState(null);
  useTitle(person ? person.full_name : t('devices.users_title'));
  useEffect(() => { api.user(userId).then(setPerson).catch(setError); }, [userId]);
  const load = useCallback(() => api.userDevices(userId), [userId]);
  if (!user.is_admin && user.id !== userId) {
    return html`<main class="page" id="main"><section class="card"><h1 tabindex="-1">${t('notfound.title')}</h1></section></main>`;
  }
  return html`
    <main class="page" id="main">
      <section class="card" data-testid="user-page">
        <p><a href="#/users">${t('devices.users_title')}</a></p>
        <h1 tabindex="-1">${person ? person.full_name : '…'}</h1>
        <${ErrorBox} error=${error} />
        ${person && html`<p class="muted">${person.username}${person.title ? ` · ${person.title}` : ''}</p>`}
        <h2>${t('devices.heading')}</h2>
        <p>${t('devices.admin_help')}</p>
        <${DeviceTable} load=${load} />
      </section>
    </main>`;
}

function LostNotes({ lost }) {
  if (!lost || lost.length === 0) return null;
  return html`
    <div class="alert alert-error" data-testid="lost-notes">
      <p>${t('devices.lost_notes', { n: lost.length })}</p>
      <ul>${lost.map((n, i) => html`<li key=${i}>${t('devices.lost_note', { document: n.document_id, page: n.page })}</li>`)}</ul>
    </div>`;
}

/** The whole screen of a device reported lost, once it erased everything. */
export function WipedView({ result }) {
  useTitle(t('devices.wiped_title'));
  return html`
    <main class="page" id="main">
      <section class="card" data-testid="device-wiped" role="alert">
        <h1 tabindex="-1">${t('devices.wiped_title')}</h1>
        <p>${t('devices.wiped_text')}</p>
        <${LostNotes} lost=${result.lost} />
        <p><button type="button" class="button" data-testid="wiped-login"
          onClick=${() => { window.location.hash = '#/login'; window.location.reload(); }}>${t('login.submit')}</button></p>
      </section>
    </main>`;
}

/** Shown above the page when offline copies were erased at start (no contact for too long). */
export function ExpiredNotice({ expired, onClose }) {
  if (!expired) return null;
  return html`
    <div class="page"><div class="alert alert-error" role="alert" data-testid="offline-expired">
      <p>${t('devices.expired_text', { hours: expired.hours })}</p>
      <${LostNotes} lost=${expired.lost} />
      <button type="button" class="button button-secondary" onClick=${onClose}>${t('common.close')}</button>
    </div></div>`;
}
