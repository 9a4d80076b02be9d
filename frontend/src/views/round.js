// An opinion round (phiếu lấy ý kiến) at #/meetings/<id>/round. Members answer every question and
// sign their ballot; the staff set the round up while it is a draft, then follow the board live
// (who has answered), remind, close it, and open the aggregated report.
import { html, useEffect, useState } from '../lib/preact.js';
import { api } from '../lib/api.js';
import { formatDateTime, t } from '../lib/i18n.js';
import { holdSocket, liveSocket } from '../lib/socket.js';
import { meetingPath } from '../lib/router.js';
import {
  ConfirmButton, ErrorBox, Loading, Notice, fromLocalInput, toLocalInput, useTitle,
} from './components.js';
import { useCredentials } from './record.js';

const STAFF = new Set(['chair', 'secretary']);
const CHOICES = ['agree', 'disagree', 'other'];

export function RoundView({ meetingId }) {
  const [meeting, setMeeting] = useState(null);
  const [round, setRound] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState('');
  useTitle(meeting ? meeting.title : t('round.title'));

  async function load() {
    try {
      const m = await api.meeting(meetingId);
      setMeeting(m);
      try {
        setRound(await api.round(meetingId));
      } catch (err) {
        if (err.code !== 'no_round') throw err;
        setRound(null);
      }
      setError(null);
    } catch (err) {
      setError(err);
    }
  }
  useEffect(() => { load(); }, [meetingId]);

  // The staff's board follows the answers as they arrive; everyone hears the round close.
  useEffect(() => {
    const release = holdSocket(); // counted as a user of the connection: nobody closes it under this page
    const socket = liveSocket();
    const onProgress = (data) => {
      if (data.meeting_id !== meetingId) return;
      setRound((r) => (r ? { ...r, answered: data.answered, asked: data.asked, board: data.board } : r));
    };
    const onClosed = (data) => { if (data.meeting_id === meetingId) load(); };
    socket.on('opinion_round.progress', onProgress);
    socket.on('opinion_round.closed', onClosed);
    return () => {
      socket.off('opinion_round.progress', onProgress);
      socket.off('opinion_round.closed', onClosed);
      release();
    };
  }, [meetingId]);

  if (!meeting) {
    return html`<main class="page" id="main"><h1 tabindex="-1" class="visually-hidden">${t('round.title')}</h1>
      ${error ? html`<${ErrorBox} error=${error} />` : html`<${Loading} />`}</main>`;
  }
  const staff = STAFF.has(meeting.my_role);
  const done = (text) => { setNotice(text); load(); };
  return html`
    <main class="page page-round" id="main">
      <p class="breadcrumb"><a href=${`#${meetingPath(meetingId)}`}>← ${t('nav.back_to_meeting')}</a></p>
      <section class="card" aria-labelledby="round-heading">
        <h1 id="round-heading" tabindex="-1" data-testid="round-heading">${meeting.title}</h1>
        ${round && html`
          <p class="round-facts">
            <span data-testid="round-status" data-status=${round.status}>${t(`round.status.${round.status}`)}</span>${' · '}
            ${t('round.deadline')}:${' '}<strong data-testid="round-deadline">${formatDateTime(round.deadline)}</strong>${' · '}
            <span data-testid="round-answered">${t('round.answered', { n: round.answered, of: round.asked })}</span>
          </p>`}
        <div aria-live="polite">
          <${ErrorBox} error=${error} testid="round-error" />
          <${Notice} text=${notice} testid="round-notice" />
        </div>
      </section>
      ${staff && meeting.status === 'draft' && html`<${SetupForm} meetingId=${meetingId} round=${round} onSaved=${() => done(t('round.saved'))} />`}
      ${round && round.status === 'open' && round.i_am_asked && html`
        <${BallotForm} meetingId=${meetingId} round=${round} onDone=${done} />`}
      ${round && staff && round.board && html`<${Board} meetingId=${meetingId} round=${round} onDone=${done} setError=${setError} />`}
      ${round && round.status === 'closed' && html`<${Results} meetingId=${meetingId} round=${round} />`}
    </main>`;
}

function SetupForm({ meetingId, round, onSaved }) {
  const [questions, setQuestions] = useState(round ? round.questions.map((q) => q.text).join('\n') : '');
  const [deadline, setDeadline] = useState(round ? toLocalInput(round.deadline) : '');
  const [rule, setRule] = useState(round ? round.rule : 'majority_asked');
  const [error, setError] = useState(null);
  async function submit(e) {
    e.preventDefault();
    try {
      await api.configureRound(meetingId, {
        deadline: fromLocalInput(deadline), rule,
        questions: questions.split('\n').map((q) => q.trim()).filter(Boolean),
      });
      setError(null);
      onSaved();
    } catch (err) {
      setError(err);
    }
  }
  return html`
    <section class="card" aria-labelledby="setup-heading">
      <form class="form" onSubmit=${submit} data-testid="round-setup">
        <h2 id="setup-heading">${t('round.setup')}</h2>
        <label for="rs-questions">${t('round.questions')}</label>
        <textarea id="rs-questions" rows="4" required value=${questions} onInput=${(e) => setQuestions(e.currentTarget.value)}
          data-testid="round-questions"></textarea>
        <label for="rs-deadline">${t('round.deadline')}</label>
        <input id="rs-deadline" type="datetime-local" required value=${deadline} onInput=${(e) => setDeadline(e.currentTarget.value)}
          data-testid="round-deadline-input" />
        <label for="rs-rule">${t('round.rule')}</label>
        <select id="rs-rule" value=${rule} onChange=${(e) => setRule(e.currentTarget.value)}>
          ${['majority_asked', 'majority_answered', 'two_thirds_asked'].map((r) => html`<option value=${r}>${t(`round.rule.${r}`)}</option>`)}
        </select>
        <${ErrorBox} error=${error} testid="round-setup-error" />
        <button type="submit" class="button button-primary" data-testid="round-save">${t('round.save')}</button>
        <p class="muted">${t('round.setup_help')}</p>
      </form>
    </section>`;
}

function BallotForm({ meetingId, round, onDone }) {
  const mine = round.mine;
  const initial = {};
  for (const q of round.questions) {
    const a = mine && mine.answers.find((x) => x.question_id === q.id);
    initial[q.id] = { choice: a ? a.choice : '', text: a ? a.text : '' };
  }
  const [answers, setAnswers] = useState(initial);
  const [documents, setDocuments] = useState([]);
  const [comments, setComments] = useState(() => Object.fromEntries(
    ((mine && mine.comments) || []).map((c) => [c.document_id, c.text])));
  useEffect(() => { api.documents(meetingId).then(setDocuments).catch(() => setDocuments([])); }, [meetingId]);
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [credentials, credentialId, setCredentialId] = useCredentials(setError);
  const set = (qid, patch) => setAnswers({ ...answers, [qid]: { ...answers[qid], ...patch } });
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.submitBallot(meetingId, {
        answers: round.questions.map((q) => ({
          question_id: q.id, choice: answers[q.id].choice, text: answers[q.id].text || null,
        })),
        comments: Object.entries(comments).filter(([, text]) => text.trim())
          .map(([id, text]) => ({ document_id: Number(id), text: text.trim() })),
        credential_id: Number(credentialId), secret,
      });
      setSecret('');
      onDone(t('round.submitted'));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  async function withdraw() {
    try {
      await api.withdrawBallot(meetingId);
      onDone(t('round.withdrawn'));
    } catch (err) {
      setError(err);
    }
  }
  return html`
    <section class="card" aria-labelledby="ballot-heading">
      <form class="form ballot-form" onSubmit=${submit} data-testid="ballot-form">
        <h2 id="ballot-heading">${t('round.your_ballot')}</h2>
        ${mine && html`<p class="alert alert-ok" data-testid="ballot-sent">${t('round.sent_at', { when: formatDateTime(mine.submitted_at) })}</p>`}
        ${round.questions.map((q, i) => html`
          <fieldset key=${q.id} class="question" data-testid="question">
            <legend>${i + 1}. ${q.text}</legend>
            <div class="segmented" role="radiogroup">
              ${CHOICES.map((c) => html`
                <label class=${`choice choice-${c}`}>
                  <input type="radio" name=${`q${q.id}`} value=${c} checked=${answers[q.id].choice === c}
                    onChange=${() => set(q.id, { choice: c })} data-testid=${`choice-${c}`} required />
                  ${t(`round.choice.${c}`)}
                </label>`)}
            </div>
            ${answers[q.id].choice === 'other' && html`
              <textarea rows="2" required placeholder=${t('round.other_text')} value=${answers[q.id].text}
                onInput=${(e) => set(q.id, { text: e.currentTarget.value })} data-testid="other-text"></textarea>`}
          </fieldset>`)}
        ${documents.length > 0 && html`
          <fieldset class="document-comments" data-testid="document-comments">
            <legend>${t('round.document_comments')}</legend>
            ${documents.map((d) => html`
              <label key=${d.id} class="document-comment">
                <a href=${`#/documents/${d.id}`}>${d.title}</a>
                <textarea rows="2" maxlength="5000" placeholder=${t('round.document_comment_hint')}
                  value=${comments[d.id] || ''} data-testid="document-comment" data-document-id=${d.id}
                  onInput=${(e) => setComments({ ...comments, [d.id]: e.currentTarget.value })}></textarea>
              </label>`)}
          </fieldset>`}
        <label for="bf-cred">${t('record.credential')}</label>
        <select id="bf-cred" value=${credentialId} onChange=${(e) => setCredentialId(e.currentTarget.value)}>
          ${(credentials || []).map((c) => html`<option key=${c.id} value=${c.id}>${c.label}</option>`)}
        </select>
        <label for="bf-secret">${t('record.passphrase')}</label>
        <input id="bf-secret" type="password" required autocomplete="off" value=${secret}
          onInput=${(e) => setSecret(e.currentTarget.value)} data-testid="ballot-secret" />
        <${ErrorBox} error=${error} testid="ballot-error" />
        <div class="toolbar">
          <button type="submit" class="button button-primary" disabled=${busy || !credentialId} data-testid="ballot-submit">
            ${busy ? t('record.signing') : t('round.sign_and_send')}</button>
          ${mine && html`<button type="button" class="button button-secondary" onClick=${withdraw} data-testid="ballot-withdraw">${t('round.withdraw')}</button>`}
        </div>
      </form>
    </section>`;
}

function Board({ meetingId, round, onDone, setError }) {
  const act = (call, text) => call().then(() => onDone(text)).catch(setError);
  return html`
    <section class="card" aria-labelledby="board-heading">
      <h2 id="board-heading">${t('round.board')}</h2>
      <ul class="board" data-testid="round-board">
        ${round.board.map((b) => html`
          <li key=${b.participant_id} class=${b.answered ? 'board-row answered' : 'board-row'} data-testid="board-row"
            data-answered=${b.answered ? 'true' : 'false'}>
            <span>${b.full_name}</span>
            <span>${b.answered ? t('round.answered_at', { when: formatDateTime(b.submitted_at) }) : t('round.waiting')}</span>
          </li>`)}
      </ul>
      <div class="toolbar">
        ${round.status !== 'closed' && html`
          <a class="button button-secondary" href=${api.roundReportUrl(meetingId)} target="_blank" rel="noopener"
            data-testid="round-report">${t('round.report')}</a>`}
        ${round.status === 'open' && html`
          <button type="button" class="button button-secondary" data-testid="round-remind"
            onClick=${() => act(() => api.remindRound(meetingId), t('round.reminded'))}>${t('round.remind')}</button>
          <${ConfirmButton} label=${t('round.close')} question=${t('round.confirm_close')} testid="round-close"
            onConfirm=${() => act(() => api.closeRound(meetingId), t('round.closed'))} />`}
      </div>
    </section>`;
}

/** "Question: Đồng ý 2 · Không đồng ý 0 · Ý kiến khác 1 — Thông qua", one string so no space is lost. */
export function resultLine(q) {
  const counts = CHOICES.map((c) => t('round.result_count', { choice: t(`round.choice.${c}`), n: q.outcome.counts[c] }))
    .join(' · ');
  return t('round.result_line', {
    question: q.text, counts, verdict: q.outcome.passed ? t('round.passed') : t('round.not_passed'),
  });
}

function Results({ meetingId, round }) {
  return html`
    <section class="card" aria-labelledby="results-heading">
      <h2 id="results-heading">${t('round.results')}</h2>
      <ul class="results" data-testid="round-results">
        ${(round.result || []).map((q) => html`
          <li key=${q.id} data-testid="round-result" data-passed=${q.outcome.passed ? 'true' : 'false'}>
            ${resultLine(q)}
          </li>`)}
      </ul>
      <a class="button button-secondary" href=${api.roundReportUrl(meetingId)} target="_blank" rel="noopener" data-testid="round-report-final">${t('round.report')}</a>
    </section>`;
}
