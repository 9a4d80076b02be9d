// #/meetings/<id>/bridge: the video screen of a bridge point (điểm cầu) or a member attending from
// afar: the floor large, the chair small, this site's own picture, and the request for the floor.
// The site cannot unmute itself: it is heard when the chair gives it the floor.
import { html, useEffect, useRef, useState } from '../lib/preact.js';
import { t } from '../lib/i18n.js';
import { useLive } from '../lib/live_store.js';
import { BridgeClient } from '../lib/bridge_client.js';
import { ErrorBox } from './components.js';
import { LiveBar, LiveFrame, SpeakCard } from './live.js';
import { allowedSet, speakerInfo } from './live_parts.js';

function cameraError(err) {
  const name = err && err.name;
  if (name === 'NotAllowedError' || name === 'SecurityError') return { code: 'camera_denied', message: t('bridge.camera_denied') };
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return { code: 'no_camera', message: t('bridge.no_camera') };
  if (name === 'NotReadableError') return { code: 'camera_busy', message: t('bridge.camera_busy') };
  return err;
}

function Video({ stream, muted = false, testid, label, empty = null, className = '' }) {
  const ref = useRef(null);
  useEffect(() => { if (ref.current && ref.current.srcObject !== stream) ref.current.srcObject = stream || null; }, [stream, empty]);
  // Without a picture the tile says why instead of showing black (or the last frame, frozen).
  return html`<figure class=${`video-tile${empty ? ' video-tile-empty' : ''} ${className}`} data-testid=${`${testid}-tile`}>
    ${empty
      ? html`<div class="video-empty" data-testid=${`${testid}-empty`} data-reason=${empty.reason}>
          <span class="video-empty-icon" aria-hidden="true">◉</span><span>${empty.text}</span></div>`
      : html`<video ref=${ref} autoplay playsinline muted=${muted} data-testid=${testid} aria-label=${label}></video>`}
    <figcaption>${label}</figcaption>
  </figure>`;
}

/** Which received slots carry pictures now: their decoded frames grew since the last look (once a second). */
function useSlotsLive(stats) {
  const last = useRef({});
  const [alive, setAlive] = useState({});
  useEffect(() => {
    if (!stats) return;
    const next = {};
    ['floor:video', 'chair:video'].forEach((slot) => {
      const frames = stats.slots[slot] || 0;
      next[slot] = frames > (last.current[slot] || 0);
      last.current[slot] = frames;
    });
    setAlive((a) => (a['floor:video'] === next['floor:video'] && a['chair:video'] === next['chair:video'] ? a : next));
  }, [stats]);
  return alive;
}

export function BridgeView({ meetingId }) {
  const [store, snapshot] = useLive(meetingId);
  const [local, setLocal] = useState(null);
  const [streams, setStreams] = useState({});
  const [status, setStatus] = useState('idle');
  const [error, setError] = useState(null);
  const [stats, setStats] = useState(null);
  const [left, setLeft] = useState(false);
  const client = useRef(null);
  const state = snapshot && snapshot.state;
  const running = Boolean(state && state.meeting.status === 'in_progress');

  // The camera and microphone are on only while the session runs and this site takes part: the end of
  // the session, leaving, or closing the page stops every track (nothing keeps sending from the room).
  useEffect(() => {
    if (!running || left) return undefined;
    let stopped = false;
    let stream = null;
    const bridge = new BridgeClient(meetingId, {
      onTrack: (slot, track) => setStreams((s) => ({ ...s, [slot]: new MediaStream([track]) })),
      onStatus: (next, err) => { setStatus(next); if (err) setError(err); },
    });
    client.current = bridge;
    const stopAll = () => {
      stopped = true;
      bridge.stop();
      if (stream) stream.getTracks().forEach((tr) => tr.stop());
    };
    (async () => {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        setError({ code: 'no_camera', message: t('bridge.no_media') });
        return;
      }
      try {
        stream = await navigator.mediaDevices.getUserMedia({
          video: { width: 640, height: 480 }, audio: true,
        });
        if (stopped) { stream.getTracks().forEach((tr) => tr.stop()); return; }
        setLocal(stream);
        await bridge.start(stream);
      } catch (err) {
        setError(cameraError(err));
      }
    })();
    const timer = window.setInterval(async () => {
      try { setStats(await bridge.stats()); } catch { /* closing */ }
    }, 1000);
    window.addEventListener('pagehide', stopAll);
    return () => {
      window.clearInterval(timer);
      window.removeEventListener('pagehide', stopAll);
      stopAll();
      setLocal(null);
      setStreams({});
      setStats(null);
      setStatus('closed');
    };
  }, [meetingId, running, left]);

  const alive = useSlotsLive(stats);
  const allowed = state ? allowedSet(state) : new Set();
  const info = state && running ? speakerInfo(state) : null;
  const speaking = info && info.speaking;
  const onAir = Boolean(info && info.mine && info.mine.status === 'speaking');
  const isSite = Boolean(state && state.me && state.me.role === 'bridge');
  let floorEmpty = null;
  if (!running) floorEmpty = { reason: 'session', text: t('bridge.tile_session_off') };
  else if (!speaking) floorEmpty = { reason: 'nobody', text: t('bridge.floor_nobody') };
  else if (onAir) floorEmpty = { reason: 'self', text: t('bridge.floor_self') };
  else if (!alive['floor:video']) floorEmpty = { reason: 'no_video', text: t('bridge.floor_no_video', { name: speaking.full_name }) };
  const chairEmpty = !running ? { reason: 'session', text: t('bridge.tile_session_off') }
    : !alive['chair:video'] ? { reason: 'no_video', text: t('bridge.chair_no_video') } : null;
  const selfEmpty = !local ? { reason: left ? 'left' : 'off', text: t(left ? 'bridge.self_left' : 'bridge.self_off') } : null;
  const selfLabel = isSite ? t('bridge.self') : t('bridge.self_member');
  return html`
    <${LiveFrame} snapshot=${snapshot} title=${t('bridge.title')} className=${`page-bridge${onAir ? ' bridge-on-air' : ''}`}>
      ${state && html`<${LiveBar} state=${state} snapshot=${snapshot} here="bridge" />`}
      ${onAir && html`<div class="on-air" role="status" data-testid="on-air">
        <span class="on-air-dot" aria-hidden="true"></span>
        <strong>${t('bridge.on_air')}</strong> <span>${t(isSite ? 'bridge.on_air_site' : 'bridge.on_air_member')}</span></div>`}
      ${state && !running && html`<div class="alert alert-info" role="status" data-testid="bridge-off">${t('bridge.session_off')}</div>`}
      <${ErrorBox} error=${error} testid="bridge-error" />
      <div class="bridge-grid">
        <div class="bridge-floor">
          <${Video} stream=${streams['floor:video']} testid="video-floor" label=${speaking ? `${t('bridge.floor')}: ${speaking.full_name}` : t('bridge.floor')}
            empty=${floorEmpty} />
          <audio autoplay data-testid="audio-floor" ref=${(el) => { if (el && streams['floor:audio'] && el.srcObject !== streams['floor:audio']) el.srcObject = streams['floor:audio']; }}></audio>
        </div>
        <div class="bridge-side">
          <${Video} stream=${streams['chair:video']} testid="video-chair" label=${t('bridge.chair')} empty=${chairEmpty} />
          <audio autoplay data-testid="audio-chair" ref=${(el) => { if (el && streams['chair:audio'] && el.srcObject !== streams['chair:audio']) el.srcObject = streams['chair:audio']; }}></audio>
          <${Video} stream=${local} muted=${true} testid="video-self" label=${onAir ? `${selfLabel} · ${t('bridge.on_air')}` : selfLabel}
            empty=${selfEmpty} className=${onAir ? 'video-tile-on-air' : ''} />
          ${running && html`
            <button type="button" class="button button-secondary" data-testid="bridge-leave" aria-pressed=${left ? 'true' : 'false'}
              onClick=${() => setLeft(!left)}>${left ? t('bridge.rejoin') : t('bridge.leave')}</button>`}
          ${running && html`<${SpeakCard} store=${store} state=${state} allowed=${allowed} />`}
          <p class="bridge-status" data-testid="bridge-status" data-status=${status}>${t(`bridge.status_${status}`)}</p>
          ${stats && html`<dl class="bridge-stats" data-testid="bridge-stats" data-frames-decoded=${stats.framesDecoded}
              data-audio-bytes=${stats.audioBytes} data-frames-sent=${stats.framesSent}
              data-floor-frames=${stats.slots['floor:video'] || 0} data-floor-audio-bytes=${stats.slots['floor:audio'] || 0}
              data-chair-frames=${stats.slots['chair:video'] || 0} data-chair-audio-bytes=${stats.slots['chair:audio'] || 0}>
            <div><dt>${t('bridge.frames_decoded')}</dt><dd>${stats.framesDecoded}</dd></div>
            <div><dt>${t('bridge.audio_bytes')}</dt><dd>${stats.audioBytes}</dd></div>
            <div><dt>${t('bridge.frames_sent')}</dt><dd>${stats.framesSent}</dd></div>
            <div><dt>${t('bridge.packets_lost')}</dt><dd>${stats.packetsLost}</dd></div>
          </dl>`}
        </div>
      </div>
    <//>`;
}
