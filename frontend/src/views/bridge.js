// #/meetings/<id>/bridge: the video screen of a bridge point (điểm cầu) or a member attending from
// afar: the floor large, the chair small, this site's own picture, and the request for the floor.
// The site cannot unmute itself: it is heard when the chair gives it the floor.
import { html, useEffect, useRef, useState } from '../lib/preact.js';
import { t } from '../lib/i18n.js';
import { useLive } from '../lib/live_store.js';
import { BridgeClient } from '../lib/bridge_client.js';
import { ErrorBox } from './components.js';
import { LiveBar, LiveFrame, SpeakCard } from './live.js';
import { allowedSet } from './live_parts.js';

function cameraError(err) {
  const name = err && err.name;
  if (name === 'NotAllowedError' || name === 'SecurityError') return { code: 'camera_denied', message: t('bridge.camera_denied') };
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return { code: 'no_camera', message: t('bridge.no_camera') };
  if (name === 'NotReadableError') return { code: 'camera_busy', message: t('bridge.camera_busy') };
  return err;
}

function Video({ stream, muted = false, testid, label }) {
  const ref = useRef(null);
  useEffect(() => { if (ref.current && ref.current.srcObject !== stream) ref.current.srcObject = stream || null; }, [stream]);
  return html`<figure class="video-tile">
    <video ref=${ref} autoplay playsinline muted=${muted} data-testid=${testid} aria-label=${label}></video>
    <figcaption>${label}</figcaption>
  </figure>`;
}

export function BridgeView({ meetingId }) {
  const [store, snapshot] = useLive(meetingId);
  const [local, setLocal] = useState(null);
  const [streams, setStreams] = useState({});
  const [status, setStatus] = useState('idle');
  const [error, setError] = useState(null);
  const [stats, setStats] = useState(null);
  const client = useRef(null);

  useEffect(() => {
    let stopped = false;
    const bridge = new BridgeClient(meetingId, {
      onTrack: (slot, track) => setStreams((s) => ({ ...s, [slot]: new MediaStream([track]) })),
      onStatus: (next, err) => { setStatus(next); if (err) setError(err); },
    });
    client.current = bridge;
    (async () => {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        setError({ code: 'no_camera', message: t('bridge.no_media') });
        return;
      }
      try {
        const stream = await navigator.mediaDevices.getUserMedia({
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
    return () => { stopped = true; window.clearInterval(timer); bridge.stop(); };
  }, [meetingId]);

  const state = snapshot && snapshot.state;
  const allowed = state ? allowedSet(state) : new Set();
  return html`
    <${LiveFrame} snapshot=${snapshot} title=${t('bridge.title')} className="page-bridge">
      ${state && html`<${LiveBar} state=${state} snapshot=${snapshot} here="bridge" />`}
      <${ErrorBox} error=${error} testid="bridge-error" />
      <div class="bridge-grid">
        <div class="bridge-floor">
          <${Video} stream=${streams['floor:video']} testid="video-floor" label=${t('bridge.floor')} />
          <audio autoplay data-testid="audio-floor" ref=${(el) => { if (el && streams['floor:audio'] && el.srcObject !== streams['floor:audio']) el.srcObject = streams['floor:audio']; }}></audio>
        </div>
        <div class="bridge-side">
          <${Video} stream=${streams['chair:video']} testid="video-chair" label=${t('bridge.chair')} />
          <audio autoplay data-testid="audio-chair" ref=${(el) => { if (el && streams['chair:audio'] && el.srcObject !== streams['chair:audio']) el.srcObject = streams['chair:audio']; }}></audio>
          <${Video} stream=${local} muted=${true} testid="video-self" label=${t('bridge.self')} />
          ${state && state.meeting.status === 'in_progress' && html`<${SpeakCard} store=${store} state=${state} allowed=${allowed} />`}
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
