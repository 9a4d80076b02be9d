// What the session asks of a member reaches them on every screen of the app, not only on the live screen:
// a vote that opens (with its buttons: choose, then confirm), the floor given to them, the session's start
// and end. Shown over the meeting page, the document viewer and the video bridge (the live screen, the
// console and the projector show all of it themselves). It uses the meeting's one live store, so it adds
// no connection of its own.
import { html, useEffect, useRef, useState } from '../lib/preact.js';
import { api } from '../lib/api.js';
import { t } from '../lib/i18n.js';
import { useLive } from '../lib/live_store.js';
import { livePath } from '../lib/router.js';
import { PollPanel, allowedSet, openPoll, speakerInfo } from './live_parts.js';

/** The meeting the current screen belongs to (a document's is asked of the server), or null. */
function useRouteMeeting(route) {
  const [fromDocument, setFromDocument] = useState(null);
  const documentId = route.name === 'document' ? route.id : null;
  useEffect(() => {
    setFromDocument(null);
    if (!documentId) return undefined;
    let live = true;
    api.document(documentId).then((d) => { if (live && d) setFromDocument(d.meeting_id); }).catch(() => {});
    return () => { live = false; };
  }, [documentId]);
  if (route.name === 'meeting' || route.name === 'meeting-bridge') return route.id;
  return documentId ? fromDocument : null;
}

export function SessionOverlay({ route }) {
  const meetingId = useRouteMeeting(route);
  if (!meetingId) return null;
  return html`<${SessionWatch} meetingId=${meetingId} here=${route.name} key=${`watch-${meetingId}`} />`;
}

function SessionWatch({ meetingId, here }) {
  const [store, snapshot] = useLive(meetingId);
  const state = snapshot && snapshot.state;
  const [hidden, setHidden] = useState(() => new Set()); // polls the member put aside (a banner stays)
  const [notice, setNotice] = useState(null); // 'started' | 'ended'
  const status = state ? state.meeting.status : null;
  const previous = useRef(null);
  useEffect(() => {
    if (!status) return;
    const before = previous.current;
    previous.current = status;
    if (before && before !== status) {
      if (status === 'in_progress') setNotice('started');
      else if (before === 'in_progress') setNotice('ended');
    }
  }, [status]);

  if (!state || !store) return null;
  const poll = openPoll(state);
  const canVote = allowedSet(state).has('vote') && state.me && state.me.may_vote;
  const mine = poll && poll.mine && poll.mine.voted;
  const floor = status === 'in_progress' ? speakerInfo(state).mine : null;
  const onFloor = floor && floor.status === 'speaking';
  const showPoll = poll && canVote && !hidden.has(poll.id);
  const live = `#${livePath(meetingId)}`;
  const hide = () => setHidden((h) => new Set(h).add(poll.id));
  const show = () => setHidden((h) => { const next = new Set(h); next.delete(poll.id); return next; });

  return html`
    <div class="session-alerts" data-testid="session-alerts">
      ${onFloor && html`
        <div class="session-banner session-banner-floor" role="alert" data-testid="overlay-floor">
          <strong>${t('live.you_have_floor')}</strong>
          ${here !== 'meeting-bridge' && html`<a class="button button-small button-secondary" href=${live}>${t('live.open_member')}</a>`}
        </div>`}
      ${notice && html`
        <div class="session-banner" role="status" data-testid="overlay-session" data-notice=${notice}>
          <strong>${t(notice === 'started' ? 'overlay.session_started' : 'overlay.session_ended')}</strong>
          ${notice === 'started' && html`<a class="button button-small button-secondary" href=${live}>${t('overlay.go_live')}</a>`}
          <button type="button" class="button button-small button-secondary" data-testid="overlay-session-close"
            onClick=${() => setNotice(null)}>${t('overlay.dismiss')}</button>
        </div>`}
      ${poll && canVote && hidden.has(poll.id) && html`
        <div class="session-banner session-banner-vote" role="status" data-testid="overlay-vote-banner">
          <strong>${mine ? t('overlay.vote_open_voted') : t('overlay.vote_open')}</strong>
          <span class="session-banner-text">${poll.question}</span>
          <button type="button" class="button button-small button-primary" data-testid="overlay-vote-show" onClick=${show}>
            ${t('overlay.show_vote')}</button>
        </div>`}
    </div>
    ${showPoll && html`
      <div class="vote-overlay" data-testid="vote-overlay" data-poll-id=${poll.id}>
        <div class="vote-overlay-box" role="dialog" aria-modal="false" aria-labelledby="vote-overlay-title">
          <div class="vote-overlay-head">
            <h2 id="vote-overlay-title" class="vote-overlay-title">${t('overlay.vote_title')}</h2>
            <button type="button" class="button button-small button-secondary" data-testid="overlay-vote-hide"
              onClick=${hide}>${mine ? t('overlay.close') : t('overlay.later')}</button>
          </div>
          <${PollPanel} store=${store} state=${state} poll=${poll} canVote=${canVote} headingLevel=${3}
            key=${`overlay-${poll.id}`} className="poll-overlay" />
        </div>
      </div>`}`;
}
