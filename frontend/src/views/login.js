// Login: username and password; the server's refusal (wrong password, locked account) is shown.
import { html, useState } from '../lib/preact.js';
import { api } from '../lib/api.js';
import { t } from '../lib/i18n.js';
import { ErrorBox, useTitle } from './components.js';

export function LoginView({ onLoggedIn, expired = false }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  useTitle(t('login.title'));

  async function submit(event) {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      const out = await api.login(username.trim(), password);
      onLoggedIn(out.user);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return html`
    <main class="page page-login" id="main">
      <section class="card login-card" aria-labelledby="login-heading">
        <h1 id="login-heading" tabindex="-1">${t('login.title')}</h1>
        <p class="muted">${t('login.intro')}</p>
        ${expired && !error && html`<p class="alert alert-info" role="status" data-testid="login-expired">${t('error.session_expired')}</p>`}
        <${ErrorBox} error=${error} testid="login-error" />
        <form class="form" onSubmit=${submit}>
          <div class="field">
            <label for="login-username">${t('login.username')}</label>
            <input id="login-username" name="username" type="text" required autocomplete="username"
              autocapitalize="none" autocorrect="off" spellcheck="false" maxlength="64"
              value=${username} onInput=${(e) => setUsername(e.currentTarget.value)} data-testid="login-username" />
          </div>
          <div class="field">
            <label for="login-password">${t('login.password')}</label>
            <input id="login-password" name="password" type="password" required autocomplete="current-password"
              maxlength="256" value=${password} onInput=${(e) => setPassword(e.currentTarget.value)}
              data-testid="login-password" />
          </div>
          <button type="submit" class="button button-primary button-block" disabled=${busy} data-testid="login-submit">
            ${busy ? t('login.submitting') : t('login.submit')}
          </button>
        </form>
        <p class="login-verify"><a href="#/verify" data-testid="login-verify">${t('login.verify_link')}</a></p>
      </section>
    </main>`;
}
