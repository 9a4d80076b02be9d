// REST client for /api: JSON in and out, the session cookie, and the CSRF header on every unsafe
// request. Errors {"error": {"code", "message", "details"}} become thrown ApiError objects.

const API_BASE = new URL('../../api', import.meta.url).pathname;
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

let csrfToken = null;
let unauthorizedHandler = null;
let contactHandler = null;
let revokedHandler = null;

export class ApiError extends Error {
  constructor(status, code, message, details = null, retryAfter = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

export function setCsrfToken(token) {
  csrfToken = token || null;
}

/** Called with the error when a request other than login answers 401 (session gone). */
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

/** Called after every answer of the server (a contact: offline copies stay valid; lib/device.js). */
export function onContact(fn) {
  contactHandler = fn;
}

/** Called when the server refuses this browser because its device was reported lost (lib/device.js wipes). */
export function onDeviceRevoked(fn) {
  revokedHandler = fn;
}

function cookie(name) {
  const hit = document.cookie.split('; ').find((part) => part.startsWith(`${name}=`));
  return hit ? decodeURIComponent(hit.slice(name.length + 1)) : null;
}

/** The device's routing key for a reverse proxy with several workers (deploy/, backend/deploy.py): a
 * random value that keeps this device's REST calls and live connection on one worker. It says nothing
 * about the user and is the same before and after login. */
export function ensureRouteCookie() {
  if (cookie('ecabinet_route')) return;
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  const value = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  const secure = window.location.protocol === 'https:' ? '; Secure' : '';
  document.cookie = `ecabinet_route=${value}; Path=/; Max-Age=31536000; SameSite=Lax${secure}`;
}
ensureRouteCookie();

/** One API call. `rawType` sends `body` as is (a File) with that Content-Type instead of JSON; a FormData
 * body goes as multipart/form-data (the browser writes the boundary). */
export async function request(method, path, body, rawType) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined && rawType) {
    headers['Content-Type'] = rawType;
    init.body = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (UNSAFE.has(method)) {
    // Over HTTPS the cookie is a __Host- cookie (see backend/services/auth.py cookie_name).
    const token = csrfToken || cookie('__Host-ecabinet_csrf') || cookie('ecabinet_csrf');
    if (token) headers['X-CSRF-Token'] = token;
  }
  let res;
  try {
    res = await fetch(API_BASE + path, init);
  } catch (exc) {
    throw new ApiError(0, 'network', String(exc && exc.message ? exc.message : exc));
  }
  const text = res.status === 204 ? '' : await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    const retry = Number(res.headers.get('Retry-After')) || null;
    const error = new ApiError(res.status, err.code || `http_${res.status}`, err.message || res.statusText,
      err.details || null, retry);
    if (res.status === 401 && error.code === 'device_revoked' && revokedHandler) revokedHandler(error);
    if (res.status === 401 && path !== '/auth/login' && unauthorizedHandler) unauthorizedHandler(error);
    throw error;
  }
  if (contactHandler) contactHandler(res.headers.get('date'));
  return data;
}

/** Whether the server lets this app show a file in an <iframe>: a HEAD request reads the answer's
 * `frame-ancestors` / `X-Frame-Options` (framing a refused document would be a CSP violation and an
 * empty grey box). False on any doubt. */
export async function framable(url) {
  let res;
  try {
    res = await fetch(url, { method: 'HEAD', credentials: 'same-origin', cache: 'no-store' });
  } catch {
    return false;
  }
  if (!res.ok) return false;
  const xfo = (res.headers.get('x-frame-options') || '').trim().toLowerCase();
  const csp = res.headers.get('content-security-policy') || '';
  // Several policies arrive joined by commas: each one's frame-ancestors must allow 'self'.
  const ancestors = [...csp.matchAll(/(?:^|[;,])\s*frame-ancestors([^;,]*)/gi)].map((m) => m[1]);
  if (ancestors.length) return ancestors.every((list) => /'self'/i.test(list)); // X-Frame-Options is then ignored
  return xfo === '' || xfo === 'sameorigin';
}

function documentForm(file, fields) {
  const form = new FormData();
  Object.entries(fields).forEach(([key, value]) => {
    if (value === undefined || value === null || value === '') return;
    form.append(key, Array.isArray(value) ? value.join(',') : String(value));
  });
  form.append('file', file, file.name || 'document.pdf');
  return form;
}

const get = (path) => request('GET', path);
const post = (path, body) => request('POST', path, body);
const enc = encodeURIComponent;

export const api = {
  async login(username, password) {
    const out = await post('/auth/login', { username, password });
    setCsrfToken(out.csrf_token);
    return out;
  },
  async logout() {
    try {
      await post('/auth/logout');
    } finally {
      setCsrfToken(null);
    }
  },
  async me() {
    const out = await get('/auth/me');
    setCsrfToken(out.csrf_token);
    return out;
  },
  /** Where the meeting's video bridge signals: the web server's own path, or its relay's. */
  bridgeRelay: (meetingId) => get(`/meetings/${meetingId}/bridge/relay`),
  // Devices: this browser's store key and offline time, my devices, anyone's (administrators), revoke.
  thisDevice: () => get('/me/device'),
  myDevices: () => get('/me/devices'),
  userDevices: (userId) => get(`/users/${enc(userId)}/devices`),
  user: (userId) => get(`/users/${enc(userId)}`),
  revokeDevice: (deviceId) => post(`/devices/${enc(deviceId)}/revoke`),
  changePassword: (current_password, new_password) => post('/auth/password', { current_password, new_password }),
  // Resolutions and minutes, signing credentials, verification.
  polls: (meetingId) => get(`/meetings/${enc(meetingId)}/polls`),
  records: (meetingId) => get(`/meetings/${enc(meetingId)}/records`),
  createRecord: (meetingId, data) => post(`/meetings/${enc(meetingId)}/records`, data),
  record: (id) => get(`/records/${enc(id)}`),
  updateRecord: (id, changes) => request('PATCH', `/records/${enc(id)}`, changes),
  discardRecord: (id) => request('DELETE', `/records/${enc(id)}`),
  reviewRecord: (id, credential_id, secret) => post(`/records/${enc(id)}/review`, { credential_id, secret }),
  signRecord: (id, credential_id, secret) => post(`/records/${enc(id)}/sign`, { credential_id, secret }),
  publishRecord: (id) => post(`/records/${enc(id)}/publish`),
  recordVerification: (id) => get(`/records/${enc(id)}/verification`),
  recordPdfUrl: (id) => `${API_BASE}/records/${enc(id)}/pdf`,
  credentials: () => get('/me/credentials'),
  signatureImageUrl: () => `${API_BASE}/me/signature-image`,
  setSignatureImage: (file) => request('PUT', '/me/signature-image', file, 'image/png'),
  clearSignatureImage: () => request('DELETE', '/me/signature-image'),
  // My notifications (GET /api/me/notifications).
  notifications: (before) => get(`/me/notifications${before ? `?before=${enc(before)}` : ''}`),
  unreadNotifications: () => get('/me/notifications/unread'),
  readNotification: (id) => post(`/me/notifications/${enc(id)}/read`),
  readAllNotifications: () => post('/me/notifications/read'),
  // Opinion rounds.
  round: (meetingId) => get(`/meetings/${enc(meetingId)}/opinion-round`),
  configureRound: (meetingId, data) => request('PUT', `/meetings/${enc(meetingId)}/opinion-round`, data),
  submitBallot: (meetingId, data) => post(`/meetings/${enc(meetingId)}/opinion-round/ballot`, data),
  withdrawBallot: (meetingId) => request('DELETE', `/meetings/${enc(meetingId)}/opinion-round/ballot`),
  remindRound: (meetingId) => post(`/meetings/${enc(meetingId)}/opinion-round/remind`),
  closeRound: (meetingId) => post(`/meetings/${enc(meetingId)}/opinion-round/close`),
  positions: (meetingId) => get(`/meetings/${enc(meetingId)}/positions`),
  statePosition: (meetingId, data) => request('PUT', `/meetings/${enc(meetingId)}/positions`, data),
  adoptUnopposed: (meetingId) => post(`/meetings/${enc(meetingId)}/positions/adopt`),
  roundReportUrl: (meetingId) => `${API_BASE}/meetings/${enc(meetingId)}/opinion-round/report`,
  verifyPdf: (file) => request('POST', '/verify', file, 'application/pdf'),
  // Meeting documents, annotations, the meeting book, search and leak tracing.
  documents: (meetingId) => get(`/meetings/${enc(meetingId)}/documents`),
  document: (id) => get(`/documents/${enc(id)}`),
  /** fields: {title, agenda_item_id, audience, secret, readers: [ids]} and the File. */
  uploadDocument: (meetingId, file, fields = {}) => post(`/meetings/${enc(meetingId)}/documents`, documentForm(file, fields)),
  uploadVersion: (id, file) => post(`/documents/${enc(id)}/versions`, documentForm(file, {})),
  updateDocument: (id, changes) => request('PATCH', `/documents/${enc(id)}`, changes),
  removeDocument: (id) => request('DELETE', `/documents/${enc(id)}`),
  documentCopies: (id) => get(`/documents/${enc(id)}/copies`),
  meUrl: () => `${API_BASE}/auth/me`,
  documentUrl: (id) => `${API_BASE}/documents/${enc(id)}`,
  annotationsUrl: (id) => `${API_BASE}/documents/${enc(id)}/annotations`,
  documentViewUrl: (id, version) => `${API_BASE}/documents/${enc(id)}/view${version ? `?version=${enc(version)}` : ''}`,
  documentDownloadUrl: (id, version) => `${API_BASE}/documents/${enc(id)}/download${version ? `?version=${enc(version)}` : ''}`,
  annotatedCopyUrl: (id) => `${API_BASE}/documents/${enc(id)}/annotated`,
  meetingBookUrl: (meetingId) => `${API_BASE}/meetings/${enc(meetingId)}/book`,
  annotations: (id) => get(`/documents/${enc(id)}/annotations`),
  search: ({ q, meetingId, documentId, limit }) => get(`/search?${new URLSearchParams(Object.entries({
    q, meeting_id: meetingId, document_id: documentId, limit,
  }).filter(([, v]) => v !== undefined && v !== null && v !== ''))}`),
  trace: (file) => request('POST', '/trace', file, 'application/pdf'),
  users: () => get('/users'),
  bodies: () => get('/bodies'),
  meetings: () => get('/meetings'),
  meeting: (id) => get(`/meetings/${enc(id)}`),
  createMeeting: (data) => post('/meetings', data),
  updateMeeting: (id, changes) => request('PATCH', `/meetings/${enc(id)}`, changes),
  transition: (id, action) => post(`/meetings/${enc(id)}/transitions`, { action }),
  addParticipant: (id, data) => post(`/meetings/${enc(id)}/participants`, data),
  updateParticipant: (id, participantId, changes) => request('PATCH', `/meetings/${enc(id)}/participants/${enc(participantId)}`, changes),
  removeParticipant: (id, participantId) => request('DELETE', `/meetings/${enc(id)}/participants/${enc(participantId)}`),
  /** Invite a group at once: { source: 'body' | 'group' | 'meeting', role, group_id, meeting_id }. */
  inviteGroup: (id, data) => post(`/meetings/${enc(id)}/participants/groups`, data),
  savedGroups: () => get('/participant-groups'),
  saveGroup: (data) => post('/participant-groups', data),
  deleteGroup: (groupId) => request('DELETE', `/participant-groups/${enc(groupId)}`),
  /** Active accounts not yet taking part (for whoever manages the participants, the chair included). */
  candidates: (id, q = '') => get(`/meetings/${enc(id)}/candidates${q ? `?q=${enc(q)}` : ''}`),
  addAgendaItem: (id, data) => post(`/meetings/${enc(id)}/agenda`, data),
  updateAgendaItem: (id, itemId, changes) => request('PATCH', `/meetings/${enc(id)}/agenda/${enc(itemId)}`, changes),
  deleteAgendaItem: (id, itemId) => request('DELETE', `/meetings/${enc(id)}/agenda/${enc(itemId)}`),
  reorderAgenda: (id, itemIds) => request('PUT', `/meetings/${enc(id)}/agenda/order`, { item_ids: itemIds }),
};
