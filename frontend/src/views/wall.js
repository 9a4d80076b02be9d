// #/meetings/<id>/wall: the projector in the meeting room. Large type on a dark background, nothing
// to tap: the current item, who speaks (with the countdown) and who is next, and the poll: the
// question and turnout while it is open, then its result.
import { html, useEffect, useState } from '../lib/preact.js';
import { formatNumber, locale, t } from '../lib/i18n.js';
import { useLive } from '../lib/live_store.js';
import { meetingPath } from '../lib/router.js';
import { ErrorBox, Loading, useTitle } from './components.js';
import {
  ConnectionBanner, Countdown, FloorCard, PollBadges, QuorumChip, ResultChart, Turnout, currentItem, lastClosedPoll,
  openPoll, pollItem,
} from './live_parts.js';

function Clock({ store }) {
  const [, setTick] = useState(0);
  useEffect(() => {
    const timer = window.setInterval(() => setTick((n) => n + 1), 1000);
    return () => window.clearInterval(timer);
  }, []);
  const now = new Date(store.serverNow());
  return html`<span class="wall-clock">${new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit' }).format(now)}</span>`;
}

export function WallView({ meetingId }) {
  const [store, snapshot] = useLive(meetingId);
  const state = snapshot && snapshot.state;
  useTitle(state ? state.meeting.title : t('wall.title'));
  if (!state) {
    return html`
      <main class="wall" id="main">
        <h1 tabindex="-1" class="visually-hidden">${t('wall.title')}</h1>
        <${ConnectionBanner} snapshot=${snapshot} />
        ${snapshot && snapshot.error ? html`<${ErrorBox} error=${snapshot.error} testid="live-error" />` : html`<${Loading} />`}
      </main>`;
  }
  const item = currentItem(state);
  const open = openPoll(state);
  const last = lastClosedPoll(state);
  // A result stays on the wall while its own item is under discussion, never under the next item's title.
  const poll = open || (last && item && last.agenda_item_id === item.id ? last : null);
  const pollOn = pollItem(state, poll);
  const status = state.meeting.status;
  return html`
    <main class=${`wall${snapshot.connection !== 'online' ? ' live-stale' : ''}`} id="main" data-testid="wall">
      <${ConnectionBanner} snapshot=${snapshot} />
      <header class="wall-head">
        <a class="wall-back" href=${`#${meetingPath(state.meeting.id)}`} aria-label=${t('live.back_to_meeting')}>←</a>
        <h1 tabindex="-1" class="wall-title">${state.meeting.title}</h1>
        ${status === 'in_progress' && html`<${QuorumChip} quorum=${state.quorum} testid="wall-quorum" />`}
        <${Clock} store=${store} />
      </header>
      ${status !== 'in_progress' && html`
        <p class="wall-notice" data-testid="wall-notice">${t(status === 'published' ? 'live.not_started' : status === 'draft' ? 'live.draft' : 'live.ended')}</p>`}
      <section class="wall-item" aria-label=${t('live.current_item')}>
        <span class="wall-kicker">${t('live.current_item')}</span>
        ${item
          ? html`<h2 class="wall-item-title" data-testid="wall-item"><span class="wall-pos">${item.position}</span>${item.title}</h2>
              ${item.presenter && html`<p class="wall-sub">${t('agenda.presenter', { name: item.presenter })}</p>`}`
          : html`<h2 class="wall-item-title muted">${t('live.no_current_item')}</h2>`}
      </section>
      <div class=${poll ? 'wall-grid' : 'wall-grid wall-grid-one'}>
        <section class="wall-panel">
          <${FloorCard} store=${store} state=${state} big=${true} />
        </section>
        ${poll && html`
          <section class="wall-panel wall-poll" data-testid="wall-poll" data-status=${poll.status}>
            <div class="poll-head">
              <span class="wall-kicker">${poll.status === 'open' ? t('poll.title') : t('poll.result_title')}</span>
              ${poll.status === 'open' && poll.closes_at && html`<${Countdown} store=${store} until=${poll.closes_at} overtime=${false} testid="wall-poll-countdown" />`}
            </div>
            ${pollOn && html`<p class="wall-poll-item" data-testid="poll-item">${t('poll.on_item', { position: pollOn.position, title: pollOn.title })}</p>`}
            <h2 class="wall-poll-question">${poll.question}</h2>
            <${PollBadges} poll=${poll} />
            ${poll.status === 'open'
              ? html`<div class="wall-turnout"><span class="wall-big-number" data-testid="wall-turnout">${formatNumber(poll.voted)}/${formatNumber(poll.entitled)}</span>
                  <${Turnout} poll=${poll} />
                  ${poll.counts && html`<${ResultChart} poll=${poll} big=${true} />`}</div>`
              : html`<${ResultChart} poll=${poll} big=${true} />`}
          </section>`}
      </div>
    </main>`;
}
