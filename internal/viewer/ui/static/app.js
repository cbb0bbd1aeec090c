// fluxloop viewer: a trace list, a trace page (tree + waterfall, virtualized),
// an observation detail panel, and a comparison of two traces. Plain
// JavaScript, no framework, no build step; the server embeds this file.
//
// Pages (history API, deep links served as index.html by the server):
//   /                     trace list (filters in the query string)
//   /trace/{id}           trace page
//   /trace/{id}/{oid}     trace page with an observation selected
//   /compare/{a}/{b}      two traces side by side
// Live updates come from one EventSource on /api/events.
'use strict';

(function () {
  const ROW_H = 24;
  const OVERSCAN = 8;

  // ---------- small helpers ----------
  const $ = (sel, el) => (el || document).querySelector(sel);
  const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  const esc = (s) => String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ESC[c]);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const k in attrs) {
        const v = attrs[k];
        if (v == null || v === false) continue;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = v;
        else if (k === 'html') e.innerHTML = v;
        else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v === true ? '' : v);
      }
    }
    for (const c of children.flat()) {
      if (c == null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // parseTime returns milliseconds since the epoch with sub-millisecond
  // precision (Date.parse drops everything below the millisecond).
  const TIME_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$/;
  // The seconds part is parsed once per distinct second (a trace's
  // timestamps share most of them).
  const secondCache = new Map();
  function parseTime(s) {
    if (!s) return null;
    if (typeof s === 'number') return s;
    // fast path: the server's UTC layout 2006-01-02T15:04:05.999999999Z
    if (s.length > 20 && s.charCodeAt(19) === 46 && s.charCodeAt(s.length - 1) === 90) {
      const sec = s.slice(0, 19);
      let b = secondCache.get(sec);
      if (b === undefined) {
        if (secondCache.size > 100000) secondCache.clear();
        b = Date.parse(sec + 'Z');
        secondCache.set(sec, b);
      }
      if (!isNaN(b)) return b + +('0' + s.slice(19, -1)) * 1000;
    }
    const m = TIME_RE.exec(s);
    if (!m) {
      const t = Date.parse(s);
      return isNaN(t) ? null : t;
    }
    const key = m[1] + (m[3] || 'Z');
    let base = secondCache.get(key);
    if (base === undefined) {
      if (secondCache.size > 100000) secondCache.clear();
      base = Date.parse(key);
      secondCache.set(key, base);
    }
    return base + (m[2] ? parseFloat('0' + m[2]) * 1000 : 0);
  }

  function fmtDur(ms) {
    if (ms == null || isNaN(ms)) return '';
    if (ms < 0) return '-' + fmtDur(-ms);
    if (ms === 0) return '0';
    if (ms < 0.001) return Math.round(ms * 1e6) + 'ns';
    if (ms < 1) return trim(ms * 1000, ms < 0.01 ? 2 : ms < 0.1 ? 1 : 0) + 'µs';
    if (ms < 1000) return trim(ms, ms < 10 ? 2 : ms < 100 ? 1 : 0) + 'ms';
    const s = ms / 1000;
    if (s < 60) return trim(s, s < 10 ? 2 : 1) + 's';
    const m = Math.floor(s / 60);
    if (m < 60) return m + 'm' + String(Math.round(s - m * 60)).padStart(2, '0') + 's';
    const h = Math.floor(m / 60);
    return h + 'h' + String(m - h * 60).padStart(2, '0') + 'm';
  }
  function trim(x, digits) {
    return String(+x.toFixed(digits));
  }
  const fmtInt = (n) => (n == null ? '' : Number(n).toLocaleString('en-US'));
  function fmtTokens(n) {
    if (!n) return '';
    if (n < 10000) return fmtInt(n);
    if (n < 1e6) return trim(n / 1000, 1) + 'k';
    return trim(n / 1e6, 2) + 'M';
  }
  function fmtCost(c) {
    if (c == null || c === '') return '';
    c = Number(c);
    if (!c) return '$0';
    return '$' + (c < 0.01 ? c.toPrecision(2) : c.toFixed(c < 1 ? 3 : 2));
  }
  function fmtClock(ms) {
    if (ms == null) return '';
    const d = new Date(ms);
    const now = new Date();
    const pad = (n, w) => String(n).padStart(w || 2, '0');
    const t = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + '.' + pad(d.getMilliseconds(), 3);
    if (d.toDateString() === now.toDateString()) return t;
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + t;
  }
  function parseDur(s) {
    const m = /^(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h|d)?$/.exec(s.trim());
    if (!m) return null;
    const v = parseFloat(m[1]);
    const mul = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 }[m[2] || 'ms'];
    return v * mul;
  }
  const shortId = (id) => (id ? String(id).slice(0, 8) : '');
  const typeClass = (t) => 't-' + (['agent', 'span', 'generation', 'tool', 'chain', 'event', 'evaluation'].includes(t) ? t : 'other');
  const isErrNode = (n) => !!(n.error || n.level === 'error' || n.level === 'ERROR');
  // A running node that has not been written yet has no name or type.
  const nodeName = (n) => n.name || (n.running ? '(running)' : '(unnamed)');
  const traceName = (s) => s.name || (s.in_progress ? '(in progress)' : '(unnamed)');

  async function api(path, opts) {
    const r = await fetch(path, opts);
    if (!r.ok) {
      const e = new Error(await errorText(r));
      e.status = r.status;
      throw e;
    }
    return r.json();
  }
  // errorText reads the server's {"error": "..."} answer.
  async function errorText(r) {
    let t = '';
    try { t = await r.text(); } catch (_) { /* ignore */ }
    try { const j = JSON.parse(t); if (j && j.error) return j.error; } catch (_) { /* not JSON */ }
    return r.status + ' ' + r.statusText + (t ? ': ' + t.slice(0, 300) : '');
  }

  let toastTimer = 0;
  function toast(msg) {
    const t = $('#toast');
    t.textContent = msg;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (t.hidden = true), 1600);
  }
  async function copy(text, what) {
    try {
      if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(text);
      else throw new Error('no clipboard');
    } catch (_) {
      const ta = el('textarea', { style: 'position:fixed;left:-9999px' });
      ta.value = text;
      document.body.append(ta);
      ta.select();
      try { document.execCommand('copy'); } catch (_) { /* ignore */ }
      ta.remove();
    }
    window.__fluxloopLastCopy = text;
    toast('copied ' + (what || ''));
  }
  const pretty = (v) => (typeof v === 'string' ? v : JSON.stringify(v, null, 2));

  // ---------- theme ----------
  const THEMES = ['auto', 'light', 'dark'];
  function applyTheme(t) {
    if (t === 'auto') delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = t;
    $('#theme').title = 'theme: ' + (t === 'auto' ? 'follows the system' : t) + ' (click to switch)';
  }
  let theme = 'auto';
  try { theme = localStorage.getItem('fluxloop.theme') || 'auto'; } catch (_) { /* ignore */ }
  applyTheme(theme);
  $('#theme').addEventListener('click', () => {
    theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
    try { localStorage.setItem('fluxloop.theme', theme); } catch (_) { /* ignore */ }
    applyTheme(theme);
    toast('theme: ' + theme);
  });

  // ---------- help ----------
  const help = $('#help');
  const showHelp = (on) => (help.hidden = !on);
  $('#help-btn').addEventListener('click', () => showHelp(help.hidden));
  $('#help-close').addEventListener('click', () => showHelp(false));
  help.addEventListener('click', (e) => { if (e.target === help) showHelp(false); });

  // ---------- live (server-sent events) ----------
  const live = {
    es: null,
    listeners: new Set(),
    on(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); },
    emit(kind, data) { for (const fn of this.listeners) { try { fn(kind, data); } catch (e) { console.error(e); } } },
    connect() {
      if (!window.EventSource) return;
      const ind = $('#live');
      const es = new EventSource('/api/events');
      this.es = es;
      let opened = false;
      es.onopen = () => {
        ind.dataset.state = 'open';
        ind.textContent = 'live';
        // Events may have been missed while disconnected: fetch again.
        if (opened) this.emit('reset', {});
        opened = true;
      };
      es.onerror = () => {
        ind.dataset.state = es.readyState === 2 ? 'closed' : 'connecting';
        ind.textContent = es.readyState === 2 ? 'offline' : 'reconnecting';
        if (es.readyState === 2) { es.close(); setTimeout(() => this.connect(), 3000); }
      };
      es.addEventListener('trace', (e) => this.emit('trace', JSON.parse(e.data)));
      es.addEventListener('observation', (e) => this.emit('observation', JSON.parse(e.data)));
      es.addEventListener('reset', () => this.emit('reset', {}));
    },
  };

  // ---------- router ----------
  const app = $('#app');
  let page = null;

  function route(path) {
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'trace' && parts[1]) return { name: 'trace', id: parts[1], oid: parts[2] || null };
    if (parts[0] === 'compare' && parts[1] && parts[2]) return { name: 'compare', a: parts[1], b: parts[2] };
    return { name: 'list' };
  }
  function navigate(url, replace) {
    if (url === location.pathname + location.search) return;
    if (replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    render();
  }
  function render() {
    const r = route(location.pathname);
    if (page && page.route.name === r.name && page.update && page.update(r)) {
      page.route = r;
      return;
    }
    if (page) page.unmount();
    app.innerHTML = '';
    $('#crumbs').innerHTML = '';
    page = PAGES[r.name](r);
    page.route = r;
  }
  window.addEventListener('popstate', render);
  document.addEventListener('click', (e) => {
    const a = e.target.closest('a[data-link]');
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(a.getAttribute('href'));
  });
  function crumbs(...items) {
    const c = $('#crumbs');
    c.innerHTML = '';
    for (const it of items) {
      c.append(el('span', { class: 'muted' }, '›'));
      c.append(typeof it === 'string' ? el('span', null, it) : it);
    }
  }

  // ---------- keyboard ----------
  document.addEventListener('keydown', (e) => {
    const t = e.target;
    const typing = t && ((t.tagName === 'INPUT' && !/^(checkbox|radio|button|submit|reset)$/.test(t.type)) || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
    if (e.key === 'Escape') {
      if (!help.hidden) { showHelp(false); e.preventDefault(); return; }
      if (typing) { t.blur(); if (page && page.afterFilterEscape) page.afterFilterEscape(t); e.preventDefault(); return; }
    }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === '?') { showHelp(help.hidden); e.preventDefault(); return; }
    if (!help.hidden) return;
    if (page && page.key && page.key(e)) e.preventDefault();
  });

  // ---------- ticker: in-progress durations and running bars ----------
  setInterval(() => { if (page && page.tick && !document.hidden) page.tick(); }, 500);

  // ---------- JSON view (collapsible, rendered lazily) ----------
  const STR_MAX = 600;
  const ARR_CHUNK = 200;
  function jsonView(value, openDepth) {
    const root = el('div', { class: 'jv', 'data-testid': 'json' });
    root.append(jvNode(null, value, 0, openDepth == null ? 2 : openDepth));
    return root;
  }
  function jvKey(key) {
    return key == null ? null : el('span', { class: 'k' }, typeof key === 'number' ? String(key) : JSON.stringify(key), el('span', { class: 'p' }, ': '));
  }
  function jvScalar(v) {
    if (v === null) return el('span', { class: 'z' }, 'null');
    if (typeof v === 'string') {
      if (v.length <= STR_MAX) return el('span', { class: 's' }, JSON.stringify(v));
      const s = el('span', { class: 's' }, JSON.stringify(v.slice(0, STR_MAX)).slice(0, -1) + '…"');
      const more = el('span', { class: 'more', title: 'show the whole string' }, '+' + fmtInt(v.length - STR_MAX) + ' chars');
      more.addEventListener('click', () => { s.textContent = JSON.stringify(v); more.remove(); });
      return el('span', null, s, more);
    }
    if (typeof v === 'number') return el('span', { class: 'n' }, String(v));
    if (typeof v === 'boolean') return el('span', { class: 'b' }, String(v));
    return el('span', null, String(v));
  }
  function jvPreview(v) {
    if (Array.isArray(v)) return '[' + v.length + (v.length === 1 ? ' item]' : ' items]');
    const keys = Object.keys(v);
    const head = keys.slice(0, 4).join(', ');
    return '{' + head + (keys.length > 4 ? ', …' : '') + '}';
  }
  function jvNode(key, v, depth, openDepth) {
    if (v === null || typeof v !== 'object') return el('div', { class: 'leaf' }, jvKey(key), jvScalar(v));
    const isArr = Array.isArray(v);
    const n = isArr ? v.length : Object.keys(v).length;
    if (n === 0) return el('div', { class: 'leaf' }, jvKey(key), el('span', { class: 'p' }, isArr ? '[]' : '{}'));
    const d = el('details');
    const sum = el('summary', null, jvKey(key), el('span', { class: 'p' }, jvPreview(v)));
    const body = el('div');
    d.append(sum, body);
    let filled = false;
    const fill = () => {
      if (filled) return;
      filled = true;
      if (isArr) {
        let shown = 0;
        const more = () => {
          const end = Math.min(v.length, shown + ARR_CHUNK);
          for (let i = shown; i < end; i++) body.append(jvNode(i, v[i], depth + 1, openDepth));
          shown = end;
          if (shown < v.length) {
            const m = el('div', { class: 'more' }, 'show ' + Math.min(ARR_CHUNK, v.length - shown) + ' more of ' + fmtInt(v.length - shown));
            m.addEventListener('click', () => { m.remove(); more(); });
            body.append(m);
          }
        };
        more();
      } else {
        for (const k of Object.keys(v)) body.append(jvNode(k, v[k], depth + 1, openDepth));
      }
    };
    d.addEventListener('toggle', () => { if (d.open) fill(); });
    if (depth < openDepth) { d.open = true; fill(); }
    return d;
  }
  // maybeJSON parses strings holding JSON objects or arrays (tool arguments).
  function maybeJSON(v) {
    if (typeof v !== 'string') return v;
    const s = v.trim();
    if (!(s.startsWith('{') || s.startsWith('['))) return v;
    try { return JSON.parse(s); } catch (_) { return v; }
  }
  function valueView(v, openDepth) {
    v = maybeJSON(v);
    if (typeof v === 'string') return el('div', { class: 'jv' }, el('div', { class: 's' }, v));
    return jsonView(v, openDepth);
  }

  // ---------- conversation: provider requests and replies to messages ----------
  function textOf(content) {
    if (content == null) return '';
    if (typeof content === 'string') return content;
    if (Array.isArray(content)) return content.map((b) => (typeof b === 'string' ? b : b && (b.text || b.content && textOf(b.content)) || '')).filter(Boolean).join('\n');
    if (typeof content === 'object' && content.text) return content.text;
    return JSON.stringify(content);
  }
  // blocks turns a message's content into parts: text, tool_call,
  // tool_result, reasoning, media, json.
  function blocks(content) {
    if (content == null) return [];
    if (typeof content === 'string') return content ? [{ kind: 'text', text: content }] : [];
    if (!Array.isArray(content)) content = [content];
    const out = [];
    for (const b of content) {
      if (b == null) continue;
      if (typeof b === 'string') { out.push({ kind: 'text', text: b }); continue; }
      const t = b.type;
      if (t === 'text' || t === 'input_text' || t === 'output_text' || (t == null && typeof b.text === 'string' && !b.thought)) {
        out.push({ kind: 'text', text: b.text || '' });
      } else if (t === 'tool_use' || t === 'server_tool_use' || t === 'function_call') {
        out.push({ kind: 'tool_call', id: b.id || b.call_id, name: b.name, args: b.input !== undefined ? b.input : b.arguments });
      } else if (t === 'tool_result' || t === 'function_call_output') {
        out.push({ kind: 'tool_result', id: b.tool_use_id || b.call_id, value: b.content !== undefined ? b.content : b.output, isError: !!b.is_error });
      } else if (t === 'thinking' || t === 'reasoning' || b.thought) {
        out.push({ kind: 'reasoning', text: b.thinking || b.text || textOf(b.summary) || '' });
      } else if (t === 'redacted_thinking') {
        out.push({ kind: 'reasoning', text: '[redacted thinking]' });
      } else if (t === 'image_url' || t === 'image' || t === 'input_image' || t === 'input_audio' || t === 'document' || t === 'file') {
        const src = b.image_url ? (b.image_url.url || b.image_url) : b.source ? (b.source.media_type || b.source.type) : t;
        out.push({ kind: 'media', text: t + ': ' + String(src).slice(0, 120) });
      } else if (b.functionCall) {
        out.push({ kind: 'tool_call', id: b.functionCall.id, name: b.functionCall.name, args: b.functionCall.args });
      } else if (b.functionResponse) {
        out.push({ kind: 'tool_result', id: b.functionResponse.id, name: b.functionResponse.name, value: b.functionResponse.response });
      } else if (b.inlineData || b.fileData) {
        const d = b.inlineData || b.fileData;
        out.push({ kind: 'media', text: (d.mimeType || 'data') + (d.fileUri ? ' ' + d.fileUri : '') });
      } else {
        out.push({ kind: 'json', value: b });
      }
    }
    return out;
  }
  function toolCalls(list) {
    return (list || []).map((tc) => ({
      kind: 'tool_call',
      id: tc.id || tc.call_id,
      name: (tc.function && tc.function.name) || tc.name,
      args: tc.function ? tc.function.arguments : tc.arguments !== undefined ? tc.arguments : tc.input,
    }));
  }
  function chatMessage(m) {
    if (!m || typeof m !== 'object') return { role: 'user', parts: blocks(String(m)) };
    let role = m.role || (m.type === 'function_call' ? 'assistant' : m.type === 'function_call_output' ? 'tool' : 'user');
    if (role === 'model') role = 'assistant';
    const parts = [];
    const reasoning = m.reasoning_content || m.reasoning;
    if (reasoning) parts.push({ kind: 'reasoning', text: textOf(reasoning) });
    if (m.type === 'function_call') parts.push(...toolCalls([m]));
    else if (m.type === 'function_call_output') parts.push({ kind: 'tool_result', id: m.call_id, value: m.output });
    else if (m.type === 'reasoning') parts.push({ kind: 'reasoning', text: textOf(m.summary) || textOf(m.content) });
    else if (role === 'tool' || role === 'function') parts.push({ kind: 'tool_result', id: m.tool_call_id, name: m.name, value: m.content });
    else parts.push(...blocks(m.content !== undefined ? m.content : m.parts));
    if (m.tool_calls) parts.push(...toolCalls(m.tool_calls));
    if (m.function_call) parts.push(...toolCalls([m.function_call]));
    if (m.refusal) parts.push({ kind: 'text', text: 'refusal: ' + m.refusal });
    // A user message of Anthropic tool_result blocks is the tools' answer.
    if (role === 'user' && parts.length && parts.every((p) => p.kind === 'tool_result')) role = 'tool';
    return { role, parts, name: m.name && role !== 'tool' ? m.name : null };
  }
  function toolNames(tools) {
    const names = [];
    for (const t of tools || []) {
      if (!t) continue;
      if (t.function && t.function.name) names.push(t.function.name);
      else if (t.functionDeclarations) for (const f of t.functionDeclarations) names.push(f.name);
      else if (t.function_declarations) for (const f of t.function_declarations) names.push(f.name);
      else if (t.name) names.push(t.name);
      else if (t.type) names.push(t.type);
    }
    return names;
  }
  function replyMessage(out) {
    if (out == null) return [];
    if (typeof out === 'string') return [{ role: 'assistant', parts: blocks(out) }];
    if (typeof out !== 'object' || Array.isArray(out)) return [];
    if (Array.isArray(out.choices)) {
      return out.choices.flatMap((c, i) => replyMessage(c.message || c).map((m) => Object.assign(m, { label: 'choice ' + (c.index != null ? c.index : i) })));
    }
    const looks = 'content' in out || 'tool_calls' in out || 'reasoning' in out || 'finish_reason' in out || 'refusal' in out;
    if (!looks) return [];
    const parts = [];
    if (out.reasoning) parts.push({ kind: 'reasoning', text: textOf(out.reasoning) });
    parts.push(...blocks(out.content));
    if (out.tool_calls) parts.push(...toolCalls(out.tool_calls));
    if (out.refusal) parts.push({ kind: 'text', text: 'refusal: ' + out.refusal });
    return [{ role: out.role === 'model' ? 'assistant' : out.role || 'assistant', parts, finish: out.finish_reason }];
  }
  // conversation returns {messages, output, tools} or null when obs does not
  // look like an LLM call.
  function conversation(obs) {
    let input = maybeJSON(obs.input);
    const messages = [];
    let tools = [];
    let known = false;
    if (input && typeof input === 'object' && !Array.isArray(input)) {
      if (input.body && typeof input.body === 'object' && (input.body.messages || input.body.contents)) input = input.body;
      const sys = input.system != null ? input.system : input.instructions;
      if (sys != null && sys !== '') messages.push({ role: 'system', parts: blocks(sys) });
      const gsys = input.systemInstruction || input.system_instruction;
      if (gsys) messages.push({ role: 'system', parts: blocks(gsys.parts || gsys) });
      if (Array.isArray(input.messages)) {
        known = true;
        for (const m of input.messages) messages.push(chatMessage(m));
      } else if (Array.isArray(input.contents)) {
        known = true;
        for (const c of input.contents) messages.push(chatMessage({ role: c.role || 'user', parts: c.parts }));
      } else if (typeof input.input === 'string') {
        known = true;
        messages.push({ role: 'user', parts: blocks(input.input) });
      } else if (Array.isArray(input.input)) {
        known = true;
        for (const m of input.input) messages.push(chatMessage(typeof m === 'string' ? { role: 'user', content: m } : m));
      } else if (typeof input.prompt === 'string') {
        known = true;
        messages.push({ role: 'user', parts: blocks(input.prompt) });
      }
      tools = toolNames(input.tools);
    } else if (Array.isArray(input) && input.length && input.every((m) => m && typeof m === 'object' && m.role)) {
      known = true;
      for (const m of input) messages.push(chatMessage(m));
    }
    const output = replyMessage(known ? obs.output : (obs.output && typeof obs.output === 'object' ? obs.output : null));
    if (!known && !output.length) return null;
    if (messages.length && messages[0].role === 'system' && !messages[0].parts.length) messages.shift();
    return { messages, output, tools };
  }

  function partView(p, toolIndex) {
    switch (p.kind) {
      case 'text':
        return el('div', { class: 'part text' }, longText(p.text, 4000));
      case 'reasoning': {
        const d = el('details', { class: 'part reasoning', 'data-testid': 'reasoning' }, el('summary', null, 'reasoning (' + fmtInt((p.text || '').length) + ' chars)'), el('div', null, p.text));
        return d;
      }
      case 'tool_call': {
        if (p.id) toolIndex.set(p.id, p.name);
        return el('div', { class: 'part tool-call', 'data-testid': 'tool-call', 'data-name': p.name || '' },
          el('div', { class: 'tc-head' }, '→ ' + (p.name || 'tool') + ' ', p.id ? el('span', { class: 'tc-id' }, p.id) : null),
          p.args !== undefined && p.args !== '' ? valueView(p.args, 2) : null);
      }
      case 'tool_result': {
        const name = p.name || (p.id && toolIndex.get(p.id)) || '';
        let v = p.value;
        if (Array.isArray(v) && v.every((b) => b && (b.type === 'text' || typeof b === 'string'))) v = textOf(v);
        return el('div', { class: 'part tool-result' + (p.isError ? ' is-err' : ''), 'data-testid': 'tool-result' },
          el('div', { class: 'tc-head' }, '← ' + (name || 'result') + ' ', p.id ? el('span', { class: 'tc-id' }, p.id) : null, p.isError ? el('span', { class: 'pill err' }, 'error') : null),
          valueView(v, 1));
      }
      case 'media':
        return el('div', { class: 'part media' }, '[' + p.text + ']');
      default:
        return el('div', { class: 'part' }, jsonView(p.value, 1));
    }
  }
  function longText(s, max) {
    s = s == null ? '' : String(s);
    if (s.length <= max) return s;
    const span = el('span', null, s.slice(0, max) + '…');
    const more = el('button', { type: 'button', class: 'btn small' }, 'show all ' + fmtInt(s.length) + ' chars');
    more.addEventListener('click', () => { span.textContent = s; more.remove(); });
    return el('span', null, span, ' ', more);
  }
  function messageView(m, toolIndex, extraClass) {
    return el('div', { class: 'msg role-' + esc(m.role) + (extraClass ? ' ' + extraClass : ''), 'data-testid': 'message', 'data-role': m.role },
      el('div', { class: 'msg-role' }, m.role, m.name ? el('span', null, m.name) : null, m.label ? el('span', null, m.label) : null, m.finish ? el('span', { class: 'spacer' }) : null, m.finish ? el('span', null, 'finish: ' + m.finish) : null),
      el('div', { class: 'msg-body' }, m.parts.length ? m.parts.map((p) => partView(p, toolIndex)) : el('span', { class: 'muted' }, '(empty)')));
  }
  function conversationView(obs, conv) {
    const md = obs.metadata || {};
    const box = el('div', { class: 'convo', 'data-testid': 'conversation' });
    const stats = el('div', { class: 'convo-stats', 'data-testid': 'convo-stats' });
    const stat = (label, value) => { if (value != null && value !== '') stats.append(el('span', null, label + ' ', el('b', null, value))); };
    stat('model', obs.model || md['gen_ai.response.model'] || md['gen_ai.request.model']);
    stat('provider', md['gen_ai.provider.name'] || md['gen_ai.system']);
    const inTok = obs.prompt_tokens != null ? obs.prompt_tokens : md['gen_ai.usage.input_tokens'];
    const outTok = obs.completion_tokens != null ? obs.completion_tokens : md['gen_ai.usage.output_tokens'];
    if (inTok != null || outTok != null) stat('tokens', fmtInt(inTok || 0) + ' in → ' + fmtInt(outTok || 0) + ' out' + (obs.total_tokens ? ' (' + fmtInt(obs.total_tokens) + ')' : ''));
    if (md['gen_ai.usage.cache_read.input_tokens']) stat('cached', fmtInt(md['gen_ai.usage.cache_read.input_tokens']));
    if (md['gen_ai.usage.reasoning.output_tokens']) stat('reasoning', fmtInt(md['gen_ai.usage.reasoning.output_tokens']));
    const ttft = firstTokenMs(md);
    if (ttft != null) stat('time to first token', fmtDur(ttft));
    const cost = md['fluxloop.llm.cost_usd'] != null ? md['fluxloop.llm.cost_usd'] : obs.cost_usd;
    if (cost != null) stat('cost', fmtCost(cost));
    if (conv.tools.length) stat('tools', conv.tools.join(', '));
    box.append(stats);
    const toolIndex = new Map();
    const msgs = conv.messages;
    const KEEP_HEAD = 1;
    const KEEP_TAIL = 4;
    if (msgs.length > KEEP_HEAD + KEEP_TAIL + 2) {
      const head = msgs[0].role === 'system' ? KEEP_HEAD : 0;
      for (let i = 0; i < head; i++) box.append(messageView(msgs[i], toolIndex));
      const hidden = msgs.slice(head, msgs.length - KEEP_TAIL);
      const holder = el('div', { class: 'collapsed-msgs' });
      const btn = el('button', { type: 'button', class: 'btn small', 'data-testid': 'show-earlier' }, 'show ' + hidden.length + ' earlier messages');
      // Tool names of calls in hidden messages still label later results.
      for (const m of hidden) for (const p of m.parts) if (p.kind === 'tool_call' && p.id) toolIndex.set(p.id, p.name);
      btn.addEventListener('click', () => { holder.replaceWith(...hidden.map((m) => messageView(m, toolIndex))); });
      holder.append(btn);
      box.append(holder);
      for (const m of msgs.slice(msgs.length - KEEP_TAIL)) box.append(messageView(m, toolIndex));
    } else {
      for (const m of msgs) box.append(messageView(m, toolIndex));
    }
    for (const m of conv.output) box.append(messageView(m, toolIndex, 'output'));
    return box;
  }
  function firstTokenMs(md) {
    for (const k of ['gen_ai.response.time_to_first_chunk', 'fluxloop.llm.time_to_first_content']) {
      const v = md[k];
      if (typeof v === 'number') return v * 1000;
    }
    return null;
  }
  // firstItemMs: milliseconds after start of a stream's first item, from
  // the node (when the server adds it) or the observation's metadata.
  function firstItemMs(n, md) {
    for (const k of ['first_item_ms', 'time_to_first_item_ms', 'ttft_ms']) if (typeof n[k] === 'number') return n[k];
    if (n.first_item_time) { const t = parseTime(n.first_item_time); if (t != null) return t - parseTime(n.start_time); }
    if (!md) return null;
    for (const k of Object.keys(md)) {
      if (!k.startsWith('fluxloop.stream.') || !/first/.test(k)) continue;
      const v = md[k];
      if (typeof v === 'string') { const t = parseTime(v); if (t != null) return t - parseTime(n.start_time); }
      if (typeof v === 'number') return /_ms$/.test(k) ? v : /_ns$/.test(k) ? v / 1e6 : v * 1000;
    }
    return firstTokenMs(md);
  }

  function tracebackView(tb) {
    const pre = el('pre', { 'data-testid': 'traceback' });
    for (const line of String(tb).split('\n')) {
      const dim = /(^|\s)(runtime\/|runtime\.|.*fluxloop-go\/runtime\/)|^goroutine \d+/.test(line.trim()) || /\/src\/runtime\//.test(line);
      pre.append(dim ? el('span', { class: 'dim' }, line + '\n') : line + '\n');
    }
    return pre;
  }

  function markdownOf(obs) {
    const lines = ['### ' + obs.name + ' (' + obs.type + ')', ''];
    const dur = obs.end_time ? parseTime(obs.end_time) - parseTime(obs.start_time) : null;
    lines.push('- id: `' + obs.id + '`', '- trace: `' + obs.trace_id + '`');
    if (dur != null) lines.push('- duration: ' + fmtDur(dur));
    if (obs.model) lines.push('- model: ' + obs.model);
    if (obs.total_tokens) lines.push('- tokens: ' + obs.prompt_tokens + ' + ' + obs.completion_tokens + ' = ' + obs.total_tokens);
    if (obs.error) lines.push('- error: ' + obs.error);
    const block = (title, v) => { if (v !== undefined && v !== null) lines.push('', '#### ' + title, '', '```json', pretty(v), '```'); };
    block('Input', obs.input);
    block('Output', obs.output);
    if (obs.metadata && obs.metadata.traceback) lines.push('', '#### Stack', '', '```', obs.metadata.traceback, '```');
    return lines.join('\n') + '\n';
  }

  // ---------- list page ----------
  const SINCE = [['', 'any time'], ['15m', 'last 15 min'], ['1h', 'last hour'], ['6h', 'last 6 h'], ['24h', 'last 24 h'], ['7d', 'last 7 days']];

  function listPage() {
    const params = new URLSearchParams(location.search);
    const f = {
      q: params.get('q') || '', name: params.get('name') || '', error: params.get('error') === '1',
      since: params.get('since') || '', model: params.get('model') || '', running: params.get('running') === '1',
      offset: parseInt(params.get('offset') || '0', 10) || 0,
    };
    const LIMIT = 100;
    let traces = [];
    let total = 0;
    let sel = -1;
    const checked = new Set();
    let loadSeq = 0;
    document.title = 'traces · fluxloop';

    const form = el('form', { class: 'filters', 'data-testid': 'filters', onsubmit: (e) => e.preventDefault() });
    const q = el('input', { type: 'search', name: 'q', placeholder: 'search name, id, input…  (/)', value: f.q, 'data-testid': 'filter-q' });
    const name = el('input', { type: 'text', name: 'name', placeholder: 'name', value: f.name, size: 14, 'data-testid': 'filter-name' });
    const model = el('input', { type: 'text', name: 'model', placeholder: 'model', value: f.model, size: 14, list: 'models-list', 'data-testid': 'filter-model' });
    const models = el('datalist', { id: 'models-list' });
    const since = el('select', { name: 'since', 'data-testid': 'filter-since' }, SINCE.map(([v, l]) => el('option', { value: v, selected: v === f.since }, l)));
    const error = el('input', { type: 'checkbox', name: 'error', checked: f.error, 'data-testid': 'filter-error' });
    const running = el('input', { type: 'checkbox', name: 'in_progress', checked: f.running, 'data-testid': 'filter-running' });
    form.append(q, name, model, models, since, el('label', null, error, 'errors only'), el('label', { title: 'runs whose root has not ended' }, running, 'in progress'));
    const count = el('span', { 'data-testid': 'trace-count' });
    const cmpBtn = el('button', { type: 'button', class: 'btn', disabled: true, 'data-testid': 'compare-btn', title: 'select two traces (x or the check boxes)' }, 'Compare');
    const prev = el('button', { type: 'button', class: 'btn small' }, '‹ newer');
    const next = el('button', { type: 'button', class: 'btn small' }, 'older ›');
    const bar = el('div', { class: 'list-bar' }, count, el('span', { class: 'spacer' }), cmpBtn, prev, next);
    const tbody = el('tbody');
    const table = el('table', { class: 'grid', 'data-testid': 'trace-table' },
      el('thead', null, el('tr', null, ['', 'name', 'id', 'started', 'duration', 'obs', 'errors', 'tokens (in/out)', 'cost', 'models', ''].map((h, i) => el('th', { class: i >= 4 && i <= 8 ? 'num' : null }, h)))),
      tbody);
    const empty = el('div', { class: 'empty', hidden: true, 'data-testid': 'empty' });
    const errBox = el('div', { class: 'error-banner', hidden: true });
    const scroller = el('div', { class: 'scroll', style: 'flex:1' }, table, empty);
    const root = el('section', { class: 'page', 'data-testid': 'list-page' }, form, bar, errBox, scroller);
    app.append(root);

    function queryString(forAPI) {
      const p = new URLSearchParams();
      if (f.q) p.set('q', f.q);
      if (f.name) p.set('name', f.name);
      if (f.error) p.set('error', '1');
      if (f.since) p.set('since', f.since);
      if (f.model) p.set('model', f.model);
      if (f.running) p.set(forAPI ? 'in_progress' : 'running', '1');
      if (forAPI) p.set('limit', String(LIMIT));
      if (f.offset) p.set('offset', String(f.offset));
      return p.toString();
    }
    async function load() {
      const seq = ++loadSeq;
      const qs = queryString(false);
      const url = '/' + (qs ? '?' + qs : '');
      if (url !== location.pathname + location.search) history.replaceState(null, '', url);
      try {
        const res = await api('/api/traces?' + queryString(true));
        if (seq !== loadSeq) return;
        traces = res.traces || [];
        total = res.total != null ? res.total : traces.length;
        errBox.hidden = true;
        draw();
      } catch (e) {
        if (seq !== loadSeq) return;
        errBox.hidden = false;
        errBox.textContent = 'Could not load traces: ' + e.message;
      }
    }
    let debounce = 0;
    form.addEventListener('input', () => {
      f.q = q.value.trim(); f.name = name.value.trim(); f.model = model.value.trim(); f.since = since.value;
      f.error = error.checked; f.running = running.checked; f.offset = 0;
      clearTimeout(debounce);
      debounce = setTimeout(load, 200);
    });
    prev.addEventListener('click', () => { f.offset = Math.max(0, f.offset - LIMIT); load(); });
    next.addEventListener('click', () => { f.offset += LIMIT; load(); });
    cmpBtn.addEventListener('click', () => {
      const [a, b] = [...checked];
      if (a && b) navigate('/compare/' + encodeURIComponent(a) + '/' + encodeURIComponent(b));
    });

    const shown = () => traces;
    function rowOf(t, i) {
      const start = parseTime(t.start_time);
      const dur = t.in_progress ? Date.now() - start : t.duration_ms;
      const cb = el('input', { type: 'checkbox', 'data-testid': 'compare-check', checked: checked.has(t.id), title: 'select for comparison' });
      cb.addEventListener('change', () => toggleCheck(t.id, cb.checked));
      const tok = t.total_tokens ? fmtTokens(t.total_tokens) + ' (' + fmtTokens(t.prompt_tokens || 0) + '/' + fmtTokens(t.completion_tokens || 0) + ')' : '';
      const tr = el('tr', { 'data-testid': 'trace-row', 'data-id': t.id, 'data-index': i, class: (i === sel ? 'sel' : '') + (t._fresh ? ' fresh' : '') },
        el('td', null, cb),
        el('td', { class: 'name' }, el('a', { href: '/trace/' + encodeURIComponent(t.id), 'data-link': true }, traceName(t))),
        el('td', { class: 'mono muted', title: t.id }, shortId(t.id)),
        el('td', { class: 'muted', title: t.start_time }, fmtClock(start)),
        el('td', { class: 'num' + (t.in_progress ? ' ticking' : ''), 'data-start': start }, fmtDur(dur)),
        el('td', { class: 'num' }, fmtInt(t.observations)),
        el('td', { class: 'num' }, t.errors ? el('span', { class: 'pill err', 'data-testid': 'error-count' }, String(t.errors)) : ''),
        el('td', { class: 'num' }, tok),
        el('td', { class: 'num' }, fmtCost(t.cost_usd)),
        el('td', { class: 'models', title: (t.models || []).join(', ') }, (t.models || []).join(', ')),
        el('td', null, t.in_progress ? el('span', { class: 'pill run', 'data-testid': 'in-progress' }, 'running') : ''));
      tr.addEventListener('click', (e) => { if (e.target.closest('a,input')) return; setSel(i); });
      tr.addEventListener('dblclick', () => navigate('/trace/' + encodeURIComponent(t.id)));
      t._fresh = false;
      return tr;
    }
    function draw() {
      const list = shown();
      tbody.replaceChildren(...list.map(rowOf));
      const seen = new Set();
      for (const t of traces) for (const m of t.models || []) seen.add(m);
      models.replaceChildren(...[...seen].sort().map((m) => el('option', { value: m })));
      const from = total ? f.offset + 1 : 0;
      count.textContent = total ? from + '–' + (f.offset + traces.length) + ' of ' + fmtInt(total) + ' traces' : '0 traces';
      prev.disabled = f.offset === 0;
      next.disabled = f.offset + traces.length >= total;
      empty.hidden = list.length > 0;
      const filtered = f.q || f.name || f.error || f.since || f.model || f.running;
      empty.innerHTML = filtered
        ? 'No trace matches these filters.'
        : 'No traces yet. Run a program instrumented with fluxloopgen: its runs appear here as they happen.';
      cmpBtn.disabled = checked.size !== 2;
      cmpBtn.textContent = checked.size ? 'Compare (' + checked.size + '/2)' : 'Compare';
    }
    function toggleCheck(id, on) {
      if (on) {
        checked.add(id);
        while (checked.size > 2) checked.delete(checked.values().next().value);
      } else checked.delete(id);
      for (const tr of tbody.children) { const cb = tr.querySelector('input'); if (cb) cb.checked = checked.has(tr.dataset.id); }
      cmpBtn.disabled = checked.size !== 2;
      cmpBtn.textContent = checked.size ? 'Compare (' + checked.size + '/2)' : 'Compare';
    }
    function setSel(i) {
      const n = shown().length;
      if (!n) return;
      sel = Math.max(0, Math.min(n - 1, i));
      for (const tr of tbody.children) tr.classList.toggle('sel', +tr.dataset.index === sel);
      const tr = tbody.children[sel];
      if (tr) tr.scrollIntoView({ block: 'nearest' });
    }
    function matches(t) {
      const has = (s, sub) => String(s || '').toLowerCase().includes(sub.toLowerCase());
      if (f.q && !(has(t.name, f.q) || has(t.id, f.q) || (t.models || []).some((m) => has(m, f.q)))) return false;
      if (f.name && !has(t.name, f.name)) return false;
      if (f.error && !t.errors) return false;
      if (f.running && !t.in_progress) return false;
      if (f.model && !(t.models || []).some((m) => has(m, f.model))) return false;
      if (f.since) { const s = parseDur(f.since); if (s != null && parseTime(t.start_time) < Date.now() - s) return false; }
      return true;
    }
    const off = live.on((kind, data) => {
      if (kind === 'reset') { load(); return; }
      if (kind !== 'trace' || !data || !data.id) return;
      const i = traces.findIndex((t) => t.id === data.id);
      if (i >= 0) {
        if (matches(data)) traces[i] = data;
        else { traces.splice(i, 1); total = Math.max(0, total - 1); }
      } else {
        if (f.offset !== 0 || !matches(data)) return;
        data._fresh = true;
        traces.unshift(data);
        total++;
        if (traces.length > LIMIT) traces.pop();
        if (sel >= 0) sel++;
      }
      draw();
    });
    load();

    return {
      unmount() { off(); clearTimeout(debounce); },
      tick() {
        for (const td of tbody.querySelectorAll('td.ticking')) td.textContent = fmtDur(Date.now() - +td.dataset.start);
      },
      key(e) {
        const list = shown();
        switch (e.key) {
          case 'j': case 'ArrowDown': setSel(sel + 1); return true;
          case 'k': case 'ArrowUp': setSel(sel - 1); return true;
          case 'Home': setSel(0); return true;
          case 'End': setSel(list.length - 1); return true;
          case 'Enter': case 'ArrowRight': case 'o':
            if (list[sel]) navigate('/trace/' + encodeURIComponent(list[sel].id));
            return true;
          case 'x': case ' ':
            if (list[sel]) toggleCheck(list[sel].id, !checked.has(list[sel].id));
            return true;
          case 'c':
            if (list[sel]) copy(list[sel].id, 'trace id');
            return true;
          case '/': q.focus(); q.select(); return true;
          case 'n': {
            for (let i = sel + 1; i < list.length; i++) if (list[i].errors) { setSel(i); return true; }
            return true;
          }
        }
        return false;
      },
    };
  }

  // ---------- filter for observations ----------
  // compileFilter turns "type:tool error dur>100ms text" into a predicate,
  // or returns {error} for a malformed term.
  function compileFilter(s) {
    const terms = (s.match(/-?(?:[^\s"]+|"[^"]*")+/g) || []);
    const preds = [];
    for (let raw of terms) {
      let neg = false;
      if (raw.startsWith('-') && raw.length > 1) { neg = true; raw = raw.slice(1); }
      const t = raw.replace(/"/g, '');
      let p = null;
      let m;
      if ((m = /^(dur|duration|d)(>=|<=|>|<|=)(.+)$/i.exec(t))) {
        const v = parseDur(m[3]);
        if (v == null) return { error: 'bad duration in ' + raw + ' (try dur>100ms)' };
        const op = m[2];
        p = (n) => cmp(nodeDur(n), op, v);
      } else if ((m = /^(tokens|tok)(>=|<=|>|<|=)(\d+)$/i.exec(t))) {
        const v = +m[3];
        const op = m[2];
        p = (n) => cmp((n.prompt_tokens || 0) + (n.completion_tokens || 0), op, v);
      } else if ((m = /^(type|t):(.+)$/i.exec(t))) {
        const v = m[2].toLowerCase();
        p = (n) => String(n.type || '').toLowerCase().startsWith(v);
      } else if ((m = /^(name|model|level|id|status):(.+)$/i.exec(t))) {
        const field = { name: 'name', model: 'model', level: 'level', id: 'id', status: 'status_message' }[m[1].toLowerCase()];
        const v = m[2].toLowerCase();
        p = (n) => String(n[field] || '').toLowerCase().includes(v);
      } else if (/^(is:)?(error|errors|err)$/i.test(t)) {
        p = isErrNode;
      } else if (/^(is:)?(running|live|open)$/i.test(t)) {
        p = (n) => !!n.running;
      } else if (t) {
        const v = t.toLowerCase();
        p = (n) => searchText(n).includes(v);
      }
      if (p) preds.push(neg ? ((q) => (n) => !q(n))(p) : p);
    }
    if (!preds.length) return { pred: null };
    return { pred: (n) => { for (const p of preds) if (!p(n)) return false; return true; } };
  }
  function cmp(a, op, b) {
    switch (op) {
      case '>': return a > b;
      case '<': return a < b;
      case '>=': return a >= b;
      case '<=': return a <= b;
      default: return Math.abs(a - b) < 1e-9;
    }
  }
  function searchText(n) {
    if (n._txt == null) n._txt = (n.name + ' ' + n.type + ' ' + (n.model || '') + ' ' + (n.error || '') + ' ' + (n.status_message || '') + ' ' + n.id).toLowerCase();
    return n._txt;
  }
  function nodeDur(n) {
    if (n._e != null) return n._e - n._s;
    return Date.now() - n._s;
  }

  // ---------- trace page ----------
  function tracePage(r) {
    let id = r.id; // "last" or a prefix until the trace is loaded
    let summary = null;
    const byId = new Map();
    let stamp = 0; // visit marks (n._v) for traversals
    let roots = [];
    const orphans = new Map(); // parent id -> nodes waiting for their parent
    const collapsed = new Set();
    let flat = [];
    let gen = 0;
    let keep = null;
    let filterText = '';
    let focusId = null;
    let selId = r.oid;
    let t0 = 0;
    let t1 = 1;
    let running = 0;
    const detailCache = new Map();
    let detailAbort = null;
    let lastKeyNav = -Infinity;
    let dirty = false;
    let destroyed = false;
    const timings = { start: performance.now() };
    window.__fluxloopTrace = { id, timings, ready: false };
    document.title = 'trace ' + shortId(id) + ' · fluxloop';

    const head = el('header', { class: 'trace-head', 'data-testid': 'trace-head' }, el('h1', null, 'loading…'));
    const filter = el('input', { type: 'search', placeholder: 'filter: type:tool  error  dur>100ms  text   (/)', 'data-testid': 'filter', spellcheck: 'false', autocomplete: 'off' });
    const info = el('span', { class: 'info', 'data-testid': 'filter-info' });
    const focusChip = el('span', { class: 'focus-chip', hidden: true, 'data-testid': 'focus-chip' });
    const btn = (label, title, fn, testid) => el('button', { type: 'button', class: 'btn small', title, onclick: fn, 'data-testid': testid }, label);
    const toolbar = el('div', { class: 'toolbar' }, filter,
      btn('expand all', 'e', () => expandAll(), 'expand-all'),
      btn('collapse all', 'E', () => collapseAll(), 'collapse-all'),
      btn('next error', 'n', () => nextError(1), 'next-error'),
      btn('focus', 'f: only the selected subtree', () => setFocus(selId), 'focus'),
      focusChip, info, el('span', { class: 'spacer' }),
      btn('copy trace JSON', 'the trace and all its observations (skeleton)', () => copyTrace(), 'copy-trace'));
    const axisWf = el('div', { class: 'axis-wf', 'data-testid': 'axis' });
    const resizer = el('div', { class: 'resizer', title: 'drag to resize' });
    const axis = el('div', { class: 'axis' }, el('div', { class: 'axis-tree' }, 'observation', resizer), axisWf);
    const rowsEl = el('div', { class: 'rows', role: 'tree' });
    const spacer = el('div', { class: 'spacer-v' }, rowsEl);
    const vp = el('div', { class: 'viewport', tabindex: '0', 'data-testid': 'tree' }, spacer);
    const pane = el('div', { class: 'rows-pane' }, axis, vp);
    const detail = el('aside', { class: 'detail', 'data-testid': 'detail' }, el('div', { class: 'empty' }, 'Select an observation (click, j/k) to see its input, output and metadata.'));
    const body = el('div', { class: 'trace-body' }, pane, detail);
    const root = el('section', { class: 'page', 'data-testid': 'trace-page' }, head, toolbar, body);
    app.append(root);
    crumbs(el('a', { href: '/', 'data-link': true }, 'traces'), el('span', { class: 'mono' }, shortId(id)));

    // resizing the tree column
    resizer.addEventListener('pointerdown', (e) => {
      e.preventDefault();
      const rect = pane.getBoundingClientRect();
      const move = (ev) => {
        const pct = Math.max(15, Math.min(80, ((ev.clientX - rect.left) / rect.width) * 100));
        root.style.setProperty('--tree-w', pct + '%');
      };
      const up = () => { window.removeEventListener('pointermove', move); window.removeEventListener('pointerup', up); };
      window.addEventListener('pointermove', move);
      window.addEventListener('pointerup', up);
    });

    // --- model ---
    function prep(n) {
      n._s = parseTime(n.start_time);
      // duration_ms has the server's microsecond precision: one parse less
      n._e = n.end_time ? (typeof n.duration_ms === 'number' ? n._s + n.duration_ms : parseTime(n.end_time)) : null;
      if (n._e == null && !n.running && n.duration_ms != null) n._e = n._s + n.duration_ms;
      n._err = isErrNode(n);
      n._txt = null;
    }
    function childList(p) {
      return p._k || (p._k = []);
    }
    function insertSorted(list, n) {
      let lo = 0;
      let hi = list.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (list[mid]._s <= n._s) lo = mid + 1; else hi = mid; }
      list.splice(lo, 0, n);
    }
    function build(nodes) {
      byId.clear(); orphans.clear(); roots = [];
      for (const n of nodes) { prep(n); n._k = null; n._v = 0; byId.set(n.id, n); }
      for (const n of nodes) {
        const p = n.parent_id ? byId.get(n.parent_id) : null;
        if (p && p !== n) childList(p).push(n);
        else { roots.push(n); if (n.parent_id && n.parent_id !== n.id) (orphans.get(n.parent_id) || orphans.set(n.parent_id, []).get(n.parent_id)).push(n); }
      }
      const byStart = (a, b) => a._s - b._s;
      const sorted = (l) => { for (let i = 1; i < l.length; i++) if (l[i - 1]._s > l[i]._s) return false; return true; };
      if (!sorted(roots)) roots.sort(byStart);
      for (const n of nodes) if (n._k && !sorted(n._k)) n._k.sort(byStart);
      // Nodes in a parent cycle are reachable from no root: make them roots.
      const v = ++stamp;
      let seen = 0;
      const mark = (start) => {
        const st = [start];
        while (st.length) { const x = st.pop(); if (x._v === v) continue; x._v = v; seen++; const c = x._k; if (c) for (const k of c) st.push(k); }
      };
      for (const r of roots) mark(r);
      if (seen < nodes.length) for (const n of nodes) if (n._v !== v) { roots.push(n); mark(n); }
      computeStats();
    }
    // computeStats: descendant counts (for collapsed rows), the time range,
    // running count.
    function computeStats() {
      const order = [];
      const st = roots.slice().reverse();
      const v = ++stamp;
      while (st.length) {
        const n = st.pop();
        if (n._v === v) continue;
        n._v = v;
        order.push(n);
        const c = n._k;
        if (c) for (let i = c.length - 1; i >= 0; i--) st.push(c[i]);
      }
      for (let i = order.length - 1; i >= 0; i--) {
        const n = order[i];
        let s = 0;
        const c = n._k;
        if (c) for (const k of c) s += 1 + (k._desc || 0);
        n._desc = s;
      }
      running = 0;
      for (const n of byId.values()) if (n._e == null) running++;
      computeRange();
    }
    function subtree(n, fn) {
      const st = [n];
      const v = ++stamp;
      while (st.length) { const x = st.pop(); if (x._v === v) continue; x._v = v; fn(x); const c = x._k; if (c) for (const k of c) st.push(k); }
    }
    function computeRange() {
      let a = Infinity;
      let b = -Infinity;
      const now = Date.now();
      const visit = (n) => { if (n._s < a) a = n._s; const e = n._e != null ? n._e : Math.max(now, n._s); if (e > b) b = e; };
      if (focusId && byId.has(focusId)) subtree(byId.get(focusId), visit);
      else for (const n of byId.values()) visit(n);
      if (!isFinite(a)) { a = 0; b = 1; }
      if (b <= a) b = a + 0.001;
      t0 = a; t1 = b;
    }
    function recomputeKeep() {
      if (!filterText) { keep = null; info.textContent = ''; filter.classList.remove('bad'); return; }
      const c = compileFilter(filterText);
      if (c.error) { filter.classList.add('bad'); info.textContent = c.error; keep = null; return; }
      filter.classList.remove('bad');
      if (!c.pred) { keep = null; info.textContent = ''; return; }
      keep = new Set();
      let matches = 0;
      for (const n of byId.values()) {
        if (!c.pred(n)) continue;
        matches++;
        n._match = true;
        let x = n;
        let guard = 0;
        while (x && !keep.has(x.id) && guard++ < 100000) { keep.add(x.id); x = x.parent_id ? byId.get(x.parent_id) : null; }
      }
      for (const n of byId.values()) if (!c.pred(n)) n._match = false;
      info.textContent = matches + ' match' + (matches === 1 ? '' : 'es') + ', ' + keep.size + ' shown';
      info.dataset.matches = matches;
    }
    function flatten() {
      gen++;
      const out = [];
      const starts = focusId && byId.has(focusId) ? [byId.get(focusId)] : roots;
      const stN = [];
      const stD = [];
      for (let i = starts.length - 1; i >= 0; i--) { stN.push(starts[i]); stD.push(0); }
      while (stN.length) {
        const n = stN.pop();
        const d = stD.pop();
        if (n._g === gen) continue; // cycle guard
        if (keep && !keep.has(n.id)) continue;
        n._g = gen; n._d = d; n._i = out.length;
        out.push(n);
        if (collapsed.has(n.id)) continue;
        const c = n._k;
        if (c) for (let i = c.length - 1; i >= 0; i--) { stN.push(c[i]); stD.push(d + 1); }
      }
      flat = out;
      spacer.style.height = flat.length * ROW_H + 'px';
      vp.dataset.visible = flat.length;
      vp.dataset.total = byId.size;
    }
    const visibleIndex = (n) => (n && n._g === gen ? n._i : -1);

    // --- drawing ---
    function drawAxis() {
      const span = t1 - t0;
      const ticks = [0, 0.25, 0.5, 0.75, 1];
      axisWf.replaceChildren(...ticks.map((f) => el('span', { style: 'left:' + f * 100 + '%' }, f === 0 ? '0' : fmtDur(span * f))));
    }
    function rowHTML(n, i) {
      const span = t1 - t0;
      const now = Date.now();
      const end = n._e != null ? n._e : Math.max(now, n._s);
      const left = Math.max(0, ((n._s - t0) / span) * 100);
      const width = Math.max(0, Math.min(100 - left, ((end - n._s) / span) * 100));
      const dur = end - n._s;
      const c = n._k;
      const hasKids = c && c.length;
      const isCol = collapsed.has(n.id);
      const tc = typeClass(n.type);
      const cls = 'row' + (n.id === selId ? ' sel' : '') + (n._err ? ' err' : '') + (n._e == null ? ' running' : '') + (keep && n._match ? ' match' : '');
      const ind = Math.min(n._d, 40) * 14;
      let h = '<div class="' + cls + '" data-testid="tree-row" data-id="' + esc(n.id) + '" data-depth="' + n._d + '" data-index="' + i + '" role="treeitem" aria-level="' + (n._d + 1) + '"' +
        (hasKids ? ' aria-expanded="' + !isCol + '"' : '') + (n.id === selId ? ' aria-selected="true"' : '') + (n._err ? ' data-error="1"' : '') + '>';
      h += '<div class="cell-tree" style="padding-left:' + (ind + 4) + 'px">';
      h += '<span class="tog' + (hasKids ? '' : ' leaf') + '" data-testid="toggle">' + (hasKids ? (isCol ? '▸' : '▾') : '·') + '</span>';
      if (n._d > 40) h += '<span class="deep">' + n._d + '</span>';
      h += '<span class="badge ' + tc + '">' + esc(n.type || '?') + '</span>';
      h += '<span class="name" title="' + esc(nodeName(n)) + '">' + esc(nodeName(n)) + '</span>';
      if (n._err) h += '<span class="err-mark" data-testid="error-marker" title="' + esc(n.error || n.status_message || 'error') + '">!</span>';
      if (n._e == null) h += '<span class="pill run" data-testid="running-marker">running</span>';
      if (hasKids && isCol) h += '<span class="kids" title="hidden descendants">+' + fmtInt(n._desc) + '</span>';
      const tok = (n.prompt_tokens || 0) + (n.completion_tokens || 0);
      if (tok) h += '<span class="tok" title="tokens in/out: ' + (n.prompt_tokens || 0) + '/' + (n.completion_tokens || 0) + '">' + fmtTokens(tok) + ' tok</span>';
      h += '<span class="dur">' + fmtDur(dur) + '</span></div>';
      h += '<div class="cell-wf"><div class="gridlines"></div>';
      h += '<div class="bar ' + tc + (n._err ? ' err' : '') + (n._e == null ? ' running' : '') + '" data-testid="bar" data-id="' + esc(n.id) + '" style="left:' + left.toFixed(4) + '%;width:' + width.toFixed(4) + '%" title="' + esc(nodeName(n) + ' ' + fmtDur(dur) + ' at +' + fmtDur(n._s - t0)) + '">';
      const fi = n._first != null ? n._first : firstItemMs(n, null);
      if (fi != null && dur > 0 && fi >= 0 && fi <= dur) h += '<i class="tick" data-testid="first-item" style="left:' + ((fi / dur) * 100).toFixed(2) + '%" title="first item at +' + esc(fmtDur(fi)) + '"></i>';
      h += '</div>';
      // the duration: after the bar, else before it, else inside it
      let pos;
      if (left + width < 82) pos = 'left:calc(' + (left + width).toFixed(3) + '% + 4px)';
      else if (left > 14) pos = 'right:calc(' + (100 - left).toFixed(3) + '% + 4px)';
      else pos = 'right:calc(' + (100 - left - width).toFixed(3) + '% + 4px);color:#fff';
      h += '<span class="bar-label" style="' + pos + '">' + fmtDur(dur) + '</span>';
      h += '</div></div>';
      return h;
    }
    let paintQueued = false;
    function paint() {
      paintQueued = false;
      if (destroyed) return;
      const top = vp.scrollTop;
      const hgt = vp.clientHeight || 600;
      const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
      const last = Math.min(flat.length, Math.ceil((top + hgt) / ROW_H) + OVERSCAN);
      const parts = [];
      for (let i = first; i < last; i++) parts.push(rowHTML(flat[i], i));
      rowsEl.style.transform = 'translateY(' + first * ROW_H + 'px)';
      rowsEl.innerHTML = parts.join('');
      vp.dataset.first = first;
      vp.dataset.rendered = last - first;
    }
    function schedulePaint() {
      if (paintQueued) return;
      paintQueued = true;
      requestAnimationFrame(paint);
    }
    vp.addEventListener('scroll', schedulePaint, { passive: true });
    window.addEventListener('resize', schedulePaint);

    function drawHead() {
      if (!summary) return;
      const s = summary;
      const start = parseTime(s.start_time);
      const dur = s.in_progress ? Date.now() - start : s.duration_ms;
      const fact = (label, v, testid) => (v === '' || v == null ? null : el('span', { class: 'fact', 'data-testid': testid }, label + ' ', el('b', null, v)));
      head.replaceChildren(...[
        el('h1', null, traceName(s)),
        s.in_progress ? el('span', { class: 'pill run', 'data-testid': 'in-progress' }, 'running') : null,
        fact('id', s.id),
        fact('started', fmtClock(start)),
        fact('duration', fmtDur(dur), 'trace-duration'),
        fact('observations', fmtInt(s.observations != null ? s.observations : byId.size)),
        s.errors ? el('span', { class: 'pill err', 'data-testid': 'error-count' }, s.errors + ' error' + (s.errors === 1 ? '' : 's')) : null,
        s.total_tokens ? fact('tokens', fmtInt(s.total_tokens) + ' (' + fmtInt(s.prompt_tokens || 0) + ' in / ' + fmtInt(s.completion_tokens || 0) + ' out)') : null,
        s.cost_usd != null ? fact('cost', fmtCost(s.cost_usd)) : null,
        s.models && s.models.length ? fact('models', s.models.join(', ')) : null].filter(Boolean));
    }

    // --- structure changes ---
    function refresh(keepScroll) {
      const selBefore = visibleIndex(byId.get(selId));
      const offset = selBefore >= 0 ? selBefore * ROW_H - vp.scrollTop : 0;
      recomputeKeep();
      flatten();
      drawAxis();
      if (keepScroll !== false && selBefore >= 0) {
        const after = visibleIndex(byId.get(selId));
        if (after >= 0) vp.scrollTop = after * ROW_H - offset;
      }
      paint();
    }
    function toggle(n, open) {
      const c = n._k;
      if (!c || !c.length) return;
      const isOpen = !collapsed.has(n.id);
      if (open === isOpen) return;
      if (open) collapsed.delete(n.id); else collapsed.add(n.id);
      refresh();
    }
    function expandAll() { collapsed.clear(); refresh(); }
    function collapseAll() {
      for (const x of byId.values()) if (x._k && x._k.length) collapsed.add(x.id);
      // keep the roots (or the focus) open so the first level shows
      const starts = focusId && byId.has(focusId) ? [byId.get(focusId)] : roots;
      for (const n of starts) collapsed.delete(n.id);
      refresh();
      if (selId && visibleIndex(byId.get(selId)) < 0) select(flat[0] && flat[0].id, { replace: true });
    }
    function revealNode(n) {
      let changed = false;
      let x = n.parent_id ? byId.get(n.parent_id) : null;
      let guard = 0;
      while (x && guard++ < 100000) { if (collapsed.delete(x.id)) changed = true; x = x.parent_id ? byId.get(x.parent_id) : null; }
      if (focusId && byId.has(focusId)) {
        let inFocus = false;
        let y = n;
        guard = 0;
        while (y && guard++ < 100000) { if (y.id === focusId) { inFocus = true; break; } y = y.parent_id ? byId.get(y.parent_id) : null; }
        if (!inFocus) { focusId = null; focusChip.hidden = true; computeRange(); changed = true; }
      }
      if (keep && !keep.has(n.id)) { filterText = ''; filter.value = ''; changed = true; }
      if (changed) refresh(false);
    }
    function scrollToIndex(i, center) {
      if (i < 0) return;
      const h = vp.clientHeight || 600;
      const top = i * ROW_H;
      if (center) vp.scrollTop = Math.max(0, top - h / 2 + ROW_H / 2);
      else if (top < vp.scrollTop) vp.scrollTop = top;
      else if (top + ROW_H > vp.scrollTop + h) vp.scrollTop = top + ROW_H - h;
    }
    function select(oid, opts) {
      opts = opts || {};
      const n = oid ? byId.get(oid) : null;
      selId = n ? n.id : null;
      if (n) {
        revealNode(n);
        scrollToIndex(visibleIndex(n), opts.center);
      }
      paint();
      if (!opts.fromHistory) {
        const url = '/trace/' + encodeURIComponent(id) + (selId ? '/' + encodeURIComponent(selId) : '');
        if (url !== location.pathname) {
          const now = performance.now();
          // Moving with the keyboard replaces the entry rather than
          // filling the history with every row passed.
          if (opts.replace || (opts.keyboard && now - lastKeyNav < 1500)) history.replaceState(null, '', url);
          else history.pushState(null, '', url);
          page.route = route(url);
        }
        if (opts.keyboard) lastKeyNav = performance.now();
      }
      showDetail(n);
    }
    function move(delta) {
      if (!flat.length) return;
      const cur = visibleIndex(byId.get(selId));
      const i = cur < 0 ? (delta > 0 ? 0 : flat.length - 1) : Math.max(0, Math.min(flat.length - 1, cur + delta));
      select(flat[i].id, { keyboard: true });
    }
    function preorder() {
      const out = [];
      const starts = focusId && byId.has(focusId) ? [byId.get(focusId)] : roots;
      const st = starts.slice().reverse();
      const v = ++stamp;
      while (st.length) {
        const n = st.pop();
        if (n._v === v) continue;
        n._v = v;
        if (keep && !keep.has(n.id)) continue;
        out.push(n);
        const c = n._k;
        if (c) for (let i = c.length - 1; i >= 0; i--) st.push(c[i]);
      }
      return out;
    }
    function nextError(dir) {
      const order = preorder();
      if (!order.length) return;
      const cur = selId ? order.findIndex((n) => n.id === selId) : -1;
      for (let k = 1; k <= order.length; k++) {
        const i = (((cur + dir * k) % order.length) + order.length) % order.length;
        if (order[i]._err) { select(order[i].id, { center: true }); return; }
      }
      toast('no errors in this trace');
    }
    function setFocus(oid) {
      if (!oid || !byId.has(oid)) { toast('select an observation to focus on'); return; }
      focusId = oid;
      const n = byId.get(oid);
      focusChip.hidden = false;
      focusChip.replaceChildren('focus: ' + n.name + ' ', el('a', { href: '#', onclick: (e) => { e.preventDefault(); clearFocus(); } }, '×'));
      computeRange();
      refresh(false);
      scrollToIndex(visibleIndex(byId.get(selId)), true);
      paint();
    }
    function clearFocus() {
      if (!focusId) return;
      focusId = null;
      focusChip.hidden = true;
      computeRange();
      refresh(false);
      scrollToIndex(visibleIndex(byId.get(selId)), true);
      paint();
    }

    // --- detail ---
    async function showDetail(n) {
      if (detailAbort) detailAbort.abort();
      if (!n) { detail.replaceChildren(el('div', { class: 'empty' }, 'Select an observation to see its input, output and metadata.')); return; }
      const cached = detailCache.get(n.id);
      if (cached && !(n._e == null)) { renderDetail(n, cached); return; }
      detail.replaceChildren(el('div', { class: 'pad muted' }, 'loading ' + n.name + '…'));
      const ac = new AbortController();
      detailAbort = ac;
      try {
        const obs = await api('/api/traces/' + encodeURIComponent(id) + '/observations/' + encodeURIComponent(n.id), { signal: ac.signal });
        if (ac.signal.aborted || selId !== n.id) return;
        if (detailCache.size > 300) detailCache.delete(detailCache.keys().next().value);
        detailCache.set(n.id, obs);
        renderDetail(n, obs);
      } catch (e) {
        if (e.name === 'AbortError') return;
        if (e.status === 404 && (n.running || n._e == null)) {
          detail.replaceChildren(el('div', { class: 'pad' }, el('h2', null, nodeName(n)), el('span', { class: 'pill run' }, 'running ' + fmtDur(Date.now() - n._s)),
            el('p', { class: 'muted' }, 'Still running: its input, output and metadata are written when it ends.')));
          return;
        }
        detail.replaceChildren(el('div', { class: 'error-banner' }, 'Could not load the observation: ' + e.message));
      }
    }
    function renderDetail(n, obs) {
      const md = obs.metadata || {};
      const fi = firstItemMs(n, md);
      if (fi != null && n._first !== fi) { n._first = fi; schedulePaint(); }
      const start = parseTime(obs.start_time);
      const end = obs.end_time ? parseTime(obs.end_time) : null;
      const facts = el('dl', { class: 'facts' });
      const fact = (k, v) => { if (v !== '' && v != null) facts.append(el('dt', null, k), el('dd', null, v)); };
      fact('id', obs.id);
      fact('parent', obs.parent_observation_id ? el('a', { href: '/trace/' + encodeURIComponent(id) + '/' + encodeURIComponent(obs.parent_observation_id), 'data-link': true }, obs.parent_observation_id) : '');
      fact('started', fmtClock(start) + '  (+' + fmtDur(start - t0) + ')');
      fact('duration', end != null ? fmtDur(end - start) : el('span', { class: 'pill run' }, 'running ' + fmtDur(Date.now() - start)));
      fact('level', obs.level && obs.level !== 'info' ? obs.level : '');
      fact('status', obs.status_message);
      fact('model', obs.model);
      if (obs.total_tokens || obs.prompt_tokens || obs.completion_tokens) fact('tokens', fmtInt(obs.prompt_tokens || 0) + ' in, ' + fmtInt(obs.completion_tokens || 0) + ' out, ' + fmtInt(obs.total_tokens || (obs.prompt_tokens || 0) + (obs.completion_tokens || 0)) + ' total');
      if (fi != null) fact(n.type === 'generation' ? 'first token' : 'first item', '+' + fmtDur(fi));
      const c = n._k;
      if (c && c.length) fact('children', fmtInt(c.length) + (n._desc > c.length ? ' (' + fmtInt(n._desc) + ' below)' : ''));
      const actions = el('div', { class: 'actions' },
        el('button', { type: 'button', class: 'btn small', 'data-testid': 'copy-json', onclick: () => copy(JSON.stringify(obs, null, 2), 'observation JSON') }, 'copy JSON (c)'),
        el('button', { type: 'button', class: 'btn small', 'data-testid': 'copy-md', onclick: () => copy(markdownOf(obs), 'as Markdown') }, 'copy Markdown (m)'),
        el('button', { type: 'button', class: 'btn small', onclick: () => copy(location.origin + '/trace/' + encodeURIComponent(id) + '/' + encodeURIComponent(obs.id), 'link') }, 'copy link'),
        c && c.length ? el('button', { type: 'button', class: 'btn small', onclick: () => setFocus(n.id) }, 'focus subtree (f)') : null);
      const box = el('div', { class: 'pad', 'data-testid': 'detail-body', 'data-id': obs.id },
        el('div', null, el('span', { class: 'badge ' + typeClass(obs.type) }, obs.type)),
        el('h2', null, obs.name), facts, actions);
      if (obs.error || md.traceback || obs.level === 'error') {
        const eb = el('div', { class: 'error-box', 'data-testid': 'error-detail' },
          el('div', { class: 'emsg' }, (md.traceback ? 'panic: ' : 'error: ') + (obs.error || obs.status_message || '')),
          md.error_type ? el('div', { class: 'mono' }, 'type ' + md.error_type) : null);
        if (md.traceback) eb.append(el('details', { open: true }, el('summary', null, 'stack'), tracebackView(md.traceback)));
        box.append(eb);
      }
      const conv = n.type === 'generation' || obs.type === 'generation' || obs.model ? conversation(obs) : null;
      if (conv) {
        box.append(el('h3', null, 'Conversation'), conversationView(obs, conv));
      }
      const section = (title, v, testid) => {
        if (v === undefined) return;
        box.append(el('h3', null, title, el('button', { type: 'button', class: 'btn small', 'data-testid': 'copy-' + testid, onclick: () => copy(pretty(v), title.toLowerCase()) }, 'copy')));
        const view = valueView(v, conv ? 1 : 2);
        view.setAttribute('data-testid', testid);
        box.append(view);
      };
      section('Input', obs.input, 'input');
      section('Output', obs.output, 'output');
      const keys = Object.keys(md).filter((k) => k !== 'traceback').sort();
      if (keys.length) {
        box.append(el('h3', null, 'Metadata'));
        box.append(el('table', { class: 'meta', 'data-testid': 'metadata' }, keys.map((k) => {
          const v = md[k];
          return el('tr', null, el('td', null, k), el('td', null, v !== null && typeof v === 'object' ? jsonView(v, 0) : String(v)));
        })));
      }
      detail.replaceChildren(box);
      detail.scrollTop = 0;
    }
    async function copyTrace() {
      try {
        const res = await api('/api/traces/' + encodeURIComponent(id));
        copy(JSON.stringify(res, null, 2), 'trace JSON');
      } catch (e) { toast('copy failed: ' + e.message); }
    }

    // --- events on rows ---
    // mousedown rather than click: rows are redrawn while a trace runs,
    // and a click whose press and release land on two renderings is lost.
    // A double press toggles.
    rowsEl.addEventListener('mousedown', (e) => {
      if (e.button !== 0) return;
      const row = e.target.closest('.row');
      if (!row) return;
      const n = byId.get(row.dataset.id);
      if (!n) return;
      if (e.target.closest('.tog') || e.detail === 2) { toggle(n, collapsed.has(n.id)); return; }
      if (n.id !== selId) select(n.id);
    });

    let filterTimer = 0;
    filter.addEventListener('input', () => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(() => {
        filterText = filter.value.trim();
        collapsed.clear();
        refresh(false);
        const s = byId.get(selId);
        if (s && visibleIndex(s) >= 0) scrollToIndex(visibleIndex(s), true);
        else vp.scrollTop = 0;
        paint();
      }, 120);
    });
    filter.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === 'ArrowDown') { e.preventDefault(); vp.focus(); if (!selId || visibleIndex(byId.get(selId)) < 0) { const m = flat.find((x) => x._match) || flat[0]; if (m) select(m.id); } }
    });

    // --- live ---
    let liveTimer = 0;
    function scheduleLive() {
      if (liveTimer) return;
      liveTimer = setTimeout(() => {
        liveTimer = 0;
        if (!dirty) return;
        dirty = false;
        computeStats();
        refresh();
        drawHead();
      }, 150);
    }
    function upsert(node) {
      const ex = byId.get(node.id);
      if (ex) {
        // A late start must not reopen an ended observation.
        if (ex.end_time && !node.end_time) return;
        const moved = ex.parent_id !== node.parent_id;
        for (const k of Object.keys(node)) ex[k] = node[k];
        if (!node.end_time) { delete ex.end_time; }
        if (node.end_time) ex.running = false;
        prep(ex);
        detailCache.delete(ex.id);
        if (moved) { build([...byId.values()]); }
        if (ex.id === selId) showDetail(ex);
      } else {
        const n = Object.assign({}, node);
        prep(n);
        byId.set(n.id, n);
        const p = n.parent_id ? byId.get(n.parent_id) : null;
        if (p) insertSorted(childList(p), n);
        else { insertSorted(roots, n); if (n.parent_id) (orphans.get(n.parent_id) || orphans.set(n.parent_id, []).get(n.parent_id)).push(n); }
        const waiting = orphans.get(n.id);
        if (waiting) {
          orphans.delete(n.id);
          for (const w of waiting) { const i = roots.indexOf(w); if (i >= 0) roots.splice(i, 1); insertSorted(childList(n), w); }
        }
        if (summary) summary.observations = Math.max(summary.observations || 0, byId.size);
        if (n.id === selId) showDetail(n);
      }
      dirty = true;
      scheduleLive();
    }
    const off = live.on((kind, data) => {
      if (kind === 'reset') { reload(); return; }
      if (kind === 'trace' && data && data.id === id) { summary = data; drawHead(); }
      else if (kind === 'observation' && data && data.trace_id === id && data.node) upsert(data.node);
    });

    // --- load ---
    async function load(again) {
      try {
        const t = performance.now();
        const r = await fetch('/api/traces/' + encodeURIComponent(id));
        if (!r.ok) { const e = new Error(await errorText(r)); e.status = r.status; throw e; }
        const text = await r.text();
        timings.fetch = performance.now() - t;
        const t2 = performance.now();
        const res = JSON.parse(text);
        timings.parse = performance.now() - t2;
        if (destroyed) return;
        summary = res.trace || summary;
        if (summary && summary.id && summary.id !== id) {
          id = summary.id;
          history.replaceState(null, '', '/trace/' + encodeURIComponent(id) + (selId ? '/' + encodeURIComponent(selId) : ''));
          if (page) page.route = route(location.pathname);
          window.__fluxloopTrace.id = id;
        }
        const t3 = performance.now();
        build(res.observations || []);
        timings.index = performance.now() - t3;
        drawHead();
        const t4 = performance.now();
        refresh(false);
        timings.firstRender = performance.now() - t4;
        timings.total = performance.now() - timings.start;
        timings.nodes = byId.size;
        if (selId && byId.has(selId)) select(selId, { fromHistory: true, center: !again });
        else if (selId) { toast('no observation ' + selId + ' in this trace'); selId = null; }
        window.__fluxloopTrace.ready = true;
        if (!again) vp.focus({ preventScroll: true });
      } catch (e) {
        head.replaceChildren(el('h1', null, 'trace ' + id));
        root.insertBefore(el('div', { class: 'error-banner', 'data-testid': 'load-error' }, 'Could not load the trace: ' + e.message), body);
        window.__fluxloopTrace.ready = true;
        window.__fluxloopTrace.error = e.message;
      }
    }
    function reload() {
      detailCache.clear();
      return load(true);
    }
    load();

    return {
      update(r2) {
        if (r2.id !== id) return false;
        if (r2.oid !== selId) select(r2.oid, { fromHistory: true, center: true });
        return true;
      },
      unmount() { destroyed = true; off(); clearTimeout(liveTimer); window.removeEventListener('resize', schedulePaint); if (detailAbort) detailAbort.abort(); },
      tick() {
        if (summary && summary.in_progress) drawHead();
        if (running > 0) { computeRange(); drawAxis(); paint(); }
      },
      afterFilterEscape(t) {
        if (t === filter && filter.value) { filter.value = ''; filterText = ''; refresh(false); scrollToIndex(visibleIndex(byId.get(selId)), true); paint(); }
        vp.focus({ preventScroll: true });
      },
      key(e) {
        const n = byId.get(selId);
        switch (e.key) {
          case 'j': case 'ArrowDown': move(1); return true;
          case 'k': case 'ArrowUp': move(-1); return true;
          case 'PageDown': move(Math.floor((vp.clientHeight || 600) / ROW_H)); return true;
          case 'PageUp': move(-Math.floor((vp.clientHeight || 600) / ROW_H)); return true;
          case 'Home': case 'g': if (flat[0]) select(flat[0].id, { keyboard: true }); return true;
          case 'End': case 'G': if (flat.length) select(flat[flat.length - 1].id, { keyboard: true }); return true;
          case 'Enter': case 'ArrowRight': case 'l':
            if (!n) { move(1); return true; }
            if (n._k && n._k.length) {
              if (collapsed.has(n.id)) toggle(n, true);
              else move(1);
            }
            return true;
          case 'ArrowLeft': case 'h':
            if (!n) return true;
            if (n._k && n._k.length && !collapsed.has(n.id)) toggle(n, false);
            else if (n.parent_id && byId.has(n.parent_id) && visibleIndex(byId.get(n.parent_id)) >= 0) select(n.parent_id, { keyboard: true });
            return true;
          case 'n': nextError(1); return true;
          case 'N': nextError(-1); return true;
          case '/': filter.focus(); filter.select(); return true;
          case 'f': setFocus(selId); return true;
          case 'F': clearFocus(); return true;
          case 'e': expandAll(); return true;
          case 'E': collapseAll(); return true;
          case 'c': {
            if (!n) return true;
            const obs = detailCache.get(n.id);
            if (obs) copy(JSON.stringify(obs, null, 2), 'observation JSON');
            else api('/api/traces/' + encodeURIComponent(id) + '/observations/' + encodeURIComponent(n.id)).then((o) => copy(JSON.stringify(o, null, 2), 'observation JSON'));
            return true;
          }
          case 'm': {
            const obs = n && detailCache.get(n.id);
            if (obs) copy(markdownOf(obs), 'as Markdown');
            return true;
          }
          case 'Escape':
            if (focusId) clearFocus();
            else if (filterText) { filter.value = ''; filterText = ''; refresh(false); }
            return true;
        }
        return false;
      },
    };
  }

  // ---------- compare page ----------
  function comparePage(r) {
    document.title = 'compare · fluxloop';
    const root = el('section', { class: 'page', 'data-testid': 'compare-page' }, el('div', { class: 'pad muted' }, 'loading…'));
    app.append(root);
    crumbs(el('a', { href: '/', 'data-link': true }, 'traces'), 'compare ' + shortId(r.a) + ' ↔ ' + shortId(r.b));
    let onlyDiff = false;
    let data = null;
    const LIMIT = 3000;
    let showAll = false;

    function card(label, s, other) {
      const start = parseTime(s.start_time);
      const d = (a, b) => (b == null || a == null ? '' : a - b);
      const delta = (v, fmt) => (v === '' || !v ? '' : ' (' + (v > 0 ? '+' : '') + fmt(v) + ')');
      return el('div', { class: 'cmp-card', 'data-testid': 'compare-card-' + label.toLowerCase() },
        el('h2', null, el('span', { class: 'lbl' }, label), el('a', { href: '/trace/' + encodeURIComponent(s.id), 'data-link': true }, traceName(s))),
        el('div', { class: 'muted mono' }, s.id),
        el('div', null, 'started ' + fmtClock(start)),
        el('div', null, 'duration ', el('b', null, fmtDur(s.duration_ms)), other ? delta(d(s.duration_ms, other.duration_ms), fmtDur) : ''),
        el('div', null, 'observations ', el('b', null, fmtInt(s.observations)), other ? delta(d(s.observations, other.observations), fmtInt) : ''),
        el('div', null, 'errors ', el('b', null, String(s.errors || 0))),
        el('div', null, 'tokens ', el('b', null, fmtInt(s.total_tokens || 0)), other ? delta(d(s.total_tokens || 0, other.total_tokens || 0), fmtInt) : ''),
        s.cost_usd != null ? el('div', null, 'cost ', el('b', null, fmtCost(s.cost_usd))) : null);
    }
    function nodeTokens(n) { return n ? (n.prompt_tokens || 0) + (n.completion_tokens || 0) : null; }
    function isDiff(row) {
      return !row.a || !row.b || row.error_changed || row.output_changed || row.tokens_delta || significant(row);
    }
    function significant(row) {
      if (!row.a || !row.b) return false;
      const d = row.duration_delta_ms || 0;
      const base = Math.max(row.a.duration_ms || 0, 0.001);
      return Math.abs(d) >= 1 && Math.abs(d) / base >= 0.2;
    }
    function draw() {
      const rows = data.rows || [];
      const list = onlyDiff ? rows.filter(isDiff) : rows;
      const shown = showAll ? list : list.slice(0, LIMIT);
      const tbody = el('tbody');
      const frag = document.createDocumentFragment();
      for (const row of shown) {
        const a = row.a;
        const b = row.b;
        const any = a || b;
        const depth = ((row.path || '').replace(/\\./g, '').match(/\//g) || []).length;
        const link = (side, n) => (n ? el('a', { href: '/trace/' + encodeURIComponent(side.id) + '/' + encodeURIComponent(n.id), 'data-link': true }, fmtDur(n.duration_ms)) : el('span', { class: 'muted' }, '—'));
        const dd = row.duration_delta_ms;
        const sig = significant(row);
        const cls = !a ? 'added' : !b ? 'removed' : '';
        const errCell = (n) => (n && isErrNode(n) ? el('span', { class: 'pill err', title: n.error || '' }, 'error') : '');
        frag.append(el('tr', { class: cls, 'data-testid': 'compare-row', 'data-path': row.path, 'data-changed': isDiff(row) ? '1' : '0' },
          el('td', { class: 'path', style: 'padding-left:' + (8 + Math.min(depth, 30) * 14) + 'px', title: row.path },
            any ? el('span', { class: 'badge ' + typeClass(any.type) }, any.type) : null, ' ', (any && any.name) || row.path,
            !a ? el('span', { class: 'pill' }, ' only in B') : !b ? el('span', { class: 'pill' }, ' only in A') : null),
          el('td', { class: 'num' }, link(data.a, a)),
          el('td', { class: 'num' }, link(data.b, b)),
          el('td', { class: 'num' + (sig ? (dd > 0 ? ' slower' : ' faster') : ''), 'data-testid': 'duration-delta' }, a && b && dd != null ? (dd > 0 ? '+' : '') + fmtDur(dd) : ''),
          el('td', { class: 'num' }, a ? fmtTokens(nodeTokens(a)) : ''),
          el('td', { class: 'num' }, b ? fmtTokens(nodeTokens(b)) : ''),
          el('td', { class: 'num' + (row.tokens_delta ? ' changed' : ''), 'data-testid': 'tokens-delta' }, row.tokens_delta ? (row.tokens_delta > 0 ? '+' : '') + fmtInt(row.tokens_delta) : ''),
          el('td', { class: row.error_changed ? 'changed' : '', 'data-testid': 'error-cell' }, errCell(a), row.error_changed ? ' → ' : ' ', errCell(b)),
          el('td', { class: row.output_changed ? 'changed' : '', 'data-testid': 'output-cell' }, row.output_changed ? 'changed' : '')));
      }
      tbody.append(frag);
      const toggle = el('input', { type: 'checkbox', checked: onlyDiff, 'data-testid': 'only-diff', onchange: (e) => { onlyDiff = e.target.checked; draw(); } });
      const changed = rows.filter(isDiff).length;
      const bar = el('div', { class: 'list-bar' },
        el('span', null, fmtInt(rows.length) + ' aligned rows, ' + fmtInt(changed) + ' differ'),
        el('label', null, toggle, ' only differences'),
        el('span', { class: 'spacer' }),
        el('a', { href: '/compare/' + encodeURIComponent(r.b) + '/' + encodeURIComponent(r.a), 'data-link': true }, 'swap A ↔ B'),
        list.length > shown.length ? el('button', { type: 'button', class: 'btn small', onclick: () => { showAll = true; draw(); } }, 'show all ' + fmtInt(list.length)) : null);
      const table = el('table', { class: 'grid', 'data-testid': 'compare-table' },
        el('thead', null, el('tr', null, ['observation', 'A', 'B', 'Δ duration', 'A tok', 'B tok', 'Δ tokens', 'errors', 'output'].map((h, i) => el('th', { class: i >= 1 && i <= 6 ? 'num' : null }, h)))),
        tbody);
      root.replaceChildren(el('div', { class: 'cmp-head' }, card('A', data.a), card('B', data.b, data.a)), bar, el('div', { class: 'scroll', style: 'flex:1' }, table));
    }
    (async () => {
      try {
        data = await api('/api/compare?a=' + encodeURIComponent(r.a) + '&b=' + encodeURIComponent(r.b));
        draw();
      } catch (e) {
        root.replaceChildren(el('div', { class: 'error-banner', 'data-testid': 'load-error' }, 'Could not compare: ' + e.message));
      }
    })();
    return { unmount() {}, key() { return false; } };
  }

  const PAGES = { list: listPage, trace: tracePage, compare: comparePage };
  live.connect();
  render();
})();
