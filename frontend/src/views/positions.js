// Positions before a session: on a published session's page each member marks every agenda item
// (no objection / objection with a reason / wish to speak); the staff see everyone's marks, who has not
// answered, and which items may be adopted together; once the session runs, the chair adopts them in
// one step. An objection is saved together with its reason (one request), never without it.
import { html, useEffect, useState } from '../lib/preact.js';
import { api } from '../lib/api.js';
import { t } from '../lib/i18n.js';
import { ConfirmButton, ErrorBox, Notice } from './components.js';

const POSITIONS = ['no_objection', 'objection', 'wish_to_speak'];

/** The reasons already saved, by item: what the member sees again after a reload. */
function savedReasons(data) {
  const out = {};
  for (const item of data.items) if (item.mine && item.mine.reason) out[item.agenda_item_id] = item.mine.reason;
  return out;
}

export function PositionsSection({ meeting, allowed }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState('');
  const [reasons, setReasons] = useState({});
  // Items where the member pressed "objection" and is still writing the reason (nothing saved yet).
  const [objecting, setObjecting] = useState({});
  const canState = allowed.has('state_position');
  const canAdopt = allowed.has('adopt_unopposed');
  const staff = meeting.my_role === 'chair' || meeting.my_role === 'secretary';
  const show = (d) => {
    setData(d);
    setReasons((r) => ({ ...savedReasons(d), ...r }));
  };
  const load = () => api.positions(meeting.id).then((d) => { setData(d); setReasons(savedReasons(d)); }).catch(setError);
  useEffect(() => { if (canState || staff) load(); }, [meeting.id, meeting.status]);
  if (!data || (!canState && !staff) || meeting.kind !== 'session' || !['published', 'in_progress'].includes(meeting.status)) return null;

  async function save(item, position) {
    const id = item.agenda_item_id;
    const reason = position === 'objection' ? (reasons[id] || '').trim() : null;
    try {
      show(await api.statePosition(meeting.id, { agenda_item_id: id, position, reason }));
      setObjecting((o) => ({ ...o, [id]: false }));
      setError(null);
    } catch (err) {
      setError(err);
    }
  }
  function choose(item, position) {
    const id = item.agenda_item_id;
    if (position === 'objection' && !(reasons[id] || '').trim()) {
      // Wait for the reason: the objection and its reason are one save.
      setObjecting((o) => ({ ...o, [id]: true }));
      setError(null);
      window.setTimeout(() => {
        const input = document.getElementById(`position-reason-${id}`);
        if (input) input.focus();
      }, 0);
      return;
    }
    save(item, position);
  }
  async function adopt() {
    try {
      const out = await api.adoptUnopposed(meeting.id);
      show(out);
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
      <p class="muted" data-testid="positions-rule">${t('positions.silence_rule')}</p>
      <${ErrorBox} error=${error} testid="positions-error" />
      <${Notice} text=${notice} testid="positions-notice" />
      <ol class="positions">
        ${data.items.map((item) => {
          const id = item.agenda_item_id;
          const mine = item.mine && item.mine.position;
          const pending = objecting[id];
          const pressed = (p) => (pending ? p === 'objection' : mine === p);
          const reasonChanged = mine === 'objection' && (reasons[id] || '').trim() !== (item.mine.reason || '');
          return html`
          <li key=${id} data-testid="position-item" data-adoptable=${item.adoptable ? 'true' : 'false'}>
            <strong>${item.title}</strong>
            ${item.adoptable && html` <span class="badge badge-round">${t('positions.adoptable')}</span>`}
            ${canState && html`
              <div class="segmented" role="group" aria-label=${item.title}>
                ${POSITIONS.map((p) => html`
                  <button type="button" class=${pressed(p) ? 'button button-primary' : 'button button-secondary'}
                    aria-pressed=${pressed(p) ? 'true' : 'false'}
                    data-testid=${`position-${p}`} onClick=${() => choose(item, p)}>${t(`positions.${p}`)}</button>`)}
              </div>
              ${(pending || mine === 'objection') && html`
                <form class="position-reason" onSubmit=${(e) => { e.preventDefault(); save(item, 'objection'); }}>
                  <label class="visually-hidden" for=${`position-reason-${id}`}>${t('positions.reason')}</label>
                  <input id=${`position-reason-${id}`} type="text" maxlength="5000" placeholder=${t('positions.reason')}
                    value=${reasons[id] || ''} data-testid="position-reason"
                    onInput=${(e) => setReasons({ ...reasons, [id]: e.currentTarget.value })} />
                  ${pending && html`<span class="muted" data-testid="position-reason-hint">${t('positions.reason_needed')}</span>`}
                  ${(pending || reasonChanged) && html`
                    <button type="submit" class="button button-primary" disabled=${!(reasons[id] || '').trim()}
                      data-testid="position-save-objection">${t('positions.save_objection')}</button>`}
                </form>`}`}
            ${item.positions && item.positions.length > 0 && html`
              <ul class="muted">${item.positions.map((p) => html`<li>${p.full_name}: ${t(`positions.${p.position}`)}${p.reason ? ` — ${p.reason}` : ''}</li>`)}</ul>`}
            ${item.not_answered && html`
              <p class="muted" data-testid="position-not-answered">${item.not_answered.length
                ? t('positions.not_answered', { names: item.not_answered.map((p) => p.full_name).join(', ') })
                : t('positions.everyone_answered')}</p>`}
          </li>`;
        })}
      </ol>
      ${canAdopt && html`<${ConfirmButton} label=${t('positions.adopt')} variant="primary" testid="adopt-unopposed"
        question=${t('positions.confirm_adopt', { n: data.items.filter((i) => i.adoptable).length })} onConfirm=${adopt} />`}
    </section>`;
}
