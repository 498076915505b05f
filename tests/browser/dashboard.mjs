// End-to-end dashboard test: ictal serve + ictal replay of data/chb05_06_excerpt.edf
// at 10x real time, driven in Debian's headless Chromium through playwright-core.
// The alarm must appear on the dashboard, be acknowledged there, and be stored.
// Usage: node dashboard.mjs ICTAL_BINARY SOURCE_DIR SCREENSHOT_PATH
import { spawn } from 'node:child_process';
import { readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, launchPersistent, watch, sleep } from './harness.mjs';

const [ictal, src, shot] = process.argv.slice(2);
const h = await startServer(ictal, src, { timeoutS: 90 });
const { fail, base, token, children } = h;
const port = h.port;
const api = async (path) => {
  const r = await h.api('GET', path);
  return { status: r.status, body: r.body };
};
const cleanup = h.cleanup;

const browser = await launchPersistent(h);
const page = await browser.newPage();
const errors = [];
watch(page, errors);

// Sign-in with a user name and password (the account made over the API by the admin).
const created = await fetch(base + '/api/users', {
  method: 'POST', headers: { Authorization: `Bearer ${token}` },
  body: JSON.stringify({ username: 'dr-e2e', password: 'ward three night shift', role: 'clinician' }),
});
if (created.status !== 201) await fail(`POST /api/users answered ${created.status}`);
await page.goto(`${base}/`);
await page.waitForSelector('#signin:not([hidden])', { timeout: 10000 });
if (await page.locator('main').isVisible()) await fail('the dashboard shows before signing in');
// A wrong password is refused on the form, and nothing goes live.
await page.fill('#login-user', 'dr-e2e');
await page.fill('#login-password', 'not the password');
await page.click('#login button[type=submit]');
await page.waitForFunction(() => document.querySelector('#login-error').textContent.length > 0, null, { timeout: 10000 });
const loginError = await page.locator('#login-error').textContent();
if (!loginError.includes('wrong user name or password')) await fail(`sign-in error "${loginError}"`);
if (await page.locator('#conn.ok').count()) await fail('live after a wrong password');
await page.screenshot({ path: shot.replace(/\.png$/, '-signin.png') });
await page.fill('#login-password', 'ward three night shift');
await page.click('#login button[type=submit]');
await page.waitForSelector('#conn.ok', { timeout: 10000 });
const who = await page.locator('#whoami').textContent();
if (who !== 'dr-e2e (clinician)') await fail(`signed in as "${who}"`);
if (!(await page.locator('main').isVisible())) await fail('the dashboard is hidden after signing in');
const session = await page.evaluate(() => localStorage.getItem('ictal-token'));
const asSession = await fetch(base + '/api/alarms', { headers: { Authorization: `Bearer ${session}` } });
if (asSession.status !== 200) await fail(`the session token answered ${asSession.status} on /api/alarms`);
// Sign out: back to the form, and the session token is revoked on the server.
await page.click('#signout');
await page.waitForSelector('#signin:not([hidden])', { timeout: 5000 });
const revoked = await fetch(base + '/api/alarms', { headers: { Authorization: `Bearer ${session}` } });
if (revoked.status !== 401) await fail(`a signed-out session token answered ${revoked.status}`);
if (await page.evaluate(() => localStorage.getItem('ictal-token')) !== null) await fail('the token stayed in localStorage');
// Signed in again, then disabled by the admin: the server ends the live connection's
// session and the page goes back to the form by itself.
await page.fill('#login-user', 'dr-e2e');
await page.fill('#login-password', 'ward three night shift');
await page.click('#login button[type=submit]');
await page.waitForSelector('#conn.ok', { timeout: 10000 });
const disabled = await fetch(base + '/api/users/dr-e2e', { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } });
if (disabled.status !== 200) await fail(`DELETE /api/users/dr-e2e answered ${disabled.status}`);
await page.waitForSelector('#signin:not([hidden])', { timeout: 5000 });
if (await page.locator('#conn.ok').count()) await fail('still live after the user was disabled');

// The admin API token in the URL fragment (as scripts/run.sh prints) still works.
await page.goto(`${base}/#token=${token}`);
await page.waitForSelector('#conn.ok', { timeout: 10000 });

const replay = spawn(ictal, ['replay', join(src, 'data/chb05_06_excerpt.edf'), '--url', `ws://127.0.0.1:${port}`,
  '--speed', '10', '--device-prefix', 'e2e', '--quiet'], { stdio: ['ignore', 'ignore', 'inherit'] });
children.push(replay);

// Nothing selected: only the placeholder, no empty trace pane.
if (await page.locator('#traces').isVisible()) await fail('the live trace pane shows before a device is selected');
// The device appears; open it to see its live traces.
const dev = page.locator('#devices li[data-device="e2e-0"]');
await dev.waitFor({ timeout: 15000 });
await dev.click();
if (!(await page.locator('#traces').isVisible())) await fail('the live trace pane is hidden after selecting a device');
// The alarm arrives: a badge on the device and a row in the alarm list.
await page.waitForSelector('#devices li[data-device="e2e-0"] .badge:not(.zero)', { timeout: 30000 });
const row = page.locator('#alarms tbody tr.raised').first();
await row.waitFor({ timeout: 5000 });
const alarmId = parseInt(await row.getAttribute('data-alarm-id'), 10);
const badge = await page.locator('#devices li[data-device="e2e-0"] .badge').textContent();
if (badge.trim() !== '1') await fail(`badge shows "${badge}", expected 1`);
// Let the traces and timeline fill a little, then acknowledge.
await sleep(1500);
await row.locator('button.ack').click();
await page.waitForSelector(`#alarms tbody tr[data-alarm-id="${alarmId}"].acked`, { timeout: 5000 });
const stateText = await page.locator(`#alarms tbody tr[data-alarm-id="${alarmId}"] .state`).textContent();
if (!stateText.includes('acknowledged by admin')) await fail(`state "${stateText}"`);
await page.waitForSelector('#devices li[data-device="e2e-0"] .badge.zero', { timeout: 5000 });
await page.screenshot({ path: shot, fullPage: true });

// Stored: the API says so.
const { status, body } = await api(`/api/alarms/${alarmId}`);
if (status !== 200 || !body.acked_at || body.acked_by !== 'admin') await fail(`stored alarm ${JSON.stringify(body)}`);
// The traces were drawn: the canvas has ink.
const ink = await page.evaluate(() => {
  const c = document.querySelector('#traces');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) n += d[i] > 0;
  return n;
});
if (ink < 2000) await fail(`the trace canvas is nearly empty (${ink} pixels)`);
const timelinePoints = await page.evaluate(() => document.querySelectorAll('#timeline canvas').length);
if (timelinePoints < 1) await fail('no timeline plot');

// After the replay ends: review the past session (its whole timeline from the hop log,
// its alarm shaded and listed, the EDF+ link).
if (replay.exitCode === null) await new Promise((r) => replay.once('exit', r));
if (replay.exitCode !== 0) await fail(`replay exited with ${replay.exitCode}`);
const { body: sessions } = await api('/api/sessions?device=e2e-0');
const sid = sessions[0]?.id;
const { body: hist } = await api(`/api/sessions/${sid}/history?max_points=100000`);
if (!(hist.hops > 300) || hist.points.length !== hist.hops) await fail(`history ${hist.hops} hops, ${hist.points?.length} points`);
await page.reload();
await page.waitForSelector('#conn.ok', { timeout: 10000 });
await page.locator(`#sessions tbody tr[data-session-id="${sid}"]`).click({ timeout: 10000 });
await page.waitForSelector('#review-timeline canvas', { timeout: 10000 });
await page.waitForSelector(`#review-alarms li[data-alarm-id="${alarmId}"]`, { timeout: 5000 });
const meta = await page.locator('#review-meta').textContent();
if (!meta.startsWith(`${hist.hops} hops`)) await fail(`review says "${meta}"`);
// The plot holds the decimated points and its peak is the session's peak.
const plotted = await page.evaluate(() => {
  const c = document.querySelector('#review-timeline canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let red = 0;
  for (let i = 0; i < d.length; i += 4) red += d[i] > 150 && d[i + 1] < 80 && d[i + 3] > 200;
  return red;
});
if (plotted < 200) await fail(`the review timeline has no probability trace (${plotted} red pixels)`);
if (!(await page.locator('#review-edf').isVisible())) await fail('no EDF+ link in the review');
// The review replaces the live pane (no empty trace canvas above it).
if (await page.locator('#traces').isVisible()) await fail('the live trace pane shows during a review');
await page.screenshot({ path: shot.replace(/\.png$/, '-review.png'), fullPage: true });
await page.locator('#review-close').click();
if (await page.locator('#review').isVisible()) await fail('Close left the review open');
if (!(await page.locator('#placeholder').isVisible())) await fail('Close did not go back to the placeholder');

// A session whose files this server does not hold (a worker sharing the database with
// the one that stored it): the review says why it has no timeline, and still lists the
// session's alarms, instead of showing an empty chart or nothing.
const sessionFiles = readdirSync(join(h.dataDir, 'sessions'))
  .filter((f) => f.startsWith(`${sid}.`)).map((f) => join(h.dataDir, 'sessions', f));
for (const f of sessionFiles) renameSync(f, `${f}.away`);
await page.locator(`#sessions tbody tr[data-session-id="${sid}"]`).click({ timeout: 10000 });
await page.waitForSelector(`#review-alarms li[data-alarm-id="${alarmId}"]`, { timeout: 5000 });
const awayMeta = await page.locator('#review-meta').textContent();
if (!/no timeline: .*another worker/.test(awayMeta)) await fail(`review of a session stored elsewhere says "${awayMeta}"`);
if (await page.locator('#review-timeline canvas').count()) await fail('a timeline is drawn for a session stored elsewhere');
if (await page.locator('#review-edf').isVisible()) await fail('an EDF+ link for a session stored elsewhere');
for (const f of sessionFiles) renameSync(`${f}.away`, f);
await page.locator('#review-close').click();
if (errors.length) await fail(`page errors: ${errors.join('; ')}`);
console.log(`ok: signed in and out as dr-e2e, signed out when disabled; alarm ${alarmId} shown, acknowledged on the dashboard and stored; past session ${sid} reviewed (${hist.hops} hops), and without its files; screenshot ${shot}`);
cleanup(0);
