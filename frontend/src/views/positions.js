// Positions before a session: on a published session's page each member marks every agenda item
// (no objection / objection with a reason / wish to speak); the staff see everyone's marks and which
// items may be adopted together; once the session runs, the chair adopts them in one step.
import { html, useEffect, useState } from '../lib/preact.js';
import { api } from '../lib/api.js';
import { t } from '../lib/i18n.js';
import { ErrorBox, Notice } from './components.js';

const POSITIONS = ['no_objection', 'objection', 'wish_to_speak'];

export function PositionsSection({ meeting, allowed }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState('');
  const [reasons, setReasons] = useState({});
  const canState = allowed.has('state_position');
  const canAdopt = allowed.has('adopt_unopposed');
  const staff = meeting.my_role === 'chair' || meeting.my_role === 'secretary';
  const load = () => api.positions(meeting.id).then(setData).catch(setError);
  useEffect(() => { if (canState || staff) load(); }, [meeting.id, meeting.status]);
  if (!data || (!canState && !staff) || meeting.kind !== 'session' || !['published', 'in_progress'].includes(meeting.status)) return null;

  async function choose(item, position) {
    try {
      setData(await api.statePosition(meeting.id, { agenda_item_id: item.agenda_item_id, position,
        reason: position === 'objection' ? (reasons[item.agenda_item_id] || '') : null }));
      setError(null);
    } catch (err) {
      setError(err);
    }
  }
  async function adopt() {
    try {
      const out = await api.adoptUnopposed(meeting.id);
      setData(out);
      setNotice(t('positions.adopted', { n: out.adopted.length }));
      setError(null);
    } catch (err) {
      setError(err);
    }
  }
  return html`
    <section class="card section-positions" aria-labelledby="positions-heading">
      <h2 id="positions-heading">${t('positions.title')}</h2>
      <p class="muted">${t(canState ? 'positions.help' : 'positions.staff_help')}</p>
      <${ErrorBox} error=${error} testid="positions-error" />
      <${Notice} text=${notice} testid="positions-notice" />
      <ol class="positions">
        ${data.items.map((item) => html`
          <li key=${item.agenda_item_id} data-testid="position-item" data-adoptable=${item.adoptable ? 'true' : 'false'}>
            <strong>${item.title}</strong>
            ${item.adoptable && html` <span class="badge badge-round">${t('positions.adoptable')}</span>`}
            ${canState && html`
              <div class="segmented" role="group" aria-label=${item.title}>
                ${POSITIONS.map((p) => html`
                  <button type="button" class=${item.mine && item.mine.position === p ? 'button button-primary' : 'button button-secondary'}
                    aria-pressed=${item.mine && item.mine.position === p ? 'true' : 'false'}
                    data-testid=${`position-${p}`} onClick=${() => choose(item, p)}>${t(`positions.${p}`)}</button>`)}
              </div>
              <input type="text" maxlength="5000" placeholder=${t('positions.reason')} value=${reasons[item.agenda_item_id] || ''}
                onInput=${(e) => setReasons({ ...reasons, [item.agenda_item_id]: e.currentTarget.value })}
                data-testid="position-reason" />`}
            ${item.positions && item.positions.length > 0 && html`
              <ul class="muted">${item.positions.map((p) => html`<li>${p.full_name}: ${t(`positions.${p.position}`)}${p.reason ? ` — ${p.reason}` : ''}</li>`)}</ul>`}
          </li>`)}
      </ol>
      ${canAdopt && html`<button type="button" class="button button-primary" data-testid="adopt-unopposed" onClick=${adopt}>${t('positions.adopt')}</button>`}
    </section>`;
}
