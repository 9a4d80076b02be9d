// Hash routes: #/login, #/account (my devices), #/users and #/users/<id> (administrators), #/verify (public), #/records/<id>, #/documents/<id>?page=N, #/search?q=, #/trace (admin), #/tasks (secretariat, admin), #/exchange/inbox and #/exchange/inbox/<id> (secretariat), #/meetings, #/meetings/new, #/meetings/<id>, #/meetings/<id>/edit, and the live
// session: #/meetings/<id>/live (tablet), #/meetings/<id>/console (chair), #/meetings/<id>/wall (projector).

const MEETING_PAGES = {
  edit: 'meeting-edit', live: 'meeting-live', bridge: 'meeting-bridge', control: 'meeting-control', console: 'meeting-console', wall: 'meeting-wall', round: 'meeting-round',
};

export function parseRoute(hash) {
  const path = (hash || '').replace(/^#/, '').split('?')[0];
  const parts = path.split('/').filter(Boolean);
  if (parts.length === 0) return { name: 'home' };
  if (parts[0] === 'login' && parts.length === 1) return { name: 'login' };
  if (parts[0] === 'verify' && parts.length === 1) return { name: 'verify' };
  if (parts[0] === 'search' && parts.length === 1) return { name: 'search' };
  if (parts[0] === 'trace' && parts.length === 1) return { name: 'trace' };
  if (parts[0] === 'tasks' && parts.length === 1) return { name: 'tasks' };
  if (parts[0] === 'account' && parts.length === 1) return { name: 'account' };
  if (parts[0] === 'users' && parts.length === 1) return { name: 'users' };
  if (parts[0] === 'users' && parts.length === 2 && /^[1-9][0-9]{0,9}$/.test(parts[1])) {
    return { name: 'user', id: Number(parts[1]) };
  }
  if (parts[0] === 'documents' && parts.length === 2 && /^[1-9][0-9]{0,9}$/.test(parts[1])) {
    return { name: 'document', id: Number(parts[1]) };
  }
  if (parts[0] === 'exchange' && parts[1] === 'inbox') {
    if (parts.length === 2) return { name: 'inbox' };
    if (parts.length === 3 && /^[1-9][0-9]{0,9}$/.test(parts[2])) return { name: 'incoming', id: Number(parts[2]) };
  }
  if (parts[0] === 'records' && parts.length === 2 && /^[1-9][0-9]{0,9}$/.test(parts[1])) {
    return { name: 'record', id: Number(parts[1]) };
  }
  if (parts[0] === 'meetings') {
    if (parts.length === 1) return { name: 'meetings' };
    if (parts.length === 2 && parts[1] === 'new') return { name: 'meeting-new' };
    if (/^[1-9][0-9]{0,9}$/.test(parts[1])) {
      const id = Number(parts[1]);
      if (parts.length === 2) return { name: 'meeting', id };
      if (parts.length === 3 && Object.hasOwn(MEETING_PAGES, parts[2])) return { name: MEETING_PAGES[parts[2]], id };
    }
  }
  return { name: 'not-found' };
}

export function navigate(path, { replace = false } = {}) {
  const hash = `#${path}`;
  if (replace) window.location.replace(hash);
  else window.location.hash = hash;
}

export const meetingPath = (id) => `/meetings/${id}`;
export const livePath = (id) => `/meetings/${id}/live`;
export const consolePath = (id) => `/meetings/${id}/console`;
export const wallPath = (id) => `/meetings/${id}/wall`;
export const bridgePath = (id) => `/meetings/${id}/bridge`;
export const controlPath = (id) => `/meetings/${id}/control`;
export const recordPath = (id) => `/records/${id}`;
export const roundPath = (id) => `/meetings/${id}/round`;
export const verifyPath = () => '/verify';
