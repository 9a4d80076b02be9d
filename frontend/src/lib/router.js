// Hash routes: #/login, #/meetings, #/meetings/new, #/meetings/<id>, #/meetings/<id>/edit.

export function parseRoute(hash) {
  const path = (hash || '').replace(/^#/, '').split('?')[0];
  const parts = path.split('/').filter(Boolean);
  if (parts.length === 0) return { name: 'home' };
  if (parts[0] === 'login' && parts.length === 1) return { name: 'login' };
  if (parts[0] === 'meetings') {
    if (parts.length === 1) return { name: 'meetings' };
    if (parts.length === 2 && parts[1] === 'new') return { name: 'meeting-new' };
    if (/^[1-9][0-9]{0,9}$/.test(parts[1])) {
      const id = Number(parts[1]);
      if (parts.length === 2) return { name: 'meeting', id };
      if (parts.length === 3 && parts[2] === 'edit') return { name: 'meeting-edit', id };
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
