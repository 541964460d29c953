// End-to-end test of the nexus web UI in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core: no browser download).
// Run by server/ui's TestBrowser, which starts nexus serve, deploys the
// workflows and runs the executions this script expects, then checks the
// screenshots it leaves.
//
// Environment:
//   NEXUS_URL              the server, http://127.0.0.1:PORT
//   NEXUS_TOKEN            a token of the namespace
//   NEXUS_UI_SCREENSHOTS   where the screenshots go
//   NEXUS_UI_E2E           JSON: {holds, violated, invariant, succeeded, compensated}
//   CHROMIUM               the browser (default /usr/bin/chromium)
//
// Every wait is on a selector or on the page's own "drawn" marker
// (main[data-route]); nothing sleeps.
import { chromium } from 'playwright-core';
import path from 'node:path';

const base = process.env.NEXUS_URL;
const token = process.env.NEXUS_TOKEN;
const shots = process.env.NEXUS_UI_SCREENSHOTS;
const want = JSON.parse(process.env.NEXUS_UI_E2E || '{}');
if (!base || !token || !shots || !want.holds) {
  console.error('e2e.mjs: set NEXUS_URL, NEXUS_TOKEN, NEXUS_UI_SCREENSHOTS and NEXUS_UI_E2E');
  process.exit(2);
}
const TIMEOUT = 20000;

function check(cond, what) {
  if (!cond) throw new Error('assertion failed: ' + what);
  console.log('ok   ' + what);
}

// drawn waits until the page has drawn the route whose hash matches re.
async function drawn(page, re) {
  await page.waitForFunction((src) => {
    const r = document.querySelector('main').dataset.route;
    return r !== undefined && r === location.hash && new RegExp(src).test(r);
  }, re.source, { timeout: TIMEOUT });
}

async function text(page, selector) {
  return (await page.locator(selector).first().innerText({ timeout: TIMEOUT })).trim();
}

async function shot(page, name, opts) {
  const file = path.join(shots, name);
  await page.screenshot(Object.assign({ path: file, fullPage: true }, opts || {}));
  console.log('shot ' + file);
}

async function shotOf(locator, name) {
  const file = path.join(shots, name);
  await locator.screenshot({ path: file });
  console.log('shot ' + file);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // Root in a container has no user namespaces for Chromium's sandbox.
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--force-color-profile=srgb'],
});
const problems = [];
let page;
try {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1, locale: 'en-US', timezoneId: 'UTC', colorScheme: 'light',
  });
  context.setDefaultTimeout(TIMEOUT);
  const watch = (p) => {
    p.on('pageerror', (e) => problems.push('page error: ' + e.message));
    p.on('console', (m) => {
      // The wrong token's 401 is expected; anything else (a CSP
      // violation, a script error) is a failure.
      if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push('console error: ' + m.text());
    });
    p.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith(base + '/') && !u.startsWith('data:')) problems.push('request outside the server: ' + u);
    });
  };
  page = await context.newPage();
  watch(page);

  // 1. / redirects to the UI, which asks for a token.
  await page.goto(base + '/');
  await page.locator('main[data-route="token"] #token-form').waitFor();
  check(new URL(page.url()).pathname === '/ui/', '/ redirects to /ui/ (at ' + page.url() + ')');
  await shot(page, '01-sign-in.png');

  // 2. A wrong token is refused, and the form comes back.
  await page.fill('#token-input', 'not-a-token');
  await page.click('#token-form button[type=submit]');
  await page.locator('main[data-route="token"] .error', { hasText: 'unknown or revoked' }).waitFor();
  check(await page.locator('#token-form').isVisible(), 'a wrong token is refused and the form shown again');

  // 3. The token: the workflows, with their verdicts.
  await page.fill('#token-input', token);
  await page.click('#token-form button[type=submit]');
  await page.locator('#workflows').waitFor();
  await drawn(page, /^#\/workflows$|^$/);
  const holdsRow = page.locator(`#workflows tr[data-workflow="${want.holds}"]`);
  const violatedRow = page.locator(`#workflows tr[data-workflow="${want.violated}"]`);
  check((await holdsRow.innerText()).includes('holds'), want.holds + ' is listed as holding');
  check((await holdsRow.innerText()).includes('v2'), want.holds + ' is at v2');
  check(/violated \(forced\)/.test(await violatedRow.innerText()), want.violated + ' is listed as violated (forced)');
  await shot(page, '02-workflows.png');

  // 4. The violating workflow: its verdict, and the counterexample drawn
  // on the graph (the first one is drawn without asking).
  await violatedRow.locator('a.workflow-link').click();
  await drawn(page, /^#\/workflows\//);
  await page.locator('#graph[data-ready="counterexample"] svg').waitFor();
  const inv = page.locator(`#invariants [data-invariant="${want.invariant}"]`);
  check((await inv.innerText()).includes('violated'), want.invariant + ' is shown violated');
  const cexSteps = await page.locator('#cex-steps li').count();
  check(cexSteps >= 2, 'the counterexample lists its steps (' + cexSteps + ')');
  const svgText = await page.locator('#graph svg').textContent();
  check(/steps? 1/.test(svgText), 'the graph numbers the states with their steps');
  check(svgText.includes('✗ ' + want.invariant), 'the graph marks where ' + want.invariant + ' breaks');
  check((await text(page, '#graph-caption')).startsWith('Counterexample 1 of ' + want.invariant), 'the caption names the counterexample');
  await shot(page, '03-workflow-counterexample.png');
  await shotOf(page.locator('#graph svg'), 'graph-counterexample.png');

  // 5. The holding workflow: a plain graph, no counterexample, both
  // versions selectable.
  await page.click('#nav-workflows');
  await drawn(page, /^#\/workflows$/);
  await holdsRow.locator('a.workflow-link').click();
  await drawn(page, /^#\/workflows\//);
  await page.locator('#graph[data-ready="plain"] svg').waitFor();
  await page.locator('#no-counterexample').waitFor();
  check(await page.locator('#version option').count() === 2, 'both versions of ' + want.holds + ' can be picked');
  check((await text(page, '#verdict')).includes('holds'), 'the verdict of ' + want.holds + ' is holds');
  await shot(page, '04-workflow-holds.png');
  await shotOf(page.locator('#graph svg'), 'graph-holds.png');

  // 6. Its executions, then filtered by status and by time.
  await page.click('#executions-link');
  await drawn(page, /^#\/executions\?workflow=/);
  await page.locator(`#executions tr[data-execution="${want.succeeded}"]`).waitFor();
  await page.locator(`#executions tr[data-execution="${want.compensated}"]`).waitFor();
  check(true, 'both executions are listed under ' + want.holds);
  await page.selectOption('#filter-status', 'succeeded');
  await page.click('#apply-filters');
  await drawn(page, /status=succeeded/);
  check(await page.locator(`#executions tr[data-execution="${want.succeeded}"]`).count() === 1, 'the status filter keeps the succeeded execution');
  check(await page.locator(`#executions tr[data-execution="${want.compensated}"]`).count() === 0, 'the status filter drops the compensated one');
  await shot(page, '05-executions-succeeded.png');
  await page.fill('#filter-after', '2099-01-01T00:00');
  await page.click('#apply-filters');
  await drawn(page, /after=2099/);
  await page.locator('#no-executions').waitFor();
  check(true, 'a start-time filter in the future matches nothing');
  await page.click('#filters button.secondary'); // Clear
  await drawn(page, /^#\/executions$/);
  await page.selectOption('#filter-status', 'compensated');
  await page.click('#apply-filters');
  await drawn(page, /status=compensated/);
  check(await page.locator('#executions tbody tr').count() === 1, 'one execution is compensated');

  // 7. The succeeded execution: its timeline with each step's input and
  // output, its output, its path on the graph.
  await page.click('#filters button.secondary');
  await drawn(page, /^#\/executions$/);
  await page.locator(`#executions tr[data-execution="${want.succeeded}"] a.execution-link`).click();
  await drawn(page, /^#\/executions\//);
  await page.locator('#graph[data-ready="execution"] svg').waitFor();
  check((await text(page, '#execution-status')).includes('succeeded'), 'the execution succeeded');
  const states = await page.locator('#timeline .step').evaluateAll((els) => els.map((e) => e.dataset.state + ':' + e.dataset.outcome));
  check(JSON.stringify(states) === JSON.stringify(['ValidateUser:succeeded', 'CheckBalance:succeeded', 'ExecuteTransfer:succeeded', 'LogTransaction:succeeded']),
    'the timeline has the four calls, each succeeded: ' + states.join(', '));
  // textContent: innerText would give the headings' CSS upper case.
  const first = await page.locator('#timeline .step[data-step="1"]').textContent();
  check(first.includes('Input') && first.includes('Output') && first.includes('"transferId": "t-1"') && first.includes('attempt 1'),
    'a step shows its input, output and attempt');
  check((await text(page, '#execution-output')).includes('"transferId": "t-1"'), 'the output is shown');
  await shot(page, '06-execution-succeeded.png');
  await shotOf(page.locator('#graph svg'), 'graph-execution.png');

  // 8. The compensated execution: the failing step's error and attempts,
  // the root cause, the compensation.
  await page.goto(base + '/ui/#/executions/' + encodeURIComponent(want.compensated));
  await drawn(page, /^#\/executions\//);
  check((await text(page, '#execution-status')).includes('compensated'), 'the second execution ended compensated');
  const tries = page.locator('#timeline .step[data-kind="call"][data-state="ExecuteTransfer"]');
  check(await tries.count() === 3, 'ExecuteTransfer was tried three times (' + await tries.count() + ')');
  const last = await tries.nth(2).textContent();
  check(last.includes('attempt 3') && last.includes('Bank.Unavailable') && last.includes('the bank did not answer'), 'its third attempt shows the error and cause');
  check(await page.locator('#timeline .step.root-cause').count() === 1, 'the root cause is marked');
  check(await page.locator('#timeline .step[data-kind="wait"][data-state="ExecuteTransfer"]').count() === 2, 'the two back-offs are on the timeline');
  check(await page.locator('#timeline .step[data-kind="compensation"][data-outcome="succeeded"]').count() === 1, 'the compensation is on the timeline');
  await page.locator('#history summary').click();
  await page.locator('#history table').waitFor();
  check(await page.locator('#history tbody tr').count() > 5, 'the log is shown record by record');
  await shot(page, '07-execution-compensated.png');

  // 9. Starting an execution from the workflow page: the page follows it
  // until it ends (a long poll on the server, no timer here).
  await page.goto(base + '/ui/#/workflows/' + encodeURIComponent(want.holds) + '?version=1');
  await drawn(page, /^#\/workflows\//);
  await page.fill('#start-input', '{"transferId": "t-ui", "amount": 7}');
  await page.click('#start-form button[type=submit]');
  await page.locator('#execution-status [data-value="succeeded"]').waitFor({ timeout: 60000 });
  check((await text(page, '#execution-output')).includes('"transferId": "t-ui"'), 'an execution started from the UI runs and succeeds');

  // 10. #token=... signs in at once, in a fresh browser context.
  const fresh = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1, timezoneId: 'UTC' });
  const p2 = await fresh.newPage();
  watch(p2);
  await p2.goto(base + '/ui/#token=' + encodeURIComponent(token));
  await drawn(p2, /^#\/workflows$/);
  check(await p2.locator('#workflows tbody tr').count() === 2, '#token= signs in and lists the workflows');
  await fresh.close();

  check(problems.length === 0, 'no page error, console error or request outside the server' + (problems.length ? ':\n  ' + problems.join('\n  ') : ''));
  console.log('PASS');
} catch (err) {
  console.error('FAIL ' + (err && err.stack || err));
  if (problems.length) console.error('problems seen:\n  ' + problems.join('\n  '));
  if (page) await page.screenshot({ path: path.join(shots, 'failure.png'), fullPage: true }).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
