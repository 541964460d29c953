// The nexus web UI: a page per hash route, data from the server's JSON
// API (connect over HTTP) with the bearer token kept in localStorage.
//
//   #/workflows                                  the workflows
//   #/workflows/NAME?version=N&invariant=I&violation=K
//                                                a version, its verdict and graph
//   #/executions?workflow=W&status=S&after=T&before=T&page=P
//                                                the executions, filtered
//   #/executions/ID                              an execution's timeline
//   #token=TOKEN                                 keep TOKEN, then the workflows
'use strict';

(function () {
  const TOKEN_KEY = 'nexus.token';
  const STATUSES = ['running', 'compensating', 'succeeded', 'failed', 'compensated', 'compensation_failed', 'cancelled', 'timed_out'];
  const main = document.getElementById('main');
  let generation = 0; // bumped on every navigation: late answers are dropped

  // ---- token -------------------------------------------------------------

  function token() {
    try { return localStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }
  function setToken(t) {
    try {
      if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage disabled: the token lasts this page */ }
    memoryToken = t;
    showWho();
  }
  let memoryToken = '';
  function currentToken() { return token() || memoryToken; }
  function showWho() {
    const t = currentToken();
    document.getElementById('who').textContent = t ? 'token …' + t.slice(-4) : '';
    document.getElementById('forget').hidden = !t;
  }

  // ---- API ---------------------------------------------------------------

  class APIError extends Error {
    constructor(code, message) { super(message); this.code = code; }
  }

  async function call(method, body) {
    let res;
    try {
      res = await fetch('/nexus.v1.NexusService/' + method, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Authorization': 'Bearer ' + currentToken() },
        body: JSON.stringify(body || {}),
        cache: 'no-store',
      });
    } catch (e) {
      throw new APIError('unavailable', 'the server did not answer: ' + e.message);
    }
    const text = await res.text();
    let data = {};
    try { data = text ? JSON.parse(text) : {}; } catch (e) { data = { message: text }; }
    if (!res.ok) throw new APIError(data.code || String(res.status), data.message || res.statusText);
    return data;
  }

  // ---- DOM helpers ---------------------------------------------------------

  // h builds an element: attributes (class, id, href, on* handlers, ...)
  // then children (strings become text: nothing is parsed as HTML).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
    append(el, children);
    return el;
  }
  function append(el, children) {
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      if (Array.isArray(c)) append(el, c);
      else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }
  function render(...children) {
    main.replaceChildren();
    append(main, children);
  }
  function link(hash, text, attrs) { return h('a', Object.assign({ href: hash }, attrs || {}), text); }

  // svgOf parses an SVG document the server drew into a node of this page.
  function svgOf(text) {
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    const svg = doc.documentElement;
    if (!svg || svg.nodeName !== 'svg' || doc.getElementsByTagName('parsererror').length) {
      return h('p', { class: 'error' }, 'the graph could not be read');
    }
    for (const s of svg.querySelectorAll('script, foreignObject')) s.remove();
    return document.importNode(svg, true);
  }

  function pretty(v) {
    if (v === undefined) return '—';
    return JSON.stringify(v, null, 2);
  }
  function jsonBlock(v, cls) { return h('pre', { class: 'json' + (cls ? ' ' + cls : '') }, pretty(v)); }

  function pad(n, w) { return String(n).padStart(w || 2, '0'); }
  function fmtTime(s) {
    if (!s) return '—';
    const d = new Date(s);
    if (isNaN(d)) return s;
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + '.' + pad(d.getMilliseconds(), 3);
  }
  function ms(a, b) {
    if (!a || !b) return undefined;
    return new Date(b) - new Date(a);
  }
  function fmtDuration(d) {
    if (d === undefined || isNaN(d)) return '';
    if (d < 1000) return d + ' ms';
    if (d < 60000) return (d / 1000).toFixed(d < 10000 ? 2 : 1) + ' s';
    const m = Math.floor(d / 60000);
    return m + ' min ' + Math.round((d % 60000) / 1000) + ' s';
  }
  // localInput turns an RFC 3339 time into a datetime-local value, and back.
  function localInput(s) {
    if (!s) return '';
    const d = new Date(s);
    if (isNaN(d)) return '';
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  }
  function fromLocalInput(v) {
    if (!v) return '';
    const d = new Date(v);
    return isNaN(d) ? '' : d.toISOString();
  }

  function verdictClass(v) {
    switch (v) {
      case 'holds': case 'succeeded': return 'ok';
      case 'not_checked': case 'unknown': return '';
      case 'violated': case 'invalid': case 'failed': case 'compensation_failed': case 'timed_out': case 'cancelled': return 'bad';
      case 'running': case 'compensating': return 'run';
      default: return 'warn';
    }
  }
  function badge(text, extra) {
    return h('span', { class: 'badge ' + verdictClass(text), dataset: { value: text } }, String(text || 'unknown').replace(/_/g, ' '), extra || '');
  }
  function verdictBadge(ver) {
    if (!ver || !ver.verdict) return h('span', { class: 'badge' }, 'unverified');
    return badge(ver.verdict, ver.forced ? ' (forced)' : '');
  }

  function errorBox(err) {
    return h('div', { class: 'error', role: 'alert' }, (err.code ? err.code + ': ' : '') + err.message);
  }

  // ---- routing -------------------------------------------------------------

  function parseHash() {
    let hash = location.hash.replace(/^#/, '');
    if (hash.startsWith('token=')) {
      setToken(decodeURIComponent(hash.slice('token='.length)));
      history.replaceState(null, '', location.pathname + location.search + '#/workflows');
      hash = '/workflows';
    }
    const q = hash.indexOf('?');
    const path = (q < 0 ? hash : hash.slice(0, q)) || '/workflows';
    const params = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
    return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), params };
  }

  function go(hash) {
    if (location.hash === hash) route(); else location.hash = hash;
  }

  async function route() {
    const gen = ++generation;
    const { parts, params } = parseHash();
    showWho();
    for (const a of document.querySelectorAll('header nav a')) {
      a.classList.toggle('current', a.id === 'nav-' + (parts[0] || 'workflows'));
    }
    delete main.dataset.route;
    if (!currentToken()) {
      tokenPage();
      return;
    }
    const live = () => gen === generation;
    render(h('p', { class: 'loading' }, 'Loading…'));
    try {
      switch (parts[0]) {
        case 'executions':
          if (parts[1]) await executionPage(parts[1], live); else await executionsPage(params, live);
          break;
        case 'workflows':
        default:
          if (parts[1]) await workflowPage(parts[1], params, live); else await workflowsPage(live);
      }
      // Drawn, data and graph: say which route (the tests wait on it).
      if (live()) main.dataset.route = location.hash;
    } catch (err) {
      if (!live()) return;
      if (err.code === 'unauthenticated') {
        tokenPage(err);
        return;
      }
      render(errorBox(err));
      main.dataset.route = location.hash;
    }
  }

  // ---- token page ------------------------------------------------------------

  function tokenPage(err) {
    const input = h('input', { id: 'token-input', type: 'password', autocomplete: 'off', required: true, placeholder: 'the token nexus token create printed' });
    render(
      h('h1', {}, 'Sign in with a token'),
      err ? errorBox(err) : null,
      h('div', { class: 'panel' },
        h('form', {
          id: 'token-form', class: 'stack', onsubmit: (e) => {
            e.preventDefault();
            setToken(input.value.trim());
            route();
          },
        },
        h('p', {}, 'Every call to nexus serve carries a token of one namespace. Make one on the server\'s database and paste it here; it is kept in this browser only.'),
        h('pre', { class: 'json' }, 'nexus token create --namespace team-a --db nexus.db'),
        h('label', {}, 'Token', input),
        h('div', {}, h('button', { type: 'submit' }, 'Use this token')))));
    input.focus();
    main.dataset.route = 'token';
  }

  // ---- workflows -------------------------------------------------------------

  async function workflowsPage(live) {
    const data = await call('ListWorkflows', {});
    if (!live()) return;
    const wfs = data.workflows || [];
    const rows = wfs.map((w) => {
      const l = w.latest || {};
      return h('tr', { dataset: { workflow: w.name } },
        h('td', {}, link('#/workflows/' + encodeURIComponent(w.name), w.name, { class: 'workflow-link' })),
        h('td', {}, String(w.versions || 1)),
        h('td', {}, 'v' + (l.version || '?')),
        h('td', {}, verdictBadge(l.verification)),
        h('td', {}, String(l.states || '')),
        h('td', {}, fmtTime(l.deployedAt)),
        h('td', {}, link('#/executions?workflow=' + encodeURIComponent(w.name), 'executions')));
    });
    render(
      h('h1', {}, 'Workflows'),
      h('div', { class: 'panel' },
        wfs.length === 0
          ? h('p', { id: 'no-workflows' }, 'No workflow is deployed in this namespace yet: ',
            h('code', {}, 'nexus deploy FILE --server URL'), ' registers one.')
          : h('table', { id: 'workflows' },
            h('thead', {}, h('tr', {}, ['Workflow', 'Versions', 'Latest', 'Verdict', 'States', 'Deployed', ''].map((t) => h('th', {}, t)))),
            h('tbody', {}, rows))));
  }

  // firstViolation finds the first counterexample of a verification.
  function firstViolation(ver) {
    for (const r of (ver && ver.results) || []) {
      if ((r.violations || []).length) return { invariant: r.invariant, violation: 0 };
    }
    return null;
  }

  async function workflowPage(name, params, live) {
    const version = Number(params.get('version') || 0);
    const [wf, versions] = await Promise.all([
      call('GetWorkflow', { name, version }),
      call('ListWorkflowVersions', { name }),
    ]);
    if (!live()) return;
    const v = wf.version;
    const ver = v.verification || {};
    // The counterexample drawn: the one asked for, else the first there is.
    let sel = null;
    if (params.get('invariant')) sel = { invariant: params.get('invariant'), violation: Number(params.get('violation') || 0) };
    else if (params.get('invariant') === null && params.get('plain') === null) sel = firstViolation(ver);
    const selfHash = (extra) => {
      const p = new URLSearchParams({ version: String(v.version) });
      for (const [k, val] of Object.entries(extra || {})) p.set(k, String(val));
      return '#/workflows/' + encodeURIComponent(name) + '?' + p.toString();
    };

    const graphBox = h('div', { id: 'graph', class: 'graph' }, h('p', { class: 'loading' }, 'Drawing…'));
    const caption = h('p', { class: 'graph-caption muted', id: 'graph-caption' });
    const cexBox = h('div', { id: 'counterexample' });

    const versionSelect = h('select', {
      id: 'version', onchange: (e) => go('#/workflows/' + encodeURIComponent(name) + '?version=' + e.target.value),
    }, (versions.versions || []).map((x) => h('option', { value: x.version, selected: String(x.version) === String(v.version) },
      'v' + x.version + ' — ' + ((x.verification && x.verification.verdict) || 'unverified') + ((x.verification && x.verification.forced) ? ' (forced)' : ''))));

    const results = (ver.results || []).map((r) => h('div', { class: 'invariant', dataset: { invariant: r.invariant } },
      h('div', { class: 'head' }, h('span', { class: 'name' }, r.invariant), badge(r.verdict), h('span', { class: 'muted' }, r.summary || '')),
      r.reason ? h('div', { class: 'muted' }, r.reason) : null,
      (r.violations || []).length ? h('ol', { class: 'violations' }, r.violations.map((vio, i) => {
        const selected = sel && sel.invariant === r.invariant && sel.violation === i;
        return h('li', { class: selected ? 'selected' : '' },
          vio.message + (vio.state ? ' (at ' + vio.state + ')' : '') + ' — ' + (vio.steps || 0) + ' steps. ',
          selected ? h('span', { class: 'muted' }, 'drawn on the graph') :
            link(selfHash({ invariant: r.invariant, violation: i }), 'Show on the graph', { class: 'show-cex' }));
      })) : null));

    const findings = (ver.findings || []).map((f) => h('li', {},
      h('span', { class: 'badge ' + (f.severity === 'error' ? 'bad' : 'warn') }, f.severity || 'finding'), ' ',
      h('span', { class: 'mono' }, (f.file || '') + ':' + (f.line || 0) + ':' + (f.column || 0)), ' ', f.message, f.code ? ' [' + f.code + ']' : ''));

    const triggers = (v.triggers || []).map((t) => h('li', { class: 'mono' },
      t.schedule ? 'cron ' + t.schedule : 'event ' + (t.type || '') + (t.event ? ' when ' + t.event : '')));

    const inputArea = h('textarea', { id: 'start-input', spellcheck: 'false' }, '{}');
    const startMsg = h('div');
    const startForm = h('form', {
      id: 'start-form', class: 'stack', onsubmit: async (e) => {
        e.preventDefault();
        let input;
        try { input = JSON.parse(inputArea.value || '{}'); } catch (err) {
          startMsg.replaceChildren(errorBox({ message: 'the input is not JSON: ' + err.message }));
          return;
        }
        try {
          const r = await call('StartExecution', { workflow: name, version: String(v.version), input });
          go('#/executions/' + encodeURIComponent(r.execution.id));
        } catch (err) {
          startMsg.replaceChildren(errorBox(err));
        }
      },
    }, h('label', {}, 'Input (JSON)', inputArea), startMsg, h('div', {}, h('button', { type: 'submit' }, 'Start an execution of v' + v.version)));

    render(
      h('h1', {}, h('span', { id: 'workflow-name' }, v.name), versionSelect, verdictBadge(ver)),
      v.comment ? h('p', { class: 'muted' }, v.comment) : null,
      h('div', { class: 'grid' },
        h('div', {},
          h('div', { class: 'panel' }, h('h2', {}, 'Graph'), caption, graphBox),
          h('div', { class: 'panel' }, cexBox)),
        h('div', {},
          h('div', { class: 'panel', id: 'verification' },
            h('h2', {}, 'Verification'),
            h('dl', { class: 'facts' },
              h('dt', {}, 'Verdict'), h('dd', { id: 'verdict' }, verdictBadge(ver)),
              h('dt', {}, 'Complete'), h('dd', {}, ver.complete ? 'yes' : 'no'),
              h('dt', {}, 'States explored'), h('dd', {}, String(ver.states || 0)),
              h('dt', {}, 'Checked'), h('dd', {}, fmtTime(ver.checkedAt) + (ver.elapsedMs ? ' in ' + fmtDuration(Number(ver.elapsedMs)) : '')),
              (ver.bounds || []).length ? [h('dt', {}, 'Bounds'), h('dd', {}, ver.bounds.join('; '))] : null),
            h('div', { id: 'invariants' }, results),
            findings.length ? [h('h2', {}, 'Findings'), h('ul', { id: 'findings' }, findings)] : null),
          h('div', { class: 'panel' },
            h('h2', {}, 'Version'),
            h('dl', { class: 'facts' },
              h('dt', {}, 'Version'), h('dd', {}, 'v' + v.version),
              h('dt', {}, 'Digest'), h('dd', { class: 'mono' }, v.digest),
              h('dt', {}, 'File'), h('dd', {}, v.file || ''),
              h('dt', {}, 'States'), h('dd', {}, String(v.states || '')),
              h('dt', {}, 'Deployed'), h('dd', {}, fmtTime(v.deployedAt) + (v.deployedBy ? ' by token ' + v.deployedBy : '')),
              Object.keys(v.bindings || {}).length ? [h('dt', {}, 'Bindings'), h('dd', {}, h('pre', { class: 'json' }, pretty(v.bindings)))] : null),
            triggers.length ? [h('h2', {}, 'Triggers'), h('ul', {}, triggers)] : null,
            h('p', {}, link('#/executions?workflow=' + encodeURIComponent(name), 'Executions of ' + name, { id: 'executions-link' }))),
          h('div', { class: 'panel' }, h('h2', {}, 'Run'), startForm),
          h('details', { class: 'panel' }, h('summary', {}, 'Source'), h('pre', { class: 'json source', id: 'source' }, v.source || '')))));

    // The counterexample's steps, beside the graph that numbers them.
    if (sel) {
      const r = (ver.results || []).find((x) => x.invariant === sel.invariant);
      const vio = r && (r.violations || [])[sel.violation];
      if (vio) {
        caption.textContent = 'Counterexample ' + (sel.violation + 1) + ' of ' + r.invariant + ': the states it goes through are filled and labelled with their step numbers. ';
        caption.append(link(selfHash({ plain: 1 }), 'Hide'));
        const steps = (vio.trace && vio.trace.steps) || [];
        const loop = vio.trace && typeof vio.trace.loop === 'number' ? vio.trace.loop : -1;
        cexBox.replaceChildren(
          h('h2', {}, 'Counterexample: ' + r.invariant + ' violated'),
          h('p', {}, vio.message),
          h('ol', { class: 'cex', id: 'cex-steps' }, steps.map((s, i) => h('li', { class: i === steps.length - 1 ? 'violation' : '', dataset: { step: i + 1 } },
            h('span', { class: 'n' }, (i + 1) + '.'), ' ', s.event || '', loop === i ? h('span', { class: 'badge warn' }, ' loop starts here') : null,
            (s.states || []).length ? h('span', { class: 'muted' }, ' — ' + s.states.map((st) => st.name + (st.line ? ' (line ' + st.line + ')' : '')).join(', ')) : null,
            s.after ? h('div', { class: 'details' }, 'then: ' + s.after) : null,
            (s.details || []).length ? h('div', { class: 'details mono' }, s.details.join(' · ')) : null))));
      } else {
        cexBox.replaceChildren(errorBox({ message: 'no counterexample ' + sel.violation + ' of ' + sel.invariant + ' in this version' }));
        sel = null;
      }
    }
    if (!sel) {
      caption.textContent = '';
      cexBox.replaceChildren(h('h2', {}, 'Counterexample'),
        h('p', { class: 'muted', id: 'no-counterexample' }, firstViolation(ver)
          ? 'Pick a violation to draw its trace on the graph.'
          : ver.verdict === 'holds'
            ? 'Every invariant checked holds: there is no counterexample to draw.'
            : 'This version\'s verification recorded no counterexample (verdict: ' + (ver.verdict || 'none') + ').'));
    }
    const req = { name, version: String(v.version) };
    if (sel) { req.invariant = sel.invariant; req.violation = sel.violation; }
    try {
      const g = await call('GetWorkflowGraph', req);
      if (!live()) return;
      graphBox.replaceChildren(svgOf(g.svg || ''));
      graphBox.dataset.ready = sel ? 'counterexample' : 'plain';
    } catch (err) {
      if (live()) graphBox.replaceChildren(errorBox(err));
    }
  }

  // ---- executions ------------------------------------------------------------

  async function executionsPage(params, live) {
    const f = {
      workflow: params.get('workflow') || '',
      status: params.get('status') || '',
      after: params.get('after') || '',
      before: params.get('before') || '',
      page: params.get('page') || '',
      size: params.get('size') || '50',
    };
    const req = { workflow: f.workflow, pageSize: Number(f.size) || 50, pageToken: f.page };
    if (f.status) req.status = [f.status];
    if (f.after) req.createdAfter = f.after;
    if (f.before) req.createdBefore = f.before;
    const [list, wfs] = await Promise.all([call('ListExecutions', req), call('ListWorkflows', {})]);
    if (!live()) return;

    const wfSelect = h('select', { id: 'filter-workflow', name: 'workflow' },
      h('option', { value: '' }, 'any workflow'),
      (wfs.workflows || []).map((w) => h('option', { value: w.name, selected: w.name === f.workflow }, w.name)));
    const statusSelect = h('select', { id: 'filter-status', name: 'status' },
      h('option', { value: '' }, 'any status'),
      STATUSES.map((s) => h('option', { value: s, selected: s === f.status }, s.replace(/_/g, ' '))));
    const after = h('input', { id: 'filter-after', type: 'datetime-local', value: localInput(f.after) });
    const before = h('input', { id: 'filter-before', type: 'datetime-local', value: localInput(f.before) });
    const size = h('select', { id: 'filter-size' }, ['20', '50', '100', '500'].map((n) => h('option', { value: n, selected: n === f.size }, n)));
    const hashOf = (x) => {
      const p = new URLSearchParams();
      for (const [k, val] of Object.entries(x)) if (val && !(k === 'size' && val === '50')) p.set(k, val);
      const s = p.toString();
      return '#/executions' + (s ? '?' + s : '');
    };
    const form = h('form', {
      id: 'filters', class: 'filters', onsubmit: (e) => {
        e.preventDefault();
        go(hashOf({
          workflow: wfSelect.value, status: statusSelect.value, after: fromLocalInput(after.value),
          before: fromLocalInput(before.value), size: size.value,
        }));
      },
    },
    h('label', {}, 'Workflow', wfSelect),
    h('label', {}, 'Status', statusSelect),
    h('label', {}, 'Started after', after),
    h('label', {}, 'Started before', before),
    h('label', {}, 'Per page', size),
    h('button', { type: 'submit', id: 'apply-filters' }, 'Apply'),
    h('button', { type: 'button', class: 'secondary', onclick: () => go('#/executions') }, 'Clear'));

    const xs = list.executions || [];
    const rows = xs.map((x) => h('tr', { dataset: { execution: x.id, status: x.status } },
      h('td', { class: 'mono' }, link('#/executions/' + encodeURIComponent(x.id), x.id, { class: 'execution-link' })),
      h('td', {}, x.workflow ? link('#/workflows/' + encodeURIComponent(x.workflow) + '?version=' + x.version, x.workflow + ' v' + x.version) : h('span', { class: 'mono muted' }, (x.digest || '').slice(0, 12))),
      h('td', {}, badge(x.status)),
      h('td', {}, fmtTime(x.createdAt)),
      h('td', {}, x.terminal ? fmtDuration(ms(x.createdAt, x.updatedAt)) : h('span', { class: 'muted' }, 'running for ' + fmtDuration(Date.now() - new Date(x.createdAt)))),
      h('td', {}, x.error ? h('span', { class: 'mono' }, x.error) : '')));
    render(
      h('h1', {}, 'Executions'),
      h('div', { class: 'panel' }, form),
      h('div', { class: 'panel' },
        xs.length === 0
          ? h('p', { id: 'no-executions' }, f.workflow || f.status || f.after || f.before ? 'No execution matches these filters.' : 'No execution yet.')
          : h('table', { id: 'executions' },
            h('thead', {}, h('tr', {}, ['Execution', 'Workflow', 'Status', 'Started', 'Took', 'Error'].map((t) => h('th', {}, t)))),
            h('tbody', {}, rows)),
        h('div', { class: 'pager' },
          f.page ? link(hashOf(Object.assign({}, f, { page: '' })), '« First page') : null,
          list.nextPageToken ? link(hashOf(Object.assign({}, f, { page: list.nextPageToken })), 'Next page »', { id: 'next-page' }) : null,
          h('span', { class: 'muted' }, xs.length + ' shown'))));
  }

  async function executionPage(id, live) {
    const [ex, tr] = await Promise.all([
      call('GetExecution', { executionId: id }),
      call('GetTrace', { executionId: id }),
    ]);
    if (!live()) return;
    const x = ex.execution;
    const t = tr.trace || {};
    const steps = t.steps || [];
    const t0 = t.start ? new Date(t.start) : null;
    const tEnd = t.end ? new Date(t.end) : new Date();
    const span = t0 ? Math.max(1, tEnd - t0) : 1;

    const timeline = steps.map((s, i) => {
      const start = s.start ? new Date(s.start) : null;
      const end = s.end ? new Date(s.end) : null;
      const bar = h('span');
      if (t0 && start) {
        bar.style.left = Math.min(100, Math.max(0, (start - t0) / span * 100)).toFixed(2) + '%';
        bar.style.width = Math.min(100, Math.max(0, ((end || tEnd) - start) / span * 100)).toFixed(2) + '%';
      }
      const io = [];
      if (s.input !== undefined) io.push(h('div', {}, h('h4', {}, 'Input'), jsonBlock(s.input)));
      if (s.output !== undefined) io.push(h('div', {}, h('h4', {}, 'Output'), jsonBlock(s.output)));
      if (s.error || s.cause) io.push(h('div', {}, h('h4', {}, 'Error'), h('pre', { class: 'json err' }, (s.error || '') + (s.cause ? '\n' + s.cause : ''))));
      return h('div', {
        class: 'step ' + (s.outcome || '') + (i === t.rootCause ? ' root-cause' : ''),
        dataset: { step: i + 1, kind: s.kind || '', state: s.state || '', outcome: s.outcome || '' },
      },
      h('div', { class: 'head' },
        h('span', { class: 'muted' }, (i + 1) + '.'),
        h('span', { class: 'kind badge' }, s.kind),
        h('span', { class: 'state' }, s.state || ''),
        s.function ? h('span', { class: 'mono muted' }, s.function) : null,
        s.attempt ? h('span', { class: 'attempt' }, 'attempt ' + s.attempt) : null,
        s.outcome ? badge(s.outcome) : null,
        i === t.rootCause ? h('span', { class: 'badge bad' }, 'root cause') : null,
        s.delayMs && Number(s.delayMs) ? h('span', { class: 'muted' }, 'waited ' + fmtDuration(Number(s.delayMs))) : null,
        h('span', { class: 'when' }, (t0 && start ? '+' + fmtDuration(start - t0) : '') + (start && end ? ', took ' + fmtDuration(end - start) : ''))),
      h('div', { class: 'bar' }, bar),
      s.key ? h('div', { class: 'muted mono' }, 'idempotency key ' + s.key) : null,
      io.length ? h('div', { class: 'io' }, io) : null);
    });

    const graphBox = h('div', { id: 'graph', class: 'graph' }, h('p', { class: 'loading' }, 'Drawing…'));
    const historyBox = h('div', {}, h('p', { class: 'loading' }, 'Loading…'));
    let historyLoaded = false;
    const history = h('details', {
      class: 'panel', id: 'history', ontoggle: async (e) => {
        if (!e.target.open || historyLoaded) return;
        historyLoaded = true;
        try {
          const hist = await call('GetHistory', { executionId: id });
          historyBox.replaceChildren(h('table', {},
            h('thead', {}, h('tr', {}, ['#', 'Time', 'Record', 'Type', 'State', 'Function', 'Attempt', 'Error'].map((c) => h('th', {}, c)))),
            h('tbody', {}, (hist.entries || []).map((en) => h('tr', {},
              h('td', {}, en.seq), h('td', {}, fmtTime(en.time)), h('td', {}, en.record), h('td', { class: 'mono' }, en.type || ''),
              h('td', {}, en.state || ''), h('td', {}, en.function || ''), h('td', {}, en.attempt || ''), h('td', { class: 'mono' }, en.error || ''))))));
        } catch (err) {
          historyBox.replaceChildren(errorBox(err));
        }
      },
    }, h('summary', {}, 'Log (every record)'), historyBox);

    render(
      h('h1', {}, 'Execution ', h('span', { class: 'mono', id: 'execution-id' }, x.id), h('span', { id: 'execution-status' }, badge(x.status))),
      h('div', { class: 'grid' },
        h('div', {},
          h('div', { class: 'panel' },
            h('h2', {}, 'Timeline'),
            h('p', { class: 'muted', id: 'trace-summary' }, steps.length + ' steps, ' + (t.attempts || 0) + ' attempts, ' + (t.retries || 0) + ' retries' +
              (t0 ? ', ' + fmtDuration(tEnd - t0) + (t.end ? '' : ' so far') : '')),
            h('div', { class: 'timeline', id: 'timeline' }, timeline.length ? timeline : h('p', { class: 'muted' }, 'No step yet.'))),
          history),
        h('div', {},
          h('div', { class: 'panel' },
            h('h2', {}, 'Execution'),
            h('dl', { class: 'facts' },
              h('dt', {}, 'Workflow'), h('dd', {}, x.workflow ? link('#/workflows/' + encodeURIComponent(x.workflow) + '?version=' + x.version, x.workflow + ' v' + x.version, { id: 'execution-workflow' }) : h('span', { class: 'mono' }, x.digest)),
              h('dt', {}, 'Status'), h('dd', {}, badge(x.status)),
              h('dt', {}, 'Started'), h('dd', {}, fmtTime(x.createdAt)),
              h('dt', {}, x.terminal ? 'Ended' : 'Updated'), h('dd', {}, fmtTime(x.updatedAt) + (x.terminal ? ' (took ' + fmtDuration(ms(x.createdAt, x.updatedAt)) + ')' : '')),
              h('dt', {}, 'Records'), h('dd', {}, String(x.records || 0)),
              x.error ? [h('dt', {}, 'Error'), h('dd', { class: 'mono', id: 'execution-error' }, x.error)] : null,
              x.cause ? [h('dt', {}, 'Cause'), h('dd', {}, x.cause)] : null),
            h('h2', {}, 'Input'), jsonBlock(x.input),
            x.terminal && x.status === 'succeeded' ? [h('h2', {}, 'Output'), h('div', { id: 'execution-output' }, jsonBlock(x.output))] : null),
          h('div', { class: 'panel' }, h('h2', {}, 'Path on the graph'), graphBox))));

    if (x.workflow) {
      try {
        const g = await call('GetWorkflowGraph', { name: x.workflow, version: String(x.version), executionId: id });
        if (!live()) return;
        graphBox.replaceChildren(svgOf(g.svg || ''));
        graphBox.dataset.ready = 'execution';
      } catch (err) {
        if (live()) graphBox.replaceChildren(errorBox(err));
      }
    } else {
      graphBox.replaceChildren(h('p', { class: 'muted' }, 'The version this execution runs is not deployed in this namespace.'));
    }
    // A running execution: wait for its end on the server (long poll),
    // then draw it again.
    if (!x.terminal && live()) {
      call('GetExecution', { executionId: id, waitMs: 30000 })
        .catch(() => { /* drawn again below, error and all */ })
        .then(() => { if (live()) route(); });
    }
  }

  // ---- start -----------------------------------------------------------------

  document.getElementById('forget').addEventListener('click', () => { setToken(''); route(); });
  window.addEventListener('hashchange', route);
  memoryToken = token();
  route();
})();
