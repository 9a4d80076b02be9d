// #/meetings/<id>/control: the secretariat's control room for the video bridge: every site's picture,
// and per site the state of its connections, the bitrate it sends, packet loss, round trip and the
// frames forwarded to it. Sites coming and going refresh the grid by themselves.
import { html, useEffect, useRef, useState } from '../lib/preact.js';
import { formatNumber, t } from '../lib/i18n.js';
import { useLive } from '../lib/live_store.js';
import { emitOn, liveSocket } from '../lib/socket.js';
import { BridgeClient } from '../lib/bridge_client.js';
import { ErrorBox } from './components.js';
import { LiveBar, LiveFrame } from './live.js';

function Tile({ stream, label }) {
  const ref = useRef(null);
  useEffect(() => { if (ref.current) ref.current.srcObject = stream; }, [stream]);
  return html`<figure class="video-tile" data-testid="control-tile">
    <video ref=${ref} autoplay playsinline muted></video><figcaption>${label}</figcaption></figure>`;
}

export function ControlRoomView({ meetingId }) {
  const [store, snapshot] = useLive(meetingId);
  const [tiles, setTiles] = useState({});
  const [figures, setFigures] = useState(null);
  const [status, setStatus] = useState('idle');
  const [error, setError] = useState(null);
  const client = useRef(null);

  useEffect(() => {
    const bridge = new BridgeClient(meetingId, {
      controlRoom: true,
      onTrack: (slot, track) => setTiles((s) => ({ ...s, [slot]: new MediaStream([track]) })),
      onStatus: (next, err) => { setStatus(next); if (err) setError(err); },
    });
    client.current = bridge;
    bridge.start().catch(setError);
    let pending = null;
    const onSources = (p) => {
      if (p.meeting_id !== meetingId) return;
      window.clearTimeout(pending);
      pending = window.setTimeout(() => { setTiles({}); bridge.rejoin(); }, 500);
    };
    liveSocket().on('media.sources', onSources);
    const timer = window.setInterval(async () => {
      if (!bridge.socket) return;
      try { setFigures((await emitOn(bridge.socket, 'media.state', { meeting_id: meetingId })).state); } catch { /* offline */ }
    }, 2000);
    return () => { window.clearInterval(timer); window.clearTimeout(pending); liveSocket().off('media.sources', onSources); bridge.stop(); };
  }, [meetingId]);

  const state = snapshot && snapshot.state;
  const names = {};
  ((state && state.participants) || []).forEach((p) => { names[String(p.user_id)] = p.full_name; });
  const nameOf = (site) => names[String(site).split(':')[0]] || `#${site}`;
  return html`
    <${LiveFrame} snapshot=${snapshot} title=${t('control.title')} className="page-control">
      ${state && html`<${LiveBar} state=${state} snapshot=${snapshot} here="control" />`}
      <h2>${t('control.title')}</h2>
      <${ErrorBox} error=${error} testid="control-error" />
      <p class="muted" data-testid="control-status" data-status=${status}>${t(`bridge.status_${status}`)}</p>
      <div class="control-grid" data-testid="control-grid">
        ${Object.entries(tiles).map(([slot, stream]) => html`
          <${Tile} key=${slot} stream=${stream} label=${nameOf(slot.replace(/^site:/, '').replace(/:video$/, ''))} />`)}
      </div>
      ${figures && html`
        <table class="copies" data-testid="control-figures">
          <thead><tr><th>${t('control.site')}</th><th>${t('control.sending')}</th><th>${t('control.receiving')}</th>
            <th>${t('control.bitrate')}</th><th>${t('control.lost')}</th><th>${t('control.rtt')}</th><th>${t('control.forwarded')}</th></tr></thead>
          <tbody>${figures.sites.filter((s) => !s.site.endsWith(':control')).map((s) => html`
            <tr data-testid="control-site"><td>${nameOf(s.site)}</td><td>${s.publishing ? t(`bridge.status_${s.publishing}`) : '—'}</td><td>${s.receiving ? t(`bridge.status_${s.receiving}`) : '—'}</td>
              <td>${s.bitrate_kbps === null ? '—' : formatNumber(s.bitrate_kbps)}</td><td>${formatNumber(s.packets_lost)}</td>
              <td>${s.rtt_ms === null ? '—' : formatNumber(s.rtt_ms)}</td><td>${formatNumber(s.frames_forwarded)}</td></tr>`)}</tbody>
        </table>`}
    <//>`;
}
