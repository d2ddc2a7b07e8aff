// Starling dashboard: a single page over the broker's admin API (/api/v1).
// Plain JavaScript, no dependencies. Every value that comes from the broker is put
// into the page as text (textContent, attributes), never as markup.
'use strict';

(function () {
  const API = '/api/v1';
  const TOKEN_KEY = 'starling.token';
  const POLL_MS = 2000;
  const WINDOW_SECONDS = 600; // the charts show at most the last ten minutes
  const MIN_SPAN_SECONDS = 120; // and at least two minutes of axis
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const NEVER_EXPIRES = 4294967295;

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- DOM helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) return;
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.setAttribute('class', value);
      else if (key === 'text') node.textContent = value;
      else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
  }

  function append(node, children) {
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  // ---------------------------------------------------------------- formatting

  const numberFormat = new Intl.NumberFormat();

  function fmtInt(value) {
    return typeof value === 'number' ? numberFormat.format(value) : '–';
  }

  function fmtRate(value) {
    if (typeof value !== 'number' || !isFinite(value)) return '–';
    if (value === 0) return '0';
    if (value < 10) return value.toFixed(1);
    return numberFormat.format(Math.round(value));
  }

  function fmtBytes(value) {
    if (typeof value !== 'number') return '–';
    if (value < 1024) return value + ' B';
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let v = value / 1024;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
    return (v < 10 ? v.toFixed(1) : Math.round(v)) + ' ' + units[i];
  }

  function fmtDuration(seconds) {
    if (typeof seconds !== 'number' || !isFinite(seconds)) return '–';
    seconds = Math.max(0, Math.floor(seconds));
    const d = Math.floor(seconds / 86400);
    const h = Math.floor((seconds % 86400) / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    if (d > 0) return `${d} d ${h} h`;
    if (h > 0) return `${h} h ${m} min`;
    if (m > 0) return `${m} min ${s} s`;
    return `${s} s`;
  }

  function fmtDateTime(epochSeconds) {
    if (typeof epochSeconds !== 'number') return '–';
    return new Date(epochSeconds * 1000).toLocaleString();
  }

  function fmtClock(epochSeconds, withSeconds) {
    const d = new Date(epochSeconds * 1000);
    const pad = (n) => String(n).padStart(2, '0');
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + (withSeconds ? ':' + pad(d.getSeconds()) : '');
  }

  function fmtSessionExpiry(seconds) {
    if (seconds === NEVER_EXPIRES) return 'never expires';
    if (seconds === 0) return 'ends with the connection';
    return fmtDuration(seconds) + ' after disconnecting';
  }

  function orDash(value) {
    return value === undefined || value === null || value === '' ? '—' : String(value);
  }

  function query(params) {
    const parts = [];
    for (const [key, value] of Object.entries(params)) {
      if (value === undefined || value === null || value === '') continue;
      parts.push(encodeURIComponent(key) + '=' + encodeURIComponent(String(value)));
    }
    return parts.length ? '?' + parts.join('&') : '';
  }

  // ---------------------------------------------------------------- messages to the person

  function showError(context, error) {
    if (error && error.status === 401) return; // the token form says it
    const message = error && error.message ? error.message : String(error);
    $('error-text').textContent = context ? context + ': ' + message : message;
    $('error').hidden = false;
  }

  function clearError() {
    $('error').hidden = true;
    $('error-text').textContent = '';
  }

  function showNotice(message) {
    $('notice-text').textContent = message;
    $('notice').hidden = false;
  }

  function clearNotice() {
    $('notice').hidden = true;
    $('notice-text').textContent = '';
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }

  // The decoded JSON body, or with `full` { body, headers }.
  async function api(path, method, full) {
    const headers = { Accept: 'application/json' };
    const bearer = token();
    if (bearer) headers.Authorization = 'Bearer ' + bearer;
    let response;
    try {
      response = await fetch(API + path, { method: method || 'GET', headers, cache: 'no-store', credentials: 'same-origin' });
    } catch (e) {
      throw new ApiError(0, 'the broker did not answer (' + (e && e.message ? e.message : e) + ')');
    }
    if (response.status === 401) {
      showAuth(bearer ? 'The broker did not accept this token.' : '');
      throw new ApiError(401, 'credentials are missing or wrong');
    }
    const text = response.status === 204 ? '' : await response.text();
    let body = null;
    if (text) {
      try { body = JSON.parse(text); } catch (e) { body = null; }
    }
    if (!response.ok) {
      const message = body && typeof body.error === 'string'
        ? body.error
        : `HTTP ${response.status}${response.statusText ? ' ' + response.statusText : ''}`;
      throw new ApiError(response.status, message);
    }
    if (text && body === null) throw new ApiError(response.status, 'the answer is not JSON');
    return full ? { body, headers: response.headers } : body;
  }

  // ---------------------------------------------------------------- access token

  function showAuth(message) {
    const box = $('auth');
    const note = $('auth-error');
    note.textContent = message || '';
    note.hidden = !message;
    setLive(false, 'signed out');
    if (box.hidden) {
      box.hidden = false;
      $('auth-token').value = '';
      setTimeout(() => $('auth-token').focus(), 0);
    }
  }

  function setupAuth() {
    $('auth-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const value = $('auth-token').value.trim();
      if (!value) return;
      try { sessionStorage.setItem(TOKEN_KEY, value); } catch (e) { /* private mode: kept nowhere */ }
      $('auth').hidden = true;
      updateTokenButton();
      clearError();
      startStats();
      route();
    });
    $('forget-token').addEventListener('click', () => {
      try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* nothing kept */ }
      updateTokenButton();
      route();
    });
    updateTokenButton();
  }

  function updateTokenButton() {
    $('forget-token').hidden = !token();
  }

  // ---------------------------------------------------------------- statistics and charts

  const stats = {
    samples: [], // { t: client seconds, rx, tx, conn }
    offset: 0, // server clock minus client clock, in seconds, when they disagree
    historyLoaded: false,
    historyLoading: false,
    polling: false,
    timer: null,
    failing: false,
    last: null,
  };

  function nowSeconds() {
    return Date.now() / 1000;
  }

  async function loadHistory() {
    if (stats.historyLoaded || stats.historyLoading) return;
    stats.historyLoading = true;
    try {
      const response = await api('/stats/history', 'GET', true);
      const history = response.body;
      const raw = Array.isArray(history.samples) ? history.samples : [];
      // Samples carry the server's clock, live polls use this browser's: line them up
      // with the server's Date header when the two clocks clearly disagree.
      stats.offset = 0;
      const serverDate = Date.parse(response.headers.get('Date') || '');
      if (!isNaN(serverDate)) {
        const skew = serverDate / 1000 - nowSeconds();
        if (Math.abs(skew) > 3) stats.offset = skew;
      }
      const seeded = raw.map((s) => ({
        t: s.time - stats.offset,
        rx: s.messagesReceived,
        tx: s.messagesSent,
        conn: s.connections,
      }));
      const newestSeed = seeded.length ? seeded[seeded.length - 1].t : -Infinity;
      stats.samples = seeded.concat(stats.samples.filter((s) => s.t > newestSeed));
      stats.historyLoaded = true;
      drawCharts();
    } catch (error) {
      showError('Loading the statistics history', error);
    } finally {
      stats.historyLoading = false;
    }
  }

  async function pollStats() {
    if (stats.polling || document.hidden || !$('auth').hidden) return;
    stats.polling = true;
    try {
      const s = await api('/stats');
      stats.last = s;
      const t = nowSeconds();
      const previous = stats.samples[stats.samples.length - 1];
      if (!previous || t > previous.t + 1) { // a rate over a shorter time is mostly noise
        stats.samples.push({ t, rx: s.messages.received, tx: s.messages.sent, conn: s.connections.current });
      }
      const oldest = t - WINDOW_SECONDS - 30;
      while (stats.samples.length > 2 && stats.samples[0].t < oldest) stats.samples.shift();
      renderStats(s);
      drawCharts();
      pollNodes();
      setLive(true);
      if (stats.failing) {
        stats.failing = false;
        if (($('error-text').textContent || '').startsWith('Reading statistics')) clearError();
      }
    } catch (error) {
      setLive(false);
      if (!stats.failing) showError('Reading statistics', error);
      stats.failing = true;
    } finally {
      stats.polling = false;
    }
  }

  function setLive(ok, label) {
    const indicator = $('live-indicator');
    indicator.textContent = label || (ok ? 'live' : 'offline');
    indicator.classList.toggle('live-off', !ok);
  }

  function startStats() {
    loadHistory().finally(() => {
      pollStats();
      if (!stats.timer) stats.timer = setInterval(pollStats, POLL_MS);
    });
  }

  function renderStats(s) {
    $('stat-version').textContent = s.version;
    $('stat-uptime').textContent = fmtDuration(s.uptimeSeconds);
    $('stat-connections').textContent = fmtInt(s.connections.current);
    $('stat-connections-sub').textContent =
      `${fmtInt(s.connections.hibernating)} hibernating · ${fmtInt(s.connections.accepted)} accepted`;
    $('stat-sessions').textContent = fmtInt(s.sessions.current);
    $('stat-sessions-offline').textContent = fmtInt(s.sessions.offline);
    $('stat-subscriptions').textContent = fmtInt(s.subscriptions.current);
    $('stat-subscriptions-shared').textContent = fmtInt(s.subscriptions.shared);
    $('stat-retained').textContent = fmtInt(s.retained.messages);
    $('stat-retained-bytes').textContent = fmtBytes(s.retained.bytes);
    $('stat-messages-in').textContent = fmtInt(s.messages.received);
    $('stat-bytes-in').textContent = fmtBytes(s.bytes.received) + ' received';
    $('stat-messages-out').textContent = fmtInt(s.messages.sent);
    $('stat-bytes-out').textContent = fmtBytes(s.bytes.sent) + ' sent';
    $('stat-drops').textContent = fmtInt(s.messages.dropped);
    const d = s.drops;
    const reasons = [[d.queueFull, 'queue full'], [d.queueBytesFull, 'queue bytes full'], [d.tooLarge, 'too large'], [d.expired, 'expired']];
    const nonzero = reasons.filter((r) => r[0] > 0);
    $('stat-drops-sub').textContent = nonzero.length ? nonzero.map((r) => `${fmtInt(r[0])} ${r[1]}`).join(' · ') : 'none so far';
    $('stat-drops-sub').title = reasons.map((r) => `${r[1]}: ${fmtInt(r[0])}`).join('\n');
  }

  // The cluster's nodes as this node sees them; the card stays hidden on a broker on its own.
  async function pollNodes() {
    try {
      renderNodes(await api('/nodes'));
    } catch (error) {
      // Reported by the statistics' poll, which fails the same way.
    }
  }

  function renderNodes(body) {
    const card = $('nodes-card');
    card.hidden = !body.clustered;
    if (!body.clustered) return;
    const alive = body.nodes.filter((n) => n.alive).length;
    $('nodes-summary').textContent = `${fmtInt(alive)} of ${fmtInt(body.nodes.length)} alive`;
    setRows($('nodes-body'), body.nodes.map((n) => el('tr', { 'data-node': n.name },
      el('td', null, el('strong', { text: n.name })),
      el('td', { class: 'mono', text: n.address }),
      el('td', null,
        n.self ? badge('this node', 'info') : (n.alive ? badge('alive', 'ok') : badge('gone', 'bad')),
        !n.self && n.alive ? [' ', n.linked ? badge('linked', 'ok') : badge('not linked', 'muted')] : null),
      el('td', { class: 'num', text: fmtInt(n.routes) }),
      el('td', { class: 'num', text: n.self ? '—' : fmtInt(n.forwardedFrom) }))), 5, 'No nodes');
  }

  function ratePoints() {
    const rin = [];
    const rout = [];
    const samples = stats.samples;
    for (let i = 1; i < samples.length; i += 1) {
      const a = samples[i - 1];
      const b = samples[i];
      const dt = b.t - a.t;
      if (dt <= 0) continue;
      const din = b.rx - a.rx;
      const dout = b.tx - a.tx;
      if (din < 0 || dout < 0) continue; // the broker restarted: counters began again
      rin.push([b.t, din / dt]);
      rout.push([b.t, dout / dt]);
    }
    return { rin, rout };
  }

  function drawCharts() {
    const now = nowSeconds();
    const { rin, rout } = ratePoints();
    drawChart($('chart-messages'), {
      now,
      unit: 'msg/s',
      integer: false,
      series: [
        { name: 'in', cls: 'line-in', points: rin },
        { name: 'out', cls: 'line-out', points: rout },
      ],
    });
    drawChart($('chart-connections'), {
      now,
      unit: 'clients',
      integer: true,
      series: [{ name: 'connected', cls: 'line-conn', points: stats.samples.map((s) => [s.t, s.conn]) }],
    });
    const lastIn = rin.length ? rin[rin.length - 1][1] : null;
    const lastOut = rout.length ? rout[rout.length - 1][1] : null;
    $('rate-now').textContent = lastIn === null ? '' : `now ${fmtRate(lastIn)} in · ${fmtRate(lastOut)} out msg/s`;
  }

  function niceStep(raw) {
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const fraction = raw / power;
    const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10;
    return nice * power;
  }

  function drawChart(container, spec) {
    const all = spec.series.flatMap((s) => s.points);
    const max = all.reduce((m, p) => Math.max(m, p[1]), 0);
    container.setAttribute('data-points', String(spec.series[0].points.length));
    container.setAttribute('data-max', String(Math.round(max * 1000) / 1000));

    const width = Math.max(container.clientWidth, 240);
    const height = window.innerWidth < 600 ? 170 : 210;
    const m = { left: 46, right: 14, top: 22, bottom: 28 };
    const plotW = width - m.left - m.right;
    const plotH = height - m.top - m.bottom;

    const oldest = all.length ? Math.min(...all.map((p) => p[0])) : spec.now;
    const span = Math.min(WINDOW_SECONDS, Math.max(MIN_SPAN_SECONDS, spec.now - oldest));
    const t0 = spec.now - span;
    let step = niceStep(Math.max(max, spec.integer ? 4 : 1) / 4);
    if (spec.integer) step = Math.max(1, Math.ceil(step));
    const top = max > 0 ? Math.max(step, Math.ceil(max / step) * step) : step * 4;
    const x = (t) => m.left + ((t - t0) / span) * plotW;
    const y = (v) => m.top + plotH - (v / top) * plotH;

    const root = svg('svg', {
      width, height, viewBox: `0 0 ${width} ${height}`, class: 'chart-svg', 'aria-hidden': 'true',
    });

    // horizontal grid and value labels
    for (let v = 0; v <= top + step / 2; v += step) {
      const yy = Math.round(y(v)) + 0.5;
      root.appendChild(svg('line', { x1: m.left, x2: width - m.right, y1: yy, y2: yy, class: v === 0 ? 'axis' : 'grid' }));
      root.appendChild(svg('text', { x: m.left - 6, y: yy + 4, class: 'tick', 'text-anchor': 'end', text: fmtTick(v, step) }));
    }
    // time labels
    const steps = [15, 30, 60, 120, 300, 600];
    const maxLabels = Math.max(2, Math.floor(plotW / 90));
    const tStep = steps.find((s) => span / s <= maxLabels) || 600;
    for (let t = Math.ceil(t0 / tStep) * tStep; t <= spec.now; t += tStep) {
      const xx = Math.round(x(t)) + 0.5;
      root.appendChild(svg('line', { x1: xx, x2: xx, y1: m.top + plotH, y2: m.top + plotH + 4, class: 'axis' }));
      const anchor = xx > width - 28 ? 'end' : 'middle'; // the newest label stays inside the chart
      root.appendChild(svg('text', {
        x: anchor === 'end' ? width - 2 : xx, y: height - 8, class: 'tick', 'text-anchor': anchor, text: fmtClock(t, tStep < 60),
      }));
    }
    root.appendChild(svg('text', { x: 2, y: 11, class: 'unit', text: spec.unit }));

    const clip = 'clip-' + container.id;
    root.appendChild(svg('clipPath', { id: clip }, svg('rect', { x: m.left, y: m.top - 2, width: plotW, height: plotH + 4 })));
    for (const series of spec.series) {
      const pts = series.points.filter((p) => p[0] >= t0 - 60);
      if (!pts.length) continue;
      const d = pts.map((p, i) => (i ? 'L' : 'M') + x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1)).join('');
      if (spec.series.length === 1) {
        const area = d + `L${x(pts[pts.length - 1][0]).toFixed(1)},${y(0)}L${x(pts[0][0]).toFixed(1)},${y(0)}Z`;
        root.appendChild(svg('path', { d: area, class: 'area ' + series.cls, 'clip-path': `url(#${clip})` }));
      }
      root.appendChild(svg('path', { d, class: 'line ' + series.cls, 'clip-path': `url(#${clip})` }));
      const last = pts[pts.length - 1];
      root.appendChild(svg('circle', { cx: x(last[0]).toFixed(1), cy: y(last[1]).toFixed(1), r: 3, class: 'dot ' + series.cls }));
    }
    if (!all.length) {
      root.appendChild(svg('text', {
        x: m.left + plotW / 2, y: m.top + plotH / 2, class: 'empty', 'text-anchor': 'middle', text: 'Waiting for samples…',
      }));
    }

    // hover read-out
    const cursor = svg('line', { x1: 0, x2: 0, y1: m.top, y2: m.top + plotH, class: 'cursor', visibility: 'hidden' });
    root.appendChild(cursor);
    const tip = el('div', { class: 'chart-tip', hidden: true });
    const hit = svg('rect', { x: m.left, y: m.top, width: plotW, height: plotH, class: 'hit' });
    root.appendChild(hit);
    const reference = spec.series[0].points;
    // The chart is drawn again on every poll: the read-out follows the pointer across redraws.
    const showAt = (px) => {
      if (!reference.length) return;
      const t = t0 + ((px - m.left) / plotW) * span;
      let best = 0;
      for (let i = 1; i < reference.length; i += 1) {
        if (Math.abs(reference[i][0] - t) < Math.abs(reference[best][0] - t)) best = i;
      }
      const at = reference[best][0];
      const xx = x(at);
      cursor.setAttribute('x1', xx);
      cursor.setAttribute('x2', xx);
      cursor.setAttribute('visibility', 'visible');
      const lines = spec.series.map((s) => {
        const p = s.points.find((q) => q[0] === at) || s.points[best];
        return `${s.name} ${p ? (spec.integer ? fmtInt(p[1]) : fmtRate(p[1])) : '–'}`;
      });
      tip.textContent = fmtClock(at, true) + ' · ' + lines.join(' · ');
      tip.hidden = false;
      tip.style.left = Math.min(Math.max(xx - 60, 0), width - 180) + 'px';
      tip.style.top = (m.top + 2) + 'px';
    };
    hit.addEventListener('mousemove', (event) => {
      const px = event.clientX - root.getBoundingClientRect().left;
      container.dataset.hoverX = String(px);
      showAt(px);
    });
    hit.addEventListener('mouseleave', () => {
      delete container.dataset.hoverX;
      cursor.setAttribute('visibility', 'hidden');
      tip.hidden = true;
    });
    if (container.dataset.hoverX !== undefined) showAt(Number(container.dataset.hoverX));

    clear(container);
    container.appendChild(root);
    container.appendChild(tip);
  }

  function fmtTick(value, step) {
    if (step >= 1) return numberFormat.format(Math.round(value));
    let decimals = 0;
    while (decimals < 4 && Math.abs(step * Math.pow(10, decimals) - Math.round(step * Math.pow(10, decimals))) > 1e-9) decimals += 1;
    return value.toFixed(decimals);
  }

  // ---------------------------------------------------------------- tables and pages

  function setRows(tbody, rows, columns, emptyText) {
    clear(tbody);
    if (!rows.length) {
      tbody.appendChild(el('tr', { class: 'empty-row' }, el('td', { colspan: columns, text: emptyText })));
      return;
    }
    for (const row of rows) tbody.appendChild(row);
  }

  function loadingRow(tbody, columns) {
    if (tbody.children.length && !tbody.querySelector('.empty-row')) return; // keep the old rows while reloading
    setRows(tbody, [], columns, 'Loading…');
  }

  function pager(prefix, page, state, reload) {
    const total = page.total;
    const from = total === 0 ? 0 : page.offset + 1;
    const to = page.offset + (page.items || 0);
    $(prefix + '-summary').textContent = total === 0 ? 'Nothing to show' : `${fmtInt(from)}–${fmtInt(to)} of ${fmtInt(total)}`;
    const prev = $(prefix + '-prev');
    const next = $(prefix + '-next');
    prev.disabled = page.offset <= 0;
    next.disabled = page.offset + state.limit >= total;
    prev.onclick = () => { state.offset = Math.max(0, state.offset - state.limit); reload(); };
    next.onclick = () => { state.offset += state.limit; reload(); };
  }

  function clickableRow(href, attrs, cells) {
    const row = el('tr', Object.assign({ class: 'clickable', tabindex: '0' }, attrs), cells);
    const go = () => { location.hash = href; };
    row.addEventListener('click', (event) => {
      if (event.target.closest('a')) return; // a link inside the row goes by itself
      go();
    });
    row.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') go();
    });
    return row;
  }

  function badge(text, kind) {
    return el('span', { class: 'badge badge-' + kind, text });
  }

  function sequence() {
    let current = 0;
    return { next: () => ++current, is: (n) => n === current };
  }

  // ---------------------------------------------------------------- clients

  const clientsState = { prefix: '', filter: 'all', offset: 0, limit: 50 };
  const clientsSeq = sequence();

  async function loadClients() {
    const n = clientsSeq.next();
    const tbody = $('clients-body');
    loadingRow(tbody, 8);
    const connected = clientsState.filter === 'connected' ? 'true' : clientsState.filter === 'offline' ? 'false' : '';
    try {
      const q = query({ prefix: clientsState.prefix, connected, offset: clientsState.offset, limit: clientsState.limit });
      const page = await api('/clients' + q);
      if (!clientsSeq.is(n)) return;
      if (page.clients.length === 0 && page.total > 0 && clientsState.offset > 0) {
        clientsState.offset = Math.max(0, Math.floor((page.total - 1) / clientsState.limit) * clientsState.limit);
        return loadClients();
      }
      const rows = page.clients.map((c) => {
        const href = '#/clients/' + encodeURIComponent(c.clientId);
        return clickableRow(href, { 'data-client-id': c.clientId, 'data-testid': 'client-row' }, [
          el('td', { class: 'mono strong' }, el('a', { href, text: c.clientId || '(empty)' })),
          el('td', null, c.connected ? badge('connected', 'ok') : badge('offline', 'muted')),
          el('td', { text: orDash(c.userName) }),
          el('td', { class: 'mono', text: orDash(c.address) }),
          el('td', { text: c.protocolVersion ? 'MQTT ' + c.protocolVersion : '—' }),
          el('td', { class: 'nowrap', text: c.connectedSince ? fmtDateTime(c.connectedSince) : '—' }),
          el('td', { class: 'num', text: fmtInt(c.subscriptions) }),
          el('td', { class: 'num', text: fmtInt(c.queued) }),
        ]);
      });
      setRows(tbody, rows, 8, clientsState.prefix ? 'No client id starts with this.' : 'No clients.');
      pager('clients', { total: page.total, offset: page.offset, items: page.clients.length }, clientsState, loadClients);
      $('clients-table').setAttribute('data-query', q);
    } catch (error) {
      if (!clientsSeq.is(n)) return;
      setRows(tbody, [], 8, 'Could not load the clients.');
      showError('Loading clients', error);
    }
  }

  function setupClients() {
    const search = $('clients-search');
    const reloadFromStart = () => { clientsState.offset = 0; loadClients(); };
    search.addEventListener('input', debounce(() => {
      clientsState.prefix = search.value;
      reloadFromStart();
    }, 250));
    $('clients-form').addEventListener('submit', (event) => {
      event.preventDefault();
      clientsState.prefix = search.value;
      reloadFromStart();
    });
    $('clients-filter').addEventListener('change', (event) => {
      clientsState.filter = event.target.value;
      reloadFromStart();
    });
    $('clients-limit').addEventListener('change', (event) => {
      clientsState.limit = Number(event.target.value);
      reloadFromStart();
    });
    $('clients-refresh').addEventListener('click', loadClients);
  }

  // ---------------------------------------------------------------- one client

  let currentClient = null;
  let pendingKick = null;
  const clientSeq = sequence();

  function detailList(entries) {
    const list = el('dl', { class: 'details' });
    for (const [label, value, key] of entries) {
      list.appendChild(el('div', { class: 'detail', 'data-field': key },
        el('dt', { text: label }),
        el('dd', null, value instanceof Node ? value : String(value))));
    }
    return list;
  }

  async function loadClient(id) {
    const n = clientSeq.next();
    currentClient = id;
    $('client-title').textContent = id;
    const detail = $('client-detail');
    clear(detail).appendChild(el('p', { class: 'subtle', text: 'Loading…' }));
    setRows($('client-subscriptions-body'), [], 6, 'Loading…');
    $('client-confirm').hidden = true;
    pendingKick = null;
    try {
      const c = await api('/clients/' + encodeURIComponent(id));
      if (!clientSeq.is(n)) return;
      renderClient(c);
    } catch (error) {
      if (!clientSeq.is(n)) return;
      clear(detail).appendChild(el('p', { class: 'missing', 'data-testid': 'client-missing', text: error.status === 404 ? 'No session has this client identifier (any more).' : 'Could not load this client.' }));
      setRows($('client-subscriptions-body'), [], 6, '—');
      setKickEnabled(false);
      if (error.status !== 404) showError('Loading client ' + id, error);
    }
  }

  function setKickEnabled(enabled) {
    $('client-kick').disabled = !enabled;
    $('client-kick-discard').disabled = !enabled;
  }

  function renderClient(c) {
    const known = [
      ['Client id', el('span', { class: 'mono', text: c.clientId }), 'clientId'],
      ['State', c.connected ? badge('connected', 'ok') : badge('offline', 'muted'), 'connected'],
      ['User', orDash(c.userName), 'userName'],
      ['Address', el('span', { class: 'mono', text: orDash(c.address) }), 'address'],
      ['Protocol', c.protocolVersion ? 'MQTT ' + c.protocolVersion : '—', 'protocolVersion'],
      ['Keep alive', typeof c.keepAlive === 'number' ? (c.keepAlive === 0 ? 'off' : c.keepAlive + ' s') : '—', 'keepAlive'],
      ['Connected since', c.connectedSince ? fmtDateTime(c.connectedSince) : '—', 'connectedSince'],
      ['Session expiry', typeof c.sessionExpiry === 'number' ? fmtSessionExpiry(c.sessionExpiry) : '—', 'sessionExpiry'],
      ['Subscriptions', fmtInt(c.subscriptions), 'subscriptions'],
      ['In flight', fmtInt(c.inflight), 'inflight'],
      ['Queued', fmtInt(c.queued), 'queued'],
    ];
    const shown = new Set(known.map((k) => k[2]).concat(['subscriptionList']));
    for (const [key, value] of Object.entries(c)) {
      if (!shown.has(key)) known.push([key, typeof value === 'object' ? JSON.stringify(value) : orDash(value), key]);
    }
    clear($('client-detail')).appendChild(detailList(known));
    setKickEnabled(true);
    const subs = (c.subscriptionList || []).map((s) => el('tr', { 'data-filter': s.filter },
      el('td', { class: 'mono strong', text: s.filter }),
      el('td', { class: 'num', text: String(s.qos) }),
      el('td', { text: s.noLocal ? 'yes' : 'no' }),
      el('td', { text: s.retainAsPublished ? 'yes' : 'no' }),
      el('td', { class: 'num', text: String(s.retainHandling) }),
      el('td', { class: 'num', text: orDash(s.subscriptionIdentifier) })));
    setRows($('client-subscriptions-body'), subs, 6, 'No subscriptions.');
  }

  function setupClient() {
    const ask = (discard) => {
      pendingKick = { discard };
      $('client-confirm-text').textContent = discard
        ? `Disconnect ${currentClient} and end its session (its subscriptions and queued messages go)?`
        : `Disconnect ${currentClient}? Its session stays.`;
      $('client-confirm').hidden = false;
      $('client-result').hidden = true;
      $('client-confirm-yes').focus();
    };
    $('client-kick').addEventListener('click', () => ask(false));
    $('client-kick-discard').addEventListener('click', () => ask(true));
    $('client-confirm-no').addEventListener('click', () => {
      pendingKick = null;
      $('client-confirm').hidden = true;
    });
    $('client-confirm-yes').addEventListener('click', async () => {
      if (!pendingKick || currentClient === null) return;
      const id = currentClient;
      const discard = pendingKick.discard;
      pendingKick = null;
      $('client-confirm').hidden = true;
      setKickEnabled(false);
      try {
        const result = await api('/clients/' + encodeURIComponent(id) + (discard ? '?discard=true' : ''), 'DELETE');
        const parts = [result.disconnected ? 'Disconnected.' : 'The client was not connected.'];
        if (result.discarded) parts.push('Session discarded.');
        const out = $('client-result');
        out.textContent = parts.join(' ');
        out.hidden = false;
        if (currentClient === id) await loadClient(id);
        $('client-result').hidden = false;
      } catch (error) {
        setKickEnabled(true);
        showError('Disconnecting ' + id, error);
      }
    });
  }

  // ---------------------------------------------------------------- subscriptions

  const subsState = { client: '', filter: '', group: '', offset: 0, limit: 100 };
  const subsSeq = sequence();

  async function loadSubscriptions() {
    const n = subsSeq.next();
    const tbody = $('subscriptions-body');
    loadingRow(tbody, 4);
    try {
      const q = query({
        client: subsState.client, filter: subsState.filter, group: subsState.group,
        offset: subsState.offset, limit: subsState.limit,
      });
      const page = await api('/subscriptions' + q);
      if (!subsSeq.is(n)) return;
      const rows = page.subscriptions.map((s) => {
        const href = '#/clients/' + encodeURIComponent(s.clientId);
        return el('tr', { 'data-client-id': s.clientId, 'data-filter': s.filter },
          el('td', { class: 'mono' }, el('a', { href, text: s.clientId })),
          el('td', { class: 'mono strong', text: s.filter }),
          el('td', null, s.group ? badge(s.group, 'info') : '—'),
          el('td', { class: 'num', text: String(s.qos) }));
      });
      setRows(tbody, rows, 4, 'No subscriptions match.');
      pager('subscriptions', { total: page.total, offset: page.offset, items: page.subscriptions.length }, subsState, loadSubscriptions);
      $('subscriptions-table').setAttribute('data-query', q);
    } catch (error) {
      if (!subsSeq.is(n)) return;
      setRows(tbody, [], 4, 'Could not load the subscriptions.');
      showError('Loading subscriptions', error);
    }
  }

  function setupSubscriptions() {
    const read = () => {
      subsState.client = $('subscriptions-client').value;
      subsState.filter = $('subscriptions-filter').value;
      subsState.group = $('subscriptions-group').value;
      subsState.offset = 0;
      loadSubscriptions();
    };
    const later = debounce(read, 300);
    for (const id of ['subscriptions-client', 'subscriptions-filter', 'subscriptions-group']) {
      $(id).addEventListener('input', later);
    }
    $('subscriptions-form').addEventListener('submit', (event) => { event.preventDefault(); read(); });
    $('subscriptions-refresh').addEventListener('click', loadSubscriptions);
  }

  // ---------------------------------------------------------------- retained messages

  const retainedState = { pattern: '', offset: 0, limit: 100 };
  const retainedSeq = sequence();

  function payloadPreview(m) {
    if (m.payloadSize === 0) return el('span', { class: 'subtle', text: '(empty)' });
    if (typeof m.payload === 'string') {
      const text = m.payload.length > 120 ? m.payload.slice(0, 120) + '…' : m.payload;
      return el('span', { class: 'mono payload-text', text });
    }
    const b64 = m.payloadBase64 || '';
    return el('span', null, badge('base64', 'muted'), ' ',
      el('span', { class: 'mono payload-text', text: b64.length > 80 ? b64.slice(0, 80) + '…' : b64 }));
  }

  async function loadRetained() {
    const n = retainedSeq.next();
    const tbody = $('retained-body');
    loadingRow(tbody, 4);
    try {
      const q = query({ pattern: retainedState.pattern, offset: retainedState.offset, limit: retainedState.limit });
      const page = await api('/retained' + q);
      if (!retainedSeq.is(n)) return;
      const rows = page.messages.map((m) => {
        const href = '#/retained/' + encodeURIComponent(m.topic);
        return clickableRow(href, { 'data-topic': m.topic, 'data-testid': 'retained-row' }, [
          el('td', { class: 'mono strong' }, el('a', { href, text: m.topic })),
          el('td', { class: 'num', text: String(m.qos) }),
          el('td', { class: 'num nowrap', text: fmtBytes(m.payloadSize) }),
          el('td', { class: 'payload-cell' }, payloadPreview(m)),
        ]);
      });
      setRows(tbody, rows, 4, retainedState.pattern ? 'No retained message matches this pattern.' : 'No retained messages.');
      pager('retained', { total: page.total, offset: page.offset, items: page.messages.length }, retainedState, loadRetained);
      $('retained-table').setAttribute('data-query', q);
    } catch (error) {
      if (!retainedSeq.is(n)) return;
      setRows(tbody, [], 4, 'Could not load the retained messages.');
      showError('Loading retained messages', error);
    }
  }

  function setupRetained() {
    const read = () => {
      retainedState.pattern = $('retained-pattern').value.trim();
      retainedState.offset = 0;
      loadRetained();
    };
    $('retained-form').addEventListener('submit', (event) => { event.preventDefault(); read(); });
    $('retained-refresh').addEventListener('click', loadRetained);
  }

  let currentTopic = null;
  const retainedMessageSeq = sequence();

  async function loadRetainedMessage(topic) {
    const n = retainedMessageSeq.next();
    currentTopic = topic;
    $('retained-title').textContent = topic;
    $('retained-confirm').hidden = true;
    $('retained-result').hidden = true;
    $('retained-delete').disabled = true;
    const detail = clear($('retained-detail'));
    detail.appendChild(el('p', { class: 'subtle', text: 'Loading…' }));
    $('retained-payload').textContent = '';
    try {
      const m = await api('/retained/' + encodeURIComponent(topic));
      if (!retainedMessageSeq.is(n)) return;
      const p = m.properties || {};
      const entries = [
        ['Topic', el('span', { class: 'mono', text: m.topic }), 'topic'],
        ['QoS', String(m.qos), 'qos'],
        ['Size', `${fmtBytes(m.payloadSize)} (${fmtInt(m.payloadSize)} bytes)`, 'payloadSize'],
        ['Payload', typeof m.payload === 'string' ? 'UTF-8 text' : 'binary (shown as base64)', 'format'],
      ];
      if (p.payloadFormatIndicator !== undefined) entries.push(['Payload format indicator', String(p.payloadFormatIndicator), 'payloadFormatIndicator']);
      if (p.messageExpiryInterval !== undefined) entries.push(['Message expiry', fmtDuration(p.messageExpiryInterval), 'messageExpiryInterval']);
      if (p.contentType !== undefined) entries.push(['Content type', p.contentType, 'contentType']);
      if (p.responseTopic !== undefined) entries.push(['Response topic', el('span', { class: 'mono', text: p.responseTopic }), 'responseTopic']);
      if (p.correlationData !== undefined) entries.push(['Correlation data (base64)', el('span', { class: 'mono', text: p.correlationData }), 'correlationData']);
      if (Array.isArray(p.userProperties) && p.userProperties.length) {
        entries.push(['User properties', el('ul', { class: 'plain' },
          p.userProperties.map((u) => el('li', null, el('span', { class: 'mono strong', text: u.name }), ' = ', el('span', { class: 'mono', text: u.value })))), 'userProperties']);
      }
      clear(detail).appendChild(detailList(entries));
      const isText = typeof m.payload === 'string';
      $('retained-payload-title').textContent = isText ? 'Payload' : 'Payload (base64)';
      $('retained-payload').textContent = isText ? m.payload : m.payloadBase64;
      $('retained-payload').classList.toggle('empty', m.payloadSize === 0);
      if (m.payloadSize === 0) $('retained-payload').textContent = '(empty payload)';
      $('retained-delete').disabled = false;
    } catch (error) {
      if (!retainedMessageSeq.is(n)) return;
      clear(detail).appendChild(el('p', { class: 'missing', text: error.status === 404 ? 'This topic has no retained message.' : 'Could not load this retained message.' }));
      if (error.status !== 404) showError('Loading the retained message of ' + topic, error);
    }
  }

  function setupRetainedMessage() {
    $('retained-delete').addEventListener('click', () => {
      $('retained-confirm').hidden = false;
      $('retained-result').hidden = true;
      $('retained-confirm-yes').focus();
    });
    $('retained-confirm-no').addEventListener('click', () => { $('retained-confirm').hidden = true; });
    $('retained-confirm-yes').addEventListener('click', async () => {
      if (currentTopic === null) return;
      const topic = currentTopic;
      $('retained-confirm').hidden = true;
      $('retained-delete').disabled = true;
      try {
        await api('/retained/' + encodeURIComponent(topic), 'DELETE');
        showNotice('Deleted the retained message of ' + topic + '.');
        location.hash = '#/retained';
      } catch (error) {
        $('retained-delete').disabled = false;
        showError('Deleting the retained message of ' + topic, error);
      }
    });
  }

  // ---------------------------------------------------------------- topics

  const topicsState = { prefix: '' };
  const topicsSeq = sequence();
  const TOPIC_LIMIT = 1000;

  function buildTree(topics) {
    const root = { children: new Map() };
    for (const t of topics) {
      let node = root;
      const levels = t.filter.split('/');
      levels.forEach((level, i) => {
        if (!node.children.has(level)) {
          node.children.set(level, { name: level, path: levels.slice(0, i + 1).join('/'), children: new Map(), subscribers: null });
        }
        node = node.children.get(level);
      });
      node.subscribers = t.subscribers;
    }
    return root;
  }

  function renderTree(node) {
    const list = el('ul', { class: 'tree-level' });
    const names = Array.from(node.children.keys()).sort();
    for (const name of names) {
      const child = node.children.get(name);
      const label = el('span', { class: 'tree-label' },
        el('span', { class: 'tree-name mono' + (name === '' ? ' tree-empty' : ''), text: name === '' ? '(empty level)' : name }),
        child.subscribers !== null
          ? el('span', { class: 'count', title: `${child.path}: ${child.subscribers} subscriber${child.subscribers === 1 ? '' : 's'}`, text: fmtInt(child.subscribers) })
          : null);
      const attrs = { class: 'tree-node', 'data-path': child.path };
      if (child.subscribers !== null) {
        attrs['data-filter'] = child.path;
        attrs['data-subscribers'] = String(child.subscribers);
      }
      if (child.children.size) {
        list.appendChild(el('li', attrs, el('details', { open: true }, el('summary', null, label), renderTree(child))));
      } else {
        list.appendChild(el('li', Object.assign(attrs, { class: 'tree-node leaf' }), label));
      }
    }
    return list;
  }

  async function loadTopics() {
    const n = topicsSeq.next();
    const tree = $('topics-tree');
    if (!tree.children.length) tree.appendChild(el('li', { class: 'subtle', text: 'Loading…' }));
    try {
      const q = query({ prefix: topicsState.prefix, limit: TOPIC_LIMIT });
      const page = await api('/topics' + q);
      if (!topicsSeq.is(n)) return;
      clear(tree);
      if (!page.topics.length) {
        tree.appendChild(el('li', { class: 'subtle', text: topicsState.prefix ? 'No topic filter starts with this.' : 'No subscriptions, so no topic filters.' }));
      } else {
        const top = renderTree(buildTree(page.topics));
        while (top.firstChild) tree.appendChild(top.firstChild);
      }
      tree.setAttribute('data-query', q);
      const shown = page.topics.length;
      $('topics-summary').textContent = shown < page.total
        ? `First ${fmtInt(shown)} of ${fmtInt(page.total)} filters — narrow them with a prefix`
        : `${fmtInt(page.total)} filter${page.total === 1 ? '' : 's'}`;
    } catch (error) {
      if (!topicsSeq.is(n)) return;
      clear(tree).appendChild(el('li', { class: 'subtle', text: 'Could not load the topics.' }));
      showError('Loading topics', error);
    }
  }

  function setupTopics() {
    const input = $('topics-prefix');
    const read = () => { topicsState.prefix = input.value; loadTopics(); };
    input.addEventListener('input', debounce(read, 250));
    $('topics-form').addEventListener('submit', (event) => { event.preventDefault(); read(); });
    $('topics-refresh').addEventListener('click', loadTopics);
  }

  // ---------------------------------------------------------------- routing

  const VIEWS = ['overview', 'clients', 'client', 'subscriptions', 'retained', 'retained-message', 'topics', 'missing'];

  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, '');
    const slash = raw.indexOf('/');
    const name = (slash < 0 ? raw : raw.slice(0, slash)) || 'overview';
    let arg = null;
    if (slash >= 0 && slash < raw.length - 1) {
      try { arg = decodeURIComponent(raw.slice(slash + 1)); } catch (e) { arg = raw.slice(slash + 1); }
    }
    return { name, arg };
  }

  let previousRoute = '';

  function route() {
    const { name, arg } = parseHash();
    let view = 'missing';
    let load = null;
    if (name === 'overview') { view = 'overview'; load = drawCharts; }
    else if (name === 'clients' && arg === null) { view = 'clients'; load = loadClients; }
    else if (name === 'clients') { view = 'client'; load = () => loadClient(arg); }
    else if (name === 'subscriptions') { view = 'subscriptions'; load = loadSubscriptions; }
    else if (name === 'retained' && arg === null) { view = 'retained'; load = loadRetained; }
    else if (name === 'retained') { view = 'retained-message'; load = () => loadRetainedMessage(arg); }
    else if (name === 'topics') { view = 'topics'; load = loadTopics; }

    if (location.hash !== previousRoute) {
      clearError();
      if (previousRoute) $('client-result').hidden = true;
      previousRoute = location.hash;
    }
    for (const v of VIEWS) $('view-' + v).hidden = v !== view;
    const section = view === 'client' ? 'clients' : view === 'retained-message' ? 'retained' : view;
    for (const link of document.querySelectorAll('.nav a')) {
      if (link.dataset.view === section) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    document.title = 'Starling · ' + (document.querySelector('.nav a[aria-current] ') || { textContent: 'Dashboard' }).textContent;
    if (load) load();
  }

  // ---------------------------------------------------------------- start

  function start() {
    $('error-close').addEventListener('click', clearError);
    $('notice-close').addEventListener('click', clearNotice);
    setupAuth();
    setupClients();
    setupClient();
    setupSubscriptions();
    setupRetained();
    setupRetainedMessage();
    setupTopics();
    window.addEventListener('hashchange', () => {
      const { name, arg } = parseHash();
      if (!(name === 'retained' && arg === null)) clearNotice();
      route();
    });
    window.addEventListener('resize', debounce(drawCharts, 150));
    document.addEventListener('visibilitychange', () => { if (!document.hidden) pollStats(); });
    if (!location.hash) history.replaceState(null, '', '#/overview');
    route();
    startStats();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
