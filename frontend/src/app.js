// The tablet app: session, language, header and the hash router. Each screen is in src/views/.
import { html, render, useCallback, useEffect, useRef, useState } from './lib/preact.js';
import { api, onUnauthorized } from './lib/api.js';
import {
  language, languages, loadCatalogues, onLanguageChange, setLanguage, storedLanguage, t,
} from './lib/i18n.js';
import { navigate, parseRoute } from './lib/router.js';
import { disconnectSocket } from './lib/socket.js';
import { forgetBallots, loadBallots } from './lib/live_store.js';
import {
  deviceWiped, expireIfStale, forgetUser, loadStoreKey, onWiped, setOfflineHours, unsentNotes,
} from './lib/device.js';
import { Loading, useTitle } from './views/components.js';
import { LoginView } from './views/login.js';
import { MeetingsView } from './views/meetings.js';
import { MeetingView } from './views/meeting.js';
import { MeetingFormView } from './views/meeting_form.js';
import { LiveView } from './views/live.js';
import { ConsoleView } from './views/console.js';
import { WallView } from './views/wall.js';
import { RecordView } from './views/record.js';
import { RoundView } from './views/round.js';
import { VerifyView } from './views/verify.js';
import { DocumentView } from './views/viewer.js';
import { SearchView } from './views/search.js';
import { TraceView } from './views/trace.js';
import { TasksView } from './views/tasks.js';
import { BridgeView } from './views/bridge.js';
import { ControlRoomView } from './views/control_room.js';
import { InboxDocumentView, InboxListView } from './views/exchange_inbox.js';
import { NotificationBell } from './views/notifications.js';
import {
  AccountView, ExpiredNotice, UserView, UsersView, WipedView,
} from './views/devices.js';
import { SessionOverlay } from './views/session_overlay.js';
import { startNotifications } from './lib/notifications.js';

const NEXT_KEY = 'ecabinet.next';

function rememberTarget(hash) {
  const route = parseRoute(hash);
  if (['login', 'home', 'not-found', 'verify'].includes(route.name) || deviceWiped()) return;
  try { window.sessionStorage.setItem(NEXT_KEY, hash); } catch { /* not kept */ }
}

function takeTarget() {
  try {
    const hash = window.sessionStorage.getItem(NEXT_KEY);
    window.sessionStorage.removeItem(NEXT_KEY);
    return hash && hash.startsWith('#/') ? hash.slice(1) : null;
  } catch {
    return null;
  }
}

/** The account's language applies unless someone chose one on this device with the switch. */
function applyUserLanguage(user) {
  if (!storedLanguage() && user && user.language) setLanguage(user.language, { remember: false });
}

function Emblem() {
  return html`
    <svg class="emblem" viewBox="0 0 40 40" aria-hidden="true" focusable="false">
      <circle cx="20" cy="20" r="19" class="emblem-disc" />
      <polygon class="emblem-star"
        points="20,7 23.1,16.2 32.8,16.2 25,21.9 27.9,31.1 20,25.5 12.1,31.1 15,21.9 7.2,16.2 16.9,16.2" />
    </svg>`;
}

function LanguageSwitch() {
  const current = language();
  return html`
    <div class="lang-switch" role="group" aria-label=${t('header.language')}>
      ${languages().map((lang) => html`
        <button type="button" class=${lang === current ? 'lang-button active' : 'lang-button'}
          aria-pressed=${lang === current ? 'true' : 'false'} lang=${lang} title=${t(`lang.${lang}.name`)}
          data-testid=${`lang-${lang}`} onClick=${() => setLanguage(lang)}>${t(`lang.${lang}.short`)}</button>`)}
    </div>`;
}

function Header({ user, onLogout, routeName }) {
  return html`
    <header class="topbar">
      <a class="brand" href=${user ? '#/meetings' : '#/login'} data-testid="brand">
        <${Emblem} />
        <span class="brand-text">
          <span class="brand-name">${t('app.name')}</span>
          <span class="brand-sub">${t('app.subtitle')}</span>
        </span>
      </a>
      <div class="topbar-tools">
        ${user && html`
          <span class="user-name" data-testid="current-user">
            <span class="user-full-name">${user.full_name}</span>
            ${user.title && html`<span class="user-title">${user.title}</span>`}
          </span>`}
        ${user && html`<${NotificationBell} />`}
        ${user && html`<a class="button button-header" href="#/account" data-testid="nav-account">${t('header.account')}</a>`}
        ${user && user.is_admin && html`<a class="button button-header" href="#/users" data-testid="nav-users">${t('header.users')}</a>`}
        ${user && (user.is_admin || user.is_secretariat) && html`<a class="button button-header" href="#/tasks" data-testid="nav-tasks">${t('tasks.nav')}</a>`}
        ${user && (user.is_admin || user.is_secretariat) && html`<a class="button button-header" href="#/exchange/inbox" data-testid="nav-inbox">${t('exchange.nav')}</a>`}
        <a class="button button-header" href="#/verify" data-testid="nav-verify">${t('verify.nav')}</a>
        <${LanguageSwitch} />
        ${!user && routeName === 'verify' && html`
          <a class="button button-header" href="#/login" data-testid="nav-login">${t('login.submit')}</a>`}
        ${user && html`
          <button type="button" class="button button-header" data-testid="logout" onClick=${onLogout}>
            ${t('header.logout')}
          </button>`}
      </div>
    </header>`;
}

function NotFound() {
  useTitle(t('notfound.title'));
  return html`
    <main class="page" id="main">
      <section class="card">
        <h1 tabindex="-1">${t('notfound.title')}</h1>
        <p><a href="#/meetings">${t('nav.back_to_list')}</a></p>
      </section>
    </main>`;
}

/** After the server said who is logged in: this device's key for what it keeps, and those kept receipts. */
async function enterDevice(user) {
  try {
    await loadStoreKey();
    await loadBallots(user.id);
  } catch { /* offline (the app answered from the service worker): receipts come back with the network */ }
}

function App({ expiredAtStart }) {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  const [session, setSession] = useState({ status: 'loading', user: null });
  const [wiped, setWiped] = useState(null);
  const [expired, setExpired] = useState(expiredAtStart);

  useEffect(() => onWiped((result) => {
    disconnectSocket();
    setWiped(result);
  }), []);
  const [, setLang] = useState(language());
  const firstRoute = useRef(true);

  useEffect(() => onLanguageChange(setLang), []);

  // The bell's count is live while someone is logged in (their own room, on the one connection).
  const userId = session.status === 'user' && session.user ? session.user.id : null;
  useEffect(() => (userId ? startNotifications() : undefined), [userId]);

  useEffect(() => {
    const onHash = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    onUnauthorized(() => {
      rememberTarget(window.location.hash);
      setSession((s) => ({ status: 'anonymous', user: null, expired: s.status === 'user' }));
    });
    api.me()
      .then(async ({ user, offline_hours: hours }) => {
        applyUserLanguage(user);
        setOfflineHours(hours);
        await enterDevice(user);
        setSession({ status: 'user', user });
      })
      .catch(() => setSession({ status: 'anonymous', user: null }));
  }, []);

  // Send people where they may be: to the login page when logged out, away from it when logged in.
  useEffect(() => {
    // The verify page is public: anyone may check a signed PDF without an account. The address is read
    // as it is now, not as it was rendered: one opened in the instant after logging in is kept.
    const now = parseRoute(window.location.hash).name;
    if (session.status === 'anonymous' && now !== 'login' && now !== 'verify') {
      rememberTarget(window.location.hash);
      navigate('/login', { replace: true });
    } else if (session.status === 'user' && (now === 'login' || now === 'home')) {
      navigate(takeTarget() || '/meetings', { replace: true });
    }
  }, [session.status, route.name]);

  // After moving to another screen, put the keyboard and screen-reader focus on its heading.
  useEffect(() => {
    if (firstRoute.current) {
      firstRoute.current = false;
      return;
    }
    const heading = document.querySelector('main h1');
    if (heading) heading.focus({ preventScroll: false });
    window.scrollTo(0, 0);
  }, [route.name, route.id]);

  const onLoggedIn = useCallback(async (user) => {
    disconnectSocket(); // a live connection belongs to whoever was logged in when it connected
    const next = (() => { try { return window.sessionStorage.getItem(NEXT_KEY); } catch { return null; } })();
    // What another user left (their session expired without a logout) goes; this user's own unsent
    // notes and receipts stay.
    await forgetUser(user.id);
    forgetBallots(user.id);
    if (next) try { window.sessionStorage.setItem(NEXT_KEY, next); } catch { /* not kept */ }
    applyUserLanguage(user);
    await enterDevice(user);
    setSession({ status: 'user', user });
  }, []);

  const onLogout = useCallback(async () => {
    const unsent = unsentNotes().length;
    if (unsent && !window.confirm(t('header.logout_unsent', { n: unsent }))) return;
    try { await api.logout(); } catch { /* the session is gone either way */ }
    disconnectSocket();
    // The next user of this tablet finds nothing of this one: offline copies, unsent notes, receipts.
    await forgetUser();
    forgetBallots();
    setSession({ status: 'anonymous', user: null });
    navigate('/login', { replace: true });
  }, []);

  const user = session.user;
  let body;
  if (wiped) {
    return html`
      <${Header} user=${null} onLogout=${onLogout} routeName="wiped" />
      <${WipedView} result=${wiped} />`;
  }
  if (session.status === 'loading') {
    body = html`<main class="page" id="main"><${Loading} /></main>`;
  } else if (session.status === 'anonymous') {
    if (route.name === 'verify') body = html`<${VerifyView} />`;
    else body = route.name === 'login' ? html`<${LoginView} onLoggedIn=${onLoggedIn} expired=${session.expired} />` : null;
  } else {
    switch (route.name) {
      case 'meetings': body = html`<${MeetingsView} user=${user} />`; break;
      case 'meeting-new': body = html`<${MeetingFormView} user=${user} />`; break;
      case 'meeting-edit': body = html`<${MeetingFormView} user=${user} meetingId=${route.id} key=${`edit-${route.id}`} />`; break;
      case 'meeting': body = html`<${MeetingView} user=${user} meetingId=${route.id} key=${`m-${route.id}`} />`; break;
      case 'meeting-live': body = html`<${LiveView} user=${user} meetingId=${route.id} key=${`live-${route.id}`} />`; break;
      case 'meeting-console': body = html`<${ConsoleView} user=${user} meetingId=${route.id} key=${`console-${route.id}`} />`; break;
      case 'meeting-bridge': body = html`<${BridgeView} user=${user} meetingId=${route.id} key=${`bridge-${route.id}`} />`; break;
      case 'meeting-control': body = html`<${ControlRoomView} user=${user} meetingId=${route.id} key=${`control-${route.id}`} />`; break;
      case 'meeting-wall': body = html`<${WallView} user=${user} meetingId=${route.id} key=${`wall-${route.id}`} />`; break;
      case 'meeting-round': body = html`<${RoundView} user=${user} meetingId=${route.id} key=${`round-${route.id}`} />`; break;
      case 'record': body = html`<${RecordView} user=${user} recordId=${route.id} key=${`r-${route.id}`} />`; break;
      case 'document': body = html`<${DocumentView} user=${user} documentId=${route.id} key=${`d-${route.id}`} />`; break;
      case 'inbox': body = html`<${InboxListView} user=${user} />`; break;
      case 'incoming': body = html`<${InboxDocumentView} user=${user} incomingId=${route.id} key=${`in-${route.id}`} />`; break;
      case 'search': body = html`<${SearchView} user=${user} />`; break;
      case 'trace': body = html`<${TraceView} />`; break;
      case 'tasks': body = html`<${TasksView} />`; break;
      case 'account': body = html`<${AccountView} user=${user} />`; break;
      case 'users': body = html`<${UsersView} user=${user} />`; break;
      case 'user': body = html`<${UserView} user=${user} userId=${route.id} key=${`u-${route.id}`} />`; break;
      case 'verify': body = html`<${VerifyView} />`; break;
      case 'not-found': body = html`<${NotFound} />`; break;
      default: body = html`<main class="page" id="main"><${Loading} /></main>`;
    }
  }

  // The projector shows the session alone: no header, no footer.
  if (route.name === 'meeting-wall' && session.status === 'user') return body;
  return html`
    <${Header} user=${session.status === 'user' ? user : null} onLogout=${onLogout} routeName=${route.name} />
    <${ExpiredNotice} expired=${expired} onClose=${() => setExpired(null)} />
    ${session.status === 'user' && html`<${SessionOverlay} route=${route} />`}
    ${body}
    <footer class="footer">${t('app.footer')}</footer>`;
}

/** The service worker keeps the app and the meeting documents for reading offline (frontend/sw.js). */
function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.register(new URL('../sw.js', import.meta.url).pathname).catch(() => {
    /* not a secure context (plain http on a LAN): the app works, only offline reading is missing */
  });
}

async function start() {
  // Before anything is fetched or shown: offline copies past their time go, network or not.
  let expired = null;
  try { expired = await expireIfStale(); } catch { /* nothing kept */ }
  registerServiceWorker();
  const root = document.getElementById('app');
  try {
    await loadCatalogues();
  } catch (exc) {
    root.textContent = `e-Cabinet: ${exc.message}`;
    return;
  }
  root.textContent = '';
  render(html`<${App} expiredAtStart=${expired} />`, root);
}

start();
