// ictal dashboard: live devices, traces, probability timeline, alarms, past sessions.
// Plain ES module; talks to `ictal serve` over its HTTP API (bearer token) and the
// dashboard WebSocket (subprotocol ictal-dashboard-v1, docs/protocol.md).
import uPlot from './node_modules/uplot/dist/uPlot.esm.js';

const PAGE_S = 10;            // trace page length
const UV_PER_LANE = 200;      // µV spanned by one channel lane
const TIMELINE_S = 600;       // probability / burden history shown

const $ = (sel) => document.querySelector(sel);
const state = {
  token: null, role: 'none', name: '', ws: null, devices: new Map(), selected: null,
  traces: null, hops: [], threshold: null, alarms: new Map(), plot: null,
};

// --- auth -------------------------------------------------------------------------
// People sign in with a user name and password (POST /api/login) for a session token;
// an API token works too (the #token= fragment or the token field). Either is kept in
// localStorage and sent as the bearer token and in the WebSocket's auth message.
function readToken() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    localStorage.setItem('ictal-token', decodeURIComponent(m[1]));
    localStorage.setItem('ictal-token-kind', 'api');
    history.replaceState(null, '', location.pathname);
  }
  return localStorage.getItem('ictal-token');
}

// A request whose refusal the caller shows (forms): never throws for an HTTP status.
// Returns { ok, status, body, retryAfter }; 401 still signs out.
async function send(method, path, body) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 401) { signedOut(); throw new Error('unauthorized'); }
  const data = await r.json().catch(() => ({}));
  return { ok: r.ok, status: r.status, body: data, retryAfter: parseInt(r.headers.get('Retry-After') || '0', 10) };
}

// The server's refusal in words: its own message, with how long to wait when it says.
function problem(res) {
  const msg = res.body?.error || `HTTP ${res.status}`;
  if (res.status === 429) return `${msg} (wait ${res.retryAfter || 60} s)`;
  if (res.status === 503) return `The server is busy checking passwords: try again in ${res.retryAfter || 1} s.`;
  return msg;
}

async function api(path, opts = {}) {
  const r = await fetch(path, {
    ...opts, headers: { Authorization: `Bearer ${state.token}`, ...(opts.headers || {}) },
  });
  if (r.status === 401) { signedOut(); throw new Error('unauthorized'); }
  const isJson = (r.headers.get('content-type') || '').includes('json');
  const body = isJson ? await r.json() : await r.blob();
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

// The token no longer counts (signed out elsewhere, user disabled, session expired):
// forget it, stop the live connection, show the sign-in form.
function signedOut() {
  localStorage.removeItem('ictal-token');
  localStorage.removeItem('ictal-token-kind');
  state.token = null;
  if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; }
  setConn('sign in', 'bad');
  $('#whoami').textContent = '';
  showLogin();
}

function showLogin() {
  $('#signin').hidden = false;
  $('main').hidden = true;
  $('#signout').hidden = true;
  showAccount(false);
  $('#account-toggle').hidden = true;
  $('#login-user').focus();
}

function useToken(token, kind) {
  localStorage.setItem('ictal-token', token);
  localStorage.setItem('ictal-token-kind', kind);
  location.reload();
}

$('#login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const err = $('#login-error');
  err.textContent = '';
  try {
    const r = await fetch('/api/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: $('#login-user').value.trim(), password: $('#login-password').value }),
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) { err.textContent = body.error || `sign-in failed (HTTP ${r.status})`; return; }
    useToken(body.token, 'session');
  } catch (ex) {
    err.textContent = `sign-in failed: ${ex.message}`;
  }
});

$('#token-login').addEventListener('submit', (e) => {
  e.preventDefault();
  useToken($('#token-input').value.trim(), 'api');
});

// Sign out ends a sign-in session on the server; an API token is only forgotten here.
$('#signout').addEventListener('click', async () => {
  if (localStorage.getItem('ictal-token-kind') === 'session') {
    try { await fetch('/api/logout', { method: 'POST', headers: { Authorization: `Bearer ${state.token}` } }); } catch (e) { console.warn(e); }
  }
  signedOut();
});

// --- live connection ----------------------------------------------------------------
function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}/dashboard`, 'ictal-dashboard-v1');
  state.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: state.token }));
  ws.onclose = () => {
    setConn('disconnected', 'bad');
    setTimeout(connect, 1000);
  };
  ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
}

function setConn(text, cls) {
  const el = $('#conn');
  el.textContent = text;
  el.className = `pill ${cls || ''}`;
}

function onMessage(m) {
  switch (m.type) {
    case 'auth':
      state.role = m.role;
      state.name = m.name;
      $('#whoami').textContent = m.role === 'none' ? '' : `${m.name} (${m.role})`;
      if (m.role === 'none') { signedOut(); return; }
      setConn('live', 'ok');
      $('main').hidden = false;
      $('#signin').hidden = true;
      $('#signout').hidden = false;
      $('#account-toggle').hidden = false;
      renderAccount();
      if (state.selected) subscribe(state.selected);
      loadAlarms();
      loadSessions();
      break;
    case 'status':
      for (const d of m.devices) state.devices.set(d.device_id, d);
      renderDevices();
      break;
    case 'alarm':
      state.alarms.set(m.alarm.id, m.alarm);
      renderAlarms();
      break;
    case 'subscribed':
      startTraces(m);
      state.hops = (m.history || []).map(([t, p, b]) => ({ t, p, b }));
      drawTimeline();
      break;
    case 'samples':
      if (m.device === state.selected) pushSamples(m);
      break;
    case 'hop':
      if (m.device !== state.selected) break;
      state.threshold = m.threshold;
      renderQuality(m);
      state.hops.push({ t: m.t_s, p: m.prob, b: m.burden });
      if (state.hops.length > TIMELINE_S * 2) state.hops.shift();
      scheduleTimeline();
      break;
  }
}

// --- devices ----------------------------------------------------------------------------
function renderDevices() {
  const ul = $('#devices');
  ul.replaceChildren();
  for (const d of [...state.devices.values()].sort((a, b) => a.device_id.localeCompare(b.device_id))) {
    const li = document.createElement('li');
    li.dataset.device = d.device_id;
    if (d.device_id === state.selected) li.classList.add('selected');
    const q = Math.round(100 * (d.signal_quality || 0));
    li.innerHTML = `<span><span class="name"></span> <span class="${d.connected ? '' : 'off'}">${d.connected ? '' : '(offline)'}</span><br>
      <span class="quality">signal ${q}% · <span class="${d.state === 'alarm' ? 'state-alarm' : ''}">${d.state}</span>${d.prob != null ? ` · p ${d.prob.toFixed(2)}` : ''}</span></span>
      <span class="badge ${d.open_alarms ? '' : 'zero'}" title="unacknowledged alarms">${d.open_alarms}</span>`;
    li.querySelector('.name').textContent = d.device_id;
    li.onclick = () => subscribe(d.device_id);
    ul.appendChild(li);
  }
  const d = state.devices.get(state.selected);
  if (d) {
    $('#dev-meta').textContent = `session ${d.session_id} · ${d.n_channels} channels at ${d.rate_hz} Hz · firmware ${d.firmware} · ${d.frames} frames`;
  }
}

// Per-channel signal quality of the selected device: libictal's ICTAL_Q_* flags.
const QUALITY_FLAGS = ['NaN', 'flat', 'clipped', 'jump', 'drift', 'movement', 'muscle', 'settling', 'disconnected'];
function renderQuality(hop) {
  const labels = state.traces?.labels || [];
  const el = $('#dev-quality');
  el.replaceChildren();
  hop.quality.forEach((q, c) => {
    const span = document.createElement('span');
    const flags = QUALITY_FLAGS.filter((_, bit) => q & (1 << bit));
    span.className = `chq ${q ? 'bad' : 'good'}`;
    span.textContent = `${labels[c] || c} ${hop.rms_uv[c].toFixed(0)} µV${flags.length ? ` (${flags.join(', ')})` : ''}`;
    el.appendChild(span);
  });
}

// The detail pane shows one thing at a time: the live view of the selected device, the
// review of a past session, or the placeholder.
function showPane(which) {
  $('#placeholder').hidden = which !== 'none';
  $('#live').hidden = which !== 'live';
  $('#review').hidden = which !== 'review';
}

function subscribe(id) {
  state.selected = id;
  showPane('live');
  $('#dev-title').textContent = id;
  state.ws?.readyState === 1 && state.ws.send(JSON.stringify({ type: 'subscribe', device: id }));
  renderDevices();
}

// --- traces: a 10 s page per channel, stacked lanes in µV ----------------------------------
function startTraces(m) {
  state.traces = { labels: m.labels, rate: 0, t0: null, data: m.labels.map(() => []) };
  drawTraces();
}

function pushSamples(m) {
  const tr = state.traces;
  if (!tr) return;
  tr.rate = m.rate_hz;
  const n = m.data[0]?.length || 0;
  m.data.forEach((ch, c) => { tr.data[c].push(...ch); });
  tr.tEnd = m.t_s + n / m.rate_hz;
  const keep = Math.round(PAGE_S * m.rate_hz);
  for (const ch of tr.data) if (ch.length > keep) ch.splice(0, ch.length - keep);
  scheduleTraces();
}

let tracePending = false;
function scheduleTraces() {
  if (!tracePending) { tracePending = true; requestAnimationFrame(() => { tracePending = false; drawTraces(); }); }
}

function drawTraces() {
  const cv = $('#traces'), g = cv.getContext('2d'), tr = state.traces;
  g.clearRect(0, 0, cv.width, cv.height);
  if (!tr) return;
  const n = tr.labels.length, lane = cv.height / n, left = 80;
  const keep = Math.max(1, Math.round(PAGE_S * (tr.rate || 128)));
  const dx = (cv.width - left) / keep;
  g.font = '11px system-ui';
  for (let c = 0; c < n; c++) {
    const y0 = lane * (c + 0.5), ch = tr.data[c];
    g.fillStyle = '#333';
    g.fillText(tr.labels[c], 4, y0 + 4);
    g.strokeStyle = '#1d4f91';
    g.lineWidth = 1;
    g.beginPath();
    const off = keep - ch.length;
    for (let i = 0; i < ch.length; i++) {
      const x = left + (off + i) * dx, y = y0 - (ch[i] / UV_PER_LANE) * lane;
      i ? g.lineTo(x, y) : g.moveTo(x, y);
    }
    g.stroke();
  }
  // Scale bar: one lane = UV_PER_LANE µV, and the page length.
  g.fillStyle = '#b3261e';
  g.fillRect(cv.width - 12, 10, 3, lane);
  g.fillText(`${UV_PER_LANE} µV`, cv.width - 60, 10 + lane / 2);
  g.fillText(`${PAGE_S} s page${tr.tEnd ? `, t = ${tr.tEnd.toFixed(1)} s` : ''}`, left, cv.height - 4);
}

// --- probability and burden timeline (uPlot) ----------------------------------------------
let timelinePending = false;
function scheduleTimeline() {
  if (!timelinePending) { timelinePending = true; setTimeout(() => { timelinePending = false; drawTimeline(); }, 250); }
}

function shadeDetections(u) {
  // Shade the spans of the selected device's alarms (onset to offset, or to now).
  const { ctx } = u, top = u.bbox.top, h = u.bbox.height;
  ctx.save();
  ctx.fillStyle = 'rgba(179, 38, 30, 0.15)';
  for (const a of state.alarms.values()) {
    if (a.device_id !== state.selected) continue;
    const end = a.offset_s ?? (state.hops.at(-1)?.t ?? a.onset_s);
    const x0 = u.valToPos(a.onset_s, 'x', true), x1 = u.valToPos(end, 'x', true);
    ctx.fillRect(x0, top, Math.max(2, x1 - x0), h);
  }
  ctx.restore();
}

function drawTimeline() {
  const hops = state.hops;
  const t = hops.map((h) => h.t), p = hops.map((h) => h.p), b = hops.map((h) => h.b);
  const th = hops.map(() => state.threshold);
  const data = [t, p, b, th];
  if (!state.plot) {
    state.plot = new uPlot({
      width: 1100, height: 200,
      scales: { x: { time: false }, y: { range: [0, 1] } },
      axes: [{ label: 'session time (s)' }, { label: 'probability / burden' }],
      series: [{}, { label: 'seizure probability', stroke: '#b3261e', width: 1.5 },
        { label: 'burden (5 min)', stroke: '#1d4f91', width: 1 },
        { label: 'threshold', stroke: '#888', dash: [4, 4], width: 1 }],
      hooks: { drawClear: [shadeDetections] },
    }, data, $('#timeline'));
  } else {
    state.plot.setData(data);
  }
}

// --- alarms -----------------------------------------------------------------------------------
async function loadAlarms() {
  try {
    for (const a of await api('/api/alarms?limit=200')) state.alarms.set(a.id, a);
    renderAlarms();
  } catch (e) { console.warn(e); }
}

function renderAlarms() {
  const tb = $('#alarms tbody');
  tb.replaceChildren();
  const list = [...state.alarms.values()].sort((a, b) => b.id - a.id);
  for (const a of list) {
    const tr = document.createElement('tr');
    tr.dataset.alarmId = a.id;
    tr.className = a.acked_at ? 'acked' : 'raised';
    const acked = a.acked_at ? `acknowledged by ${a.acked_by}` : a.state;
    tr.innerHTML = `<td>${a.id}</td><td class="dev"></td><td>${a.onset_s.toFixed(1)} s</td>
      <td>${(a.peak_prob ?? 0).toFixed(2)}</td><td class="state">${acked}</td><td class="chans"></td><td></td>`;
    tr.querySelector('.dev').textContent = a.device_id;
    tr.querySelector('.chans').textContent = (a.channels || []).join(' ');
    if (!a.acked_at) {
      const btn = document.createElement('button');
      btn.className = 'ack';
      btn.textContent = 'Acknowledge';
      btn.disabled = !(state.role === 'clinician' || state.role === 'admin');
      btn.onclick = () => ackAlarm(a.id, btn);
      tr.lastElementChild.appendChild(btn);
    }
    tb.appendChild(tr);
  }
  if (state.plot) state.plot.redraw();
}

async function ackAlarm(id, btn) {
  btn.disabled = true;
  try {
    const a = await api(`/api/alarms/${id}/ack`, { method: 'POST', body: JSON.stringify({ note: 'acknowledged on the dashboard' }), headers: { 'Content-Type': 'application/json' } });
    state.alarms.set(a.id, a);
    renderAlarms();
  } catch (e) {
    btn.disabled = false;
    alert(`Could not acknowledge: ${e.message}`);
  }
}

// --- past sessions --------------------------------------------------------------------------
async function loadSessions() {
  try {
    const rows = await api('/api/sessions?limit=50');
    const tb = $('#sessions tbody');
    tb.replaceChildren();
    for (const s of rows) {
      const tr = document.createElement('tr');
      const start = new Date(s.start_time_us / 1000).toISOString().replace('T', ' ').slice(0, 19);
      tr.innerHTML = `<td>${s.id}</td><td class="dev"></td><td>${start}</td><td>${Math.round(s.duration_s)} s</td><td>${s.alarms}</td><td><a href="#">EDF+</a></td>`;
      tr.dataset.sessionId = s.id;
      tr.querySelector('.dev').textContent = s.device_id;
      tr.querySelector('a').onclick = (e) => { e.preventDefault(); e.stopPropagation(); downloadEdf(s.id); };
      tr.onclick = () => reviewSession(s);
      tb.appendChild(tr);
    }
  } catch (e) { console.warn(e); }
}

async function downloadEdf(id) {
  const blob = await api(`/api/sessions/${id}/recording.edf`);
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `session-${id}.edf`;
  a.click();
}

// Review of a past session: its whole timeline from the server's hop log, decimated
// there to about one point per pixel (each point the peak of its span), its alarms.
const review = { plot: null, alarms: [] };
function shadeReview(u) {
  const { ctx } = u, top = u.bbox.top, h = u.bbox.height;
  ctx.save();
  ctx.fillStyle = 'rgba(179, 38, 30, 0.15)';
  for (const a of review.alarms) {
    const x0 = u.valToPos(a.onset_s, 'x', true), x1 = u.valToPos(a.offset_s ?? u.scales.x.max, 'x', true);
    ctx.fillRect(x0, top, Math.max(2, x1 - x0), h);
  }
  ctx.restore();
}

// The session's timeline: probability and burden per point, the threshold, alarms shaded.
function plotReview(h) {
  const pts = h.points;
  const data = [pts.map((q) => q[0]), pts.map((q) => q[1]), pts.map((q) => q[2]), pts.map(() => h.threshold)];
  review.plot = new uPlot({
    width: 1100, height: 200,
    scales: { x: { time: false }, y: { range: [0, 1] } },
    axes: [{ label: 'session time (s)' }, { label: 'probability / burden' }],
    series: [{}, { label: 'seizure probability (peak per point)', stroke: '#b3261e', width: 1.5 },
      { label: 'burden (5 min)', stroke: '#1d4f91', width: 1 },
      { label: 'threshold', stroke: '#888', dash: [4, 4], width: 1 }],
    hooks: { drawClear: [shadeReview] },
  }, data, $('#review-timeline'));
}

async function reviewSession(s) {
  try {
    // The timeline can be refused while the alarms are not: with workers sharing one
    // database, a session's hop log is on the worker that stored it. Say so.
    let why = '';
    const [h, alarms] = await Promise.all([
      api(`/api/sessions/${s.id}/history?max_points=1100`).catch((e) => { why = e.message; return null; }),
      api(`/api/alarms?device=${encodeURIComponent(s.device_id)}&limit=1000`)]);
    review.alarms = alarms.filter((a) => a.session_id === s.id).sort((a, b) => a.onset_s - b.onset_s);
    showPane('review');
    $('#review-title').textContent = `Session ${s.id} · ${s.device_id}`;
    if (review.plot) { review.plot.destroy(); review.plot = null; }
    $('#review-meta').textContent = h
      ? `${h.hops} hops · ${Math.round(s.duration_s)} s · ${review.alarms.length} alarm(s)`
      : `${Math.round(s.duration_s)} s · ${review.alarms.length} alarm(s) · no timeline: ${why}`;
    $('#review-edf').hidden = !h;
    if (h) plotReview(h);
    const ul = $('#review-alarms');
    ul.replaceChildren();
    for (const a of review.alarms) {
      const li = document.createElement('li');
      li.dataset.alarmId = a.id;
      li.textContent = `alarm ${a.id}: ${a.onset_s.toFixed(1)}–${a.offset_s != null ? a.offset_s.toFixed(1) : '…'} s, peak p ${a.peak_prob.toFixed(2)}, ${a.acked_by ? `acknowledged by ${a.acked_by}` : a.state}`;
      ul.appendChild(li);
    }
    $('#review-edf').onclick = (e) => { e.preventDefault(); downloadEdf(s.id); };
  } catch (e) { console.warn(e); }
}

// Closing a review goes back to the device that was being watched, if any.
$('#review-close').addEventListener('click', () => showPane(state.selected ? 'live' : 'none'));

// --- account: my password; for admins, users and API tokens ---------------------------------
// Every refusal the server gives is shown as it says it (wrong current password, too
// short, throttled, last admin). The password policy is the server's (/api/health).
let policy = { min_length: 10, max_length: 1024 };
const isSession = () => localStorage.getItem('ictal-token-kind') === 'session';
const fmtTime = (s) => (s == null ? '—' : `${new Date(s * 1000).toISOString().replace('T', ' ').slice(0, 16)} UTC`);

function say(el, text, kind) {
  el.textContent = text;
  el.className = `msg ${kind || ''}`;
  // Errors interrupt a screen reader; confirmations wait their turn.
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
}

async function loadPolicy() {
  try {
    const h = await (await fetch('/api/health')).json();
    if (h.password_policy) policy = h.password_policy;
  } catch (e) { console.warn(e); }
  const text = `${policy.min_length} to ${policy.max_length} characters.`;
  $('#pw-policy').textContent = `${text} Your other sessions are signed out when it changes.`;
  $('#pw-set-hint').textContent = `${text} Every session of that user is signed out.`;
  $('#user-add-hint').textContent = `Name: letters, digits and . _ @ - (up to 64). Password: ${text}`;
}

function showAccount(open) {
  $('#account').hidden = !open;
  $('#account-toggle').setAttribute('aria-expanded', String(open));
  if (open) renderAccount();
}

$('#account-toggle').addEventListener('click', () => {
  const open = $('#account').hidden;
  showAccount(open);
  if (open) (isSession() ? $('#pw-current') : $('#account-title')).focus();
});

// Escape closes the panel and gives the focus back to its button.
$('#account').addEventListener('keydown', (e) => {
  if (e.key === 'Escape') { showAccount(false); $('#account-toggle').focus(); }
});

function renderAccount() {
  if ($('#account').hidden) return;
  const session = isSession();
  $('#pw-form').hidden = !session;
  $('#pw-self-none').hidden = session;
  $('#pw-user').value = state.name || '';
  const admin = state.role === 'admin';
  $('#admin').hidden = !admin;
  if (admin) { loadUsers(); loadTokens(); }
}

// The confirmation is checked here; the policy is the server's to check (and say).
const confirmProblem = (pw, confirm, what = 'new password') =>
  (pw === confirm ? null : `The ${what} and its confirmation differ.`);

// Runs a form's request; a failure to reach the server is said in msg too (a 401 has
// signed out already: nothing to say then).
async function guarded(msg, fn) {
  try { await fn(); } catch (ex) { if (state.token) say(msg, `The server could not be reached: ${ex.message}`, 'error'); }
}

$('#pw-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const msg = $('#pw-msg'), btn = e.submitter || $('#pw-form button');
  const cur = $('#pw-current').value, pw = $('#pw-new').value;
  const bad = confirmProblem(pw, $('#pw-confirm').value);
  if (bad) { say(msg, bad, 'error'); $('#pw-confirm').focus(); return; }
  btn.disabled = true;
  say(msg, 'Checking…');
  await guarded(msg, async () => {
    const res = await send('POST', `/api/users/${encodeURIComponent(state.name)}/password`,
      { current_password: cur, new_password: pw });
    if (res.ok) {
      $('#pw-form').reset();
      say(msg, 'Password changed. Your other sessions are signed out.', 'ok');
    } else {
      say(msg, problem(res), 'error');
      (res.status === 403 ? $('#pw-current') : $('#pw-new')).focus();
    }
  });
  btn.disabled = false;
});

async function loadUsers() {
  try {
    const res = await send('GET', '/api/users');
    if (!res.ok) { say($('#users-msg'), problem(res), 'error'); return; }
    renderUsers(res.body);
  } catch (e) { console.warn(e); }
}

// Disable and Revoke end sessions at once: the first press asks ("Confirm disable"),
// a second one within 5 s acts; otherwise the button goes back to what it was.
function twoStep(btn, what, act) {
  const label = btn.textContent, aria = btn.getAttribute('aria-label');
  let timer = null;
  btn.onclick = () => {
    if (timer === null) {
      btn.textContent = `Confirm ${label.toLowerCase()}`;
      btn.classList.add('confirm');
      btn.setAttribute('aria-label', `confirm: ${what}`);
      timer = setTimeout(() => {
        timer = null;
        btn.textContent = label;
        btn.classList.remove('confirm');
        btn.setAttribute('aria-label', aria);
      }, 5000);
      return;
    }
    clearTimeout(timer);
    timer = null;
    act();
  };
}

function renderUsers(users) {
  const tb = $('#users tbody');
  tb.replaceChildren();
  for (const u of users) {
    const tr = document.createElement('tr');
    tr.dataset.user = u.name;
    tr.className = u.disabled_at ? 'disabled' : '';
    tr.innerHTML = `<td class="name"></td><td></td><td class="state">${u.disabled_at ? `disabled ${fmtTime(u.disabled_at)}` : 'enabled'}</td>
      <td class="sessions">${u.sessions}</td><td>${u.password_changed_at ? fmtTime(u.password_changed_at) : 'never'}</td><td class="actions"></td>`;
    tr.querySelector('.name').textContent = u.name;
    const sel = document.createElement('select');
    sel.className = 'role';
    sel.setAttribute('aria-label', `role of ${u.name}`);
    for (const r of ['viewer', 'clinician', 'admin']) sel.add(new Option(r, r, false, r === u.role));
    const set = document.createElement('button');
    set.type = 'button';
    set.className = 'set-role';
    set.textContent = 'Set role';
    set.setAttribute('aria-label', `set the role of ${u.name}`);
    set.onclick = () => userAction(set, `/api/users/${encodeURIComponent(u.name)}/role`, 'POST', { role: sel.value },
      `${u.name} is now ${sel.value}.`);
    tr.children[1].append(sel, ' ', set);
    const toggle = document.createElement('button');
    toggle.type = 'button';
    toggle.className = u.disabled_at ? 'enable' : 'disable';
    toggle.textContent = u.disabled_at ? 'Enable' : 'Disable';
    toggle.setAttribute('aria-label', `${toggle.textContent.toLowerCase()} ${u.name}`);
    if (u.disabled_at) {
      toggle.onclick = () => userAction(toggle, `/api/users/${encodeURIComponent(u.name)}/enable`, 'POST', {}, `${u.name} may sign in again.`);
    } else {
      twoStep(toggle, `disable ${u.name} and sign it out`, () => userAction(toggle, `/api/users/${encodeURIComponent(u.name)}`, 'DELETE',
        undefined, `${u.name} is disabled and signed out.`));
    }
    tr.querySelector('.actions').append(toggle);
    tb.appendChild(tr);
  }
  // Setting a password here is for others: one's own takes the current one (above).
  const pick = $('#pw-set-user'), was = pick.value;
  pick.replaceChildren();
  for (const u of users) {
    if (isSession() && u.name.toLowerCase() === state.name.toLowerCase()) continue;
    pick.add(new Option(u.name + (u.disabled_at ? ' (disabled)' : ''), u.name, false, u.name === was));
  }
}

// One admin action on a user; the list is reloaded either way (a refused role change
// shows the stored role again).
async function userAction(btn, path, method, body, done) {
  const msg = $('#users-msg');
  btn.disabled = true;
  await guarded(msg, async () => {
    const res = await send(method, path, body);
    say(msg, res.ok ? done : problem(res), res.ok ? 'ok' : 'error');
    if (state.token && state.role === 'admin') await loadUsers();
  });
  btn.disabled = false;
}

$('#pw-set').addEventListener('submit', async (e) => {
  e.preventDefault();
  const msg = $('#users-msg'), name = $('#pw-set-user').value, pw = $('#pw-set-new').value;
  const bad = confirmProblem(pw, $('#pw-set-confirm').value);
  if (bad) { say(msg, bad, 'error'); $('#pw-set-confirm').focus(); return; }
  await guarded(msg, async () => {
    const res = await send('POST', `/api/users/${encodeURIComponent(name)}/password`, { new_password: pw });
    if (res.ok) {
      $('#pw-set').reset();
      say(msg, `Password of ${name} set; its sessions are signed out.`, 'ok');
      await loadUsers();
    } else {
      say(msg, problem(res), 'error');
      $('#pw-set-new').focus();
    }
  });
});

$('#user-add').addEventListener('submit', async (e) => {
  e.preventDefault();
  const msg = $('#users-msg'), name = $('#user-add-name').value.trim(), pw = $('#user-add-password').value;
  const bad = confirmProblem(pw, $('#user-add-confirm').value, 'password');
  if (bad) { say(msg, bad, 'error'); $('#user-add-confirm').focus(); return; }
  await guarded(msg, async () => {
    const res = await send('POST', '/api/users', { username: name, password: pw, role: $('#user-add-role').value });
    if (res.ok) {
      $('#user-add').reset();
      say(msg, `${res.body.name} added as ${res.body.role}.`, 'ok');
      await loadUsers();
    } else {
      say(msg, problem(res), 'error');
    }
  });
});

async function loadTokens() {
  try {
    const res = await send('GET', '/api/tokens');
    if (!res.ok) { say($('#tokens-msg'), problem(res), 'error'); return; }
    const tb = $('#tokens tbody');
    tb.replaceChildren();
    for (const t of res.body) {
      const tr = document.createElement('tr');
      tr.dataset.tokenId = t.id;
      tr.innerHTML = `<td class="name"></td><td>${t.role}</td><td>${fmtTime(t.created_at)}</td><td>${t.last_used_at ? fmtTime(t.last_used_at) : 'never'}</td>
        <td>${t.expires_at ? fmtTime(t.expires_at) : 'never'}</td><td></td>`;
      tr.querySelector('.name').textContent = t.name;
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'revoke';
      btn.textContent = 'Revoke';
      btn.setAttribute('aria-label', `revoke the token ${t.name}`);
      twoStep(btn, `revoke the token ${t.name}`, async () => {
        btn.disabled = true;
        await guarded($('#tokens-msg'), async () => {
          const r = await send('DELETE', `/api/tokens/${encodeURIComponent(t.id)}`);
          say($('#tokens-msg'), r.ok ? `Token ${t.name} revoked.` : problem(r), r.ok ? 'ok' : 'error');
          if (state.token) await loadTokens();
        });
        btn.disabled = false;
      });
      tr.lastElementChild.appendChild(btn);
      tb.appendChild(tr);
    }
  } catch (e) { console.warn(e); }
}

$('#token-create').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = { name: $('#token-name').value.trim(), role: $('#token-role').value };
  const ttl = $('#token-expiry').value;
  if (ttl) body.expires_in_s = Number(ttl);
  let res;
  await guarded($('#tokens-msg'), async () => { res = await send('POST', '/api/tokens', body); });
  if (!res) return;
  if (!res.ok) { say($('#tokens-msg'), problem(res), 'error'); return; }
  $('#token-create').reset();
  $('#token-secret').value = res.body.token;
  $('#token-new').hidden = false;
  $('#token-secret').focus();
  $('#token-secret').select();
  say($('#tokens-msg'), `Token ${res.body.name} created${res.body.expires_at ? `, expires ${fmtTime(res.body.expires_at)}` : ''}.`, 'ok');
  loadTokens();
});

$('#token-copy').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText($('#token-secret').value);
    say($('#tokens-msg'), 'Copied.', 'ok');
  } catch (e) {
    $('#token-secret').select();
    say($('#tokens-msg'), 'Select the token and copy it (Ctrl+C).', 'error');
  }
});

// Done forgets the secret: it is never shown again.
$('#token-done').addEventListener('click', () => {
  $('#token-secret').value = '';
  $('#token-new').hidden = true;
  $('#token-name').focus();
});

// A #token= link opened in a tab that is already on the dashboard.
window.addEventListener('hashchange', () => {
  if (/token=/.test(location.hash)) { readToken(); location.reload(); }
});

loadPolicy();
state.token = readToken();
if (!state.token) {
  setConn('sign in', 'bad');
  showLogin();
} else {
  $('main').hidden = false;
  $('#signout').hidden = false;
  connect();
  setInterval(() => state.token && loadSessions(), 15000);
}
