// Create a meeting (secretariat), or edit its details (#/meetings/<id>/edit, with `edit_details`).
import { html, useEffect, useState } from '../lib/preact.js';
import { api } from '../lib/api.js';
import { t } from '../lib/i18n.js';
import { meetingPath, navigate, roundPath } from '../lib/router.js';
import { ErrorBox, Loading, fromLocalInput, toLocalInput, useTitle } from './components.js';

const KINDS = ['session', 'opinion_round'];
const LEVELS = ['normal', 'confidential', 'secret'];

const EMPTY = {
  body_id: '', title: '', kind: 'session', starts_at: '', place: '', description: '', confidentiality: 'normal',
  deadline: '', questions: '',
};

export function MeetingFormView({ user, meetingId }) {
  const editing = meetingId != null;
  const [values, setValues] = useState(EMPTY);
  const [original, setOriginal] = useState(null);
  const [bodies, setBodies] = useState([]);
  const [status, setStatus] = useState('loading');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useTitle(editing ? t('form.edit_title') : t('form.new_title'));

  useEffect(() => {
    let live = true;
    const work = editing
      ? api.meeting(meetingId).then((m) => {
        const v = {
          body_id: String(m.body_id), title: m.title, kind: m.kind, starts_at: toLocalInput(m.starts_at),
          place: m.place, description: m.description || '', confidentiality: m.confidentiality,
        };
        if (live) {
          setBodies([{ id: m.body_id, name: m.body_name }]);
          setOriginal(v);
          setValues(v);
        }
      })
      : api.bodies().then((list) => {
        if (!live) return;
        setBodies(list);
        const own = list.find((b) => b.id === user.body_id) || (list.length === 1 ? list[0] : null);
        if (own) setValues((v) => ({ ...v, body_id: String(own.id) }));
      });
    work.then(() => live && setStatus('ok')).catch((err) => {
      if (live) { setError(err); setStatus('error'); }
    });
    return () => { live = false; };
  }, [meetingId]);

  const set = (name) => (event) => {
    const { value } = event.currentTarget;
    setValues((v) => ({ ...v, [name]: value }));
  };

  async function submit(event) {
    event.preventDefault();
    if (busy) return;
    setError(null);
    const round = values.kind === 'opinion_round';
    // A round has no place and no start of its own: it is dated by its deadline.
    const startsAt = fromLocalInput(round && !editing ? values.deadline : values.starts_at);
    const data = {
      title: values.title.trim(),
      starts_at: startsAt,
      place: round ? '' : values.place.trim(),
      description: values.description,
      confidentiality: values.confidentiality,
    };
    setBusy(true);
    try {
      let meeting;
      if (editing) {
        const changes = {};
        for (const [key, value] of Object.entries(data)) {
          const before = key === 'starts_at' ? fromLocalInput(original.starts_at) : original[key];
          if (value !== before) changes[key] = value;
        }
        meeting = Object.keys(changes).length ? await api.updateMeeting(meetingId, changes) : { id: meetingId };
      } else {
        meeting = await api.createMeeting({ ...data, body_id: Number(values.body_id), kind: values.kind });
        if (round) {
          try {
            await api.configureRound(meeting.id, {
              deadline: startsAt, rule: 'majority_asked',
              questions: values.questions.split('\n').map((q) => q.trim()).filter(Boolean),
            });
          } catch {
            // The round exists already: its own page shows the refusal's fields again (no second round).
            navigate(roundPath(meeting.id));
            return;
          }
        }
      }
      navigate(meetingPath(meeting.id));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  const cancelHref = editing ? `#${meetingPath(meetingId)}` : '#/meetings';
  const round = values.kind === 'opinion_round';
  return html`
    <main class="page page-form" id="main">
      <p class="breadcrumb"><a href=${cancelHref}>← ${editing ? t('nav.back_to_meeting') : t('nav.back_to_list')}</a></p>
      <section class="card">
        <h1 tabindex="-1">${editing ? t('form.edit_title') : t('form.new_title')}</h1>
        ${status === 'loading' && html`<${Loading} />`}
        <${ErrorBox} error=${error} testid="form-error" />
        ${status === 'ok' && html`
          <form class="form" onSubmit=${submit} data-testid="meeting-form">
            <div class="field">
              <label for="mf-body">${t('form.body')}</label>
              <select id="mf-body" required disabled=${editing} value=${values.body_id} onChange=${set('body_id')}
                data-testid="meeting-body">
                <option value="" disabled>${t('form.choose_body')}</option>
                ${bodies.map((b) => html`<option value=${String(b.id)} selected=${String(b.id) === values.body_id}>${b.name}</option>`)}
              </select>
            </div>
            <div class="field">
              <label for="mf-title">${t(round ? 'form.round_title' : 'form.title')}</label>
              <input id="mf-title" type="text" required pattern=".*\\S.*" maxlength="300" value=${values.title} onInput=${set('title')}
                data-testid="meeting-title" />
            </div>
            <div class="field-row">
              <div class="field">
                <label for="mf-kind">${t('form.kind')}</label>
                <select id="mf-kind" disabled=${editing} value=${values.kind} onChange=${set('kind')} data-testid="meeting-kind">
                  ${KINDS.map((k) => html`<option value=${k} selected=${k === values.kind}>${t(`kind.${k}`)}</option>`)}
                </select>
              </div>
              ${!round && html`
                <div class="field">
                  <label for="mf-starts">${t('form.starts_at')}</label>
                  <input id="mf-starts" type="datetime-local" required value=${values.starts_at} onInput=${set('starts_at')}
                    data-testid="meeting-starts-at" />
                </div>`}
              ${round && !editing && html`
                <div class="field">
                  <label for="mf-deadline">${t('form.round_deadline')}</label>
                  <input id="mf-deadline" type="datetime-local" required value=${values.deadline} onInput=${set('deadline')}
                    data-testid="round-form-deadline" />
                </div>`}
            </div>
            ${round && !editing && html`
              <div class="field">
                <label for="mf-questions">${t('form.round_questions')}</label>
                <textarea id="mf-questions" rows="4" required value=${values.questions} onInput=${set('questions')}
                  data-testid="round-form-questions"></textarea>
              </div>`}
            ${round && html`<p class="muted" data-testid="round-form-help">${t('form.round_help')}</p>`}
            ${!round && html`
              <div class="field">
                <label for="mf-place">${t('form.place')}</label>
                <input id="mf-place" type="text" maxlength="300" value=${values.place} onInput=${set('place')}
                  data-testid="meeting-place" />
              </div>`}
            <div class="field">
              <label for="mf-description">${t('form.description')}</label>
              <textarea id="mf-description" rows="4" maxlength="5000" value=${values.description}
                onInput=${set('description')} data-testid="meeting-description"></textarea>
            </div>
            <div class="field">
              <label for="mf-confidentiality">${t('form.confidentiality')}</label>
              <select id="mf-confidentiality" value=${values.confidentiality} onChange=${set('confidentiality')}
                data-testid="meeting-confidentiality">
                ${LEVELS.map((c) => html`<option value=${c} selected=${c === values.confidentiality}>${t(`confidentiality.${c}`)}</option>`)}
              </select>
            </div>
            <div class="form-actions">
              <button type="submit" class="button button-primary" disabled=${busy} data-testid="meeting-submit">
                ${busy ? t('common.saving') : (editing ? t('form.submit_save') : t('form.submit_create'))}
              </button>
              <a class="button button-secondary" href=${cancelHref}>${t('common.cancel')}</a>
            </div>
          </form>`}
      </section>
    </main>`;
}
