// End-to-end account management on the dashboard, in Debian's headless Chromium
// against a real `ictal serve`: an admin manages users (role, disable, enable, set a
// password, add) and API tokens (create, shown once; revoke), a clinician changes its
// own password. Each action once accepted and once refused by the server, the refusal
// shown on the page; after a password change the old password no longer signs in and
// the user's other sessions (another browser, an API client) are signed out.
// Usage: node accounts.mjs ICTAL_BINARY SOURCE_DIR SCREENSHOT_PATH
import { startServer, launch, watch, sleep } from './harness.mjs';

const [ictal, src, shot] = process.argv.slice(2);
const h = await startServer(ictal, src, { timeoutS: 120 });
const { api, fail, base } = h;
const errors = [];
const check = async (cond, msg) => { if (!cond) await fail(msg); };

const ADMIN_PW = 'north wing admin 2026';
const DR_PW = 'ward three night shift';
const DR_PW2 = 'ward four day shift!';
for (const [username, password, role] of [['ward-admin', ADMIN_PW, 'admin'], ['dr-a', DR_PW, 'clinician']]) {
  const r = await api('POST', '/api/users', { username, password, role });
  if (r.status !== 201) await fail(`POST /api/users ${username} answered ${r.status}`);
}

const browser = await launch(h);
async function signIn(user, password) {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 1100 } });
  const page = watch(await ctx.newPage(), errors);
  await page.goto(`${base}/`);
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#conn.ok', { timeout: 10000 });
  return page;
}
// Waits for the message line's text to contain want; returns it.
async function message(page, sel, want) {
  try {
    await page.waitForFunction(([s, w]) => document.querySelector(s).textContent.includes(w), [sel, want], { timeout: 10000 });
  } catch (e) {
    await fail(`${sel} says "${await page.locator(sel).textContent()}", expected "${want}"`);
  }
  return page.locator(sel).textContent();
}
// Disable and Revoke take two presses: the first asks for confirmation.
async function twoPress(btn) {
  await btn.click();
  const asked = await btn.textContent();
  await check(asked.startsWith('Confirm'), `the first press does not ask to confirm ("${asked}")`);
  await btn.click();
}
const userRow = (page, name) => page.locator(`#users tbody tr[data-user="${name}"]`);
const stored = async (name) => (await api('GET', '/api/users')).body.find((u) => u.name === name);

// ---- the admin ------------------------------------------------------------------------------
const admin = await signIn('ward-admin', ADMIN_PW);
await check(await admin.locator('#account').isHidden(), 'the account panel shows before it is asked for');
await admin.click('#account-toggle');
await check((await admin.getAttribute('#account-toggle', 'aria-expanded')) === 'true', 'Account does not say it is expanded');
await admin.waitForSelector('#users tbody tr[data-user="dr-a"]', { timeout: 5000 });
await check(await admin.locator('#admin').isVisible(), 'an admin sees no user management');
// Every control of the panel has a name for assistive technology.
const unlabelled = await admin.evaluate(() => [...document.querySelectorAll('#account input, #account select, #account button')]
  .filter((el) => !el.hidden && el.type !== 'hidden' && el.offsetParent !== null)
  .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || (el.tagName === 'BUTTON' && el.textContent.trim())))
  .map((el) => el.id || el.outerHTML.slice(0, 60)));
await check(unlabelled.length === 0, `controls without a label: ${unlabelled.join(', ')}`);
const policy = await admin.locator('#pw-set-hint').textContent();
await check(policy.includes('10 to 1024 characters'), `the policy shown is "${policy}"`);

// Last-admin guard: demoting, or disabling, the only enabled admin is refused and said.
await userRow(admin, 'ward-admin').locator('select.role').selectOption('clinician');
await userRow(admin, 'ward-admin').locator('button.set-role').click();
let said = await message(admin, '#users-msg', 'no enabled admin');
await check((await admin.getAttribute('#users-msg', 'role')) === 'alert', 'a refusal is not announced as an alert');
await check((await stored('ward-admin')).role === 'admin', 'the last admin was demoted');
await admin.waitForFunction(() => document.querySelector('#users tbody tr[data-user="ward-admin"] select.role').value === 'admin');
await twoPress(userRow(admin, 'ward-admin').locator('button.disable'));
said = await message(admin, '#users-msg', 'no enabled admin');
await check((await stored('ward-admin')).disabled_at == null, 'the last admin was disabled');

// Add a user with the form.
await admin.fill('#user-add-name', 'nurse-b');
await admin.locator('#user-add-role').selectOption('viewer');
await admin.locator('#user-add-password').fill('nurse b first pw');
await admin.locator('#user-add-confirm').fill('nurse b first pw');
await admin.click('#user-add button[type=submit]');
await message(admin, '#users-msg', 'nurse-b added as viewer');
await userRow(admin, 'nurse-b').waitFor({ timeout: 5000 });
await check((await stored('nurse-b'))?.role === 'viewer', 'nurse-b was not stored as a viewer');
// The same name again: refused (409), said.
await admin.fill('#user-add-name', 'NURSE-B');
await admin.locator('#user-add-password').fill('another password');
await admin.locator('#user-add-confirm').fill('another password');
await admin.click('#user-add button[type=submit]');
said = await message(admin, '#users-msg', 'exists already');

// Role change: accepted, stored.
await userRow(admin, 'nurse-b').locator('select.role').selectOption('clinician');
await userRow(admin, 'nurse-b').locator('button.set-role').click();
await message(admin, '#users-msg', 'nurse-b is now clinician');
await check((await stored('nurse-b')).role === 'clinician', 'the role change was not stored');

// Set another user's password: too short refused; then set, and its sessions end.
const nurseLogin = await api('POST', '/api/login', { username: 'nurse-b', password: 'nurse b first pw' }, null);
await check(nurseLogin.status === 200, `nurse-b could not sign in (${nurseLogin.status})`);
const pick = await admin.locator('#pw-set-user option').allTextContents();
await check(!pick.includes('ward-admin'), 'one\'s own name is offered for setting a password without the current one');
await admin.locator('#pw-set-user').selectOption('nurse-b');
await admin.locator('#pw-set-new').fill('short');
await admin.locator('#pw-set-confirm').fill('short');
await admin.click('#pw-set button[type=submit]');
await message(admin, '#users-msg', 'at least 10 characters');
await admin.locator('#pw-set-new').fill('nurse b second pw');
await admin.locator('#pw-set-confirm').fill('nurse b second pw');
await admin.click('#pw-set button[type=submit]');
await message(admin, '#users-msg', 'Password of nurse-b set');
await check((await api('GET', '/api/alarms', undefined, nurseLogin.body.token)).status === 401, 'nurse-b\'s session outlived the new password');
const nurse2 = await api('POST', '/api/login', { username: 'nurse-b', password: 'nurse b second pw' }, null);
await check(nurse2.status === 200, `nurse-b cannot sign in with the password set (${nurse2.status})`);

// Disable: accepted (its session ends); Enable: accepted; a stale Enable refused.
await userRow(admin, 'nurse-b').locator('button.disable').click();
await sleep(300);
await check((await stored('nurse-b')).disabled_at == null, 'one press disabled nurse-b');
await userRow(admin, 'nurse-b').locator('button.disable').click();
await message(admin, '#users-msg', 'nurse-b is disabled');
await check((await stored('nurse-b')).disabled_at != null, 'nurse-b is not disabled');
await check((await api('GET', '/api/alarms', undefined, nurse2.body.token)).status === 401, 'a disabled user\'s session still works');
await admin.waitForSelector('#users tbody tr[data-user="nurse-b"] button.enable');
const enabled = await api('POST', '/api/users/nurse-b/enable', {});
await check(enabled.status === 200, `enable over the API answered ${enabled.status}`);
await userRow(admin, 'nurse-b').locator('button.enable').click(); // the page did not know yet
await message(admin, '#users-msg', 'enabled already');
await admin.waitForSelector('#users tbody tr[data-user="nurse-b"] button.disable');
await twoPress(userRow(admin, 'nurse-b').locator('button.disable'));
await message(admin, '#users-msg', 'nurse-b is disabled');
await admin.waitForSelector('#users tbody tr[data-user="nurse-b"] button.enable');
await userRow(admin, 'nurse-b').locator('button.enable').click();
await message(admin, '#users-msg', 'nurse-b may sign in again');
await check((await stored('nurse-b')).disabled_at == null, 'nurse-b is still disabled');

// API tokens: create one expiring in a day; its secret is shown once and works.
await admin.fill('#token-name', 'ward display');
await admin.locator('#token-role').selectOption('viewer');
await admin.locator('#token-expiry').selectOption('86400');
const t0 = Date.now() / 1000;
await admin.click('#token-create button[type=submit]');
await message(admin, '#tokens-msg', 'Token ward display created, expires');
const secret = await admin.locator('#token-secret').inputValue();
await check(/^[0-9a-f]{16}\.[0-9a-f]{32,}$/.test(secret), `the new token shown is "${secret}"`);
await check((await api('GET', '/api/alarms', undefined, secret)).status === 200, 'the new token does not work');
const listed = (await api('GET', '/api/tokens')).body.find((t) => t.name === 'ward display');
await check(listed && listed.role === 'viewer' && Math.abs(listed.expires_at - (t0 + 86400)) < 60, `stored token ${JSON.stringify(listed)}`);
await check(!JSON.stringify((await api('GET', '/api/tokens')).body).includes(secret), 'the token list holds a secret');
const row = admin.locator(`#tokens tbody tr[data-token-id="${listed.id}"]`);
await row.waitFor({ timeout: 5000 });
await check(!(await admin.locator('#tokens').textContent()).includes(secret), 'the token table shows the secret');
await admin.click('#token-done');
await check(await admin.locator('#token-new').isHidden(), 'Done leaves the secret on screen');
await check((await admin.locator('#token-secret').inputValue()) === '', 'the secret stays in the page after Done');
// Revoke: accepted, the token stops working; a stale Revoke is refused and said.
await admin.screenshot({ path: shot.replace(/\.png$/, '-admin.png'), fullPage: true });
await twoPress(row.locator('button.revoke'));
await message(admin, '#tokens-msg', 'Token ward display revoked');
await check((await api('GET', '/api/alarms', undefined, secret)).status === 401, 'a revoked token still works');
await admin.waitForFunction((id) => !document.querySelector(`#tokens tbody tr[data-token-id="${id}"]`), listed.id);
const other = await api('POST', '/api/tokens', { name: 'gateway', role: 'clinician' });
await admin.click('#account-toggle');
await admin.click('#account-toggle'); // reopened: the lists are read again
const stale = admin.locator(`#tokens tbody tr[data-token-id="${other.body.id}"]`);
await stale.waitFor({ timeout: 5000 });
await check((await stale.textContent()).includes('never'), 'a token without expiry does not say never');
await check((await api('DELETE', `/api/tokens/${other.body.id}`)).status === 200, 'revoke over the API failed');
await twoPress(stale.locator('button.revoke'));
await message(admin, '#tokens-msg', 'no API token has this id');

// Escape closes the panel, the focus back on its button.
await admin.focus('#token-name');
await admin.keyboard.press('Escape');
await check(await admin.locator('#account').isHidden(), 'Escape leaves the account panel open');
await check(await admin.evaluate(() => document.activeElement.id) === 'account-toggle', 'Escape does not give the focus back');

// ---- a clinician changes its own password -------------------------------------------------
const dr = await signIn('dr-a', DR_PW);
const drOther = await signIn('dr-a', DR_PW); // another browser of the same person
const apiSession = await api('POST', '/api/login', { username: 'dr-a', password: DR_PW }, null);
await check(apiSession.status === 200, 'dr-a could not sign in over the API');
// Keyboard only: the Account button, then the form's fields in order, Enter submits.
await dr.focus('#account-toggle');
await dr.keyboard.press('Enter');
await dr.waitForSelector('#pw-form:not([hidden])');
await check(await dr.locator('#admin').isHidden(), 'a clinician sees user management');
await check(await dr.evaluate(() => document.activeElement.id) === 'pw-current', 'the form does not take the focus');
await check((await dr.locator('#pw-policy').textContent()).includes('10 to 1024 characters'), 'no policy shown');
async function typeChange(current, next, confirm) {
  await dr.focus('#pw-current');
  await dr.keyboard.press('Control+A');
  await dr.keyboard.type(current);
  await dr.keyboard.press('Tab');
  await check(await dr.evaluate(() => document.activeElement.id) === 'pw-new', 'Tab does not lead to the new password');
  await dr.keyboard.press('Control+A');
  await dr.keyboard.type(next);
  await dr.keyboard.press('Tab');
  await dr.keyboard.press('Control+A');
  await dr.keyboard.type(confirm);
  await dr.keyboard.press('Enter');
}
// Confirmation differs: said, nothing sent.
await typeChange(DR_PW, DR_PW2, 'something else');
await message(dr, '#pw-msg', 'differ');
// Too short: the server's policy.
await typeChange(DR_PW, 'short', 'short');
await message(dr, '#pw-msg', 'at least 10 characters');
// Wrong current password: refused, said, the focus back on it.
await typeChange('not my password', DR_PW2, DR_PW2);
said = await message(dr, '#pw-msg', 'the current password is wrong');
await check((await dr.getAttribute('#pw-msg', 'role')) === 'alert', 'the refusal is not an alert');
await check(await dr.evaluate(() => document.activeElement.id) === 'pw-current', 'the focus is not on the current password');
await check((await api('POST', '/api/login', { username: 'dr-a', password: DR_PW2 }, null)).status === 401, 'a refused change took effect');
// Accepted.
await typeChange(DR_PW, DR_PW2, DR_PW2);
await message(dr, '#pw-msg', 'Password changed');
await check((await dr.locator('#pw-current').inputValue()) === '', 'the form keeps the passwords');
// Other sessions are signed out: the other browser goes back to the form by itself,
// the API client's session is refused; this one stays live.
await drOther.waitForSelector('#signin:not([hidden])', { timeout: 5000 });
await check((await drOther.evaluate(() => localStorage.getItem('ictal-token'))) === null, 'the signed-out browser keeps its token');
await check((await api('GET', '/api/alarms', undefined, apiSession.body.token)).status === 401, 'another session outlived the change');
await check(await dr.locator('#conn.ok').count() === 1, 'the session that changed the password was signed out');
const own = await dr.evaluate(() => localStorage.getItem('ictal-token'));
await check((await api('GET', '/api/alarms', undefined, own)).status === 200, 'the changing session stopped working');
// The old password no longer signs in (on the form), the new one does.
await drOther.fill('#login-user', 'dr-a');
await drOther.fill('#login-password', DR_PW);
await drOther.click('#login button[type=submit]');
await message(drOther, '#login-error', 'wrong user name or password');
await drOther.fill('#login-password', DR_PW2);
await drOther.click('#login button[type=submit]');
await drOther.waitForSelector('#conn.ok', { timeout: 10000 });
await check((await stored('dr-a')).password_changed_at != null, 'no password_changed_at');
await dr.screenshot({ path: shot, fullPage: true });

// Throttled: wrong current passwords count as failed sign-ins of the address; once
// they reach the limit, the form says to wait.
let throttled = false;
for (let i = 0; i < 8 && !throttled; i++) {
  await typeChange('still not my password', 'whatever new pw', 'whatever new pw');
  await dr.waitForFunction(() => !document.querySelector('#pw-form button').disabled && !/Checking/.test(document.querySelector('#pw-msg').textContent));
  throttled = (await dr.locator('#pw-msg').textContent()).includes('too many failed sign-ins');
}
await check(throttled, 'never throttled');
said = await dr.locator('#pw-msg').textContent();
await check(/wait \d+ s/.test(said), `the throttle message gives no wait: "${said}"`);

// With an admin API token there is no own password: the form says so; every user's
// password may be set (none is "one's own").
const tctx = await browser.newContext({ viewport: { width: 1400, height: 1100 } });
const byToken = watch(await tctx.newPage(), errors);
await byToken.goto(`${base}/#token=${h.token}`);
await byToken.waitForSelector('#conn.ok', { timeout: 10000 });
await byToken.click('#account-toggle');
await byToken.waitForSelector('#users tbody tr[data-user="ward-admin"]', { timeout: 5000 });
await check(await byToken.locator('#pw-self-none').isVisible(), 'no word that an API token has no password');
await check(await byToken.locator('#pw-form').isHidden(), 'a password form for an API token');
await check((await byToken.locator('#pw-set-user option').allTextContents()).includes('ward-admin'), 'an API token cannot set ward-admin\'s password');

if (errors.length) await fail(`page errors: ${errors.join('; ')}`);
console.log('ok: admin managed users (last-admin guard, add, role, password, disable, enable) and API tokens (created once, revoked); '
  + `clinician changed its password (refusals shown, other sessions signed out, old password refused, throttle shown); screenshot ${shot}`);
h.cleanup(0);
