// The person explorer (internal/explorer). Every value from the API is
// attacker-controlled (distinct_ids and property values arrive in events):
// it reaches the page only as text (textContent, createTextNode) or as an
// attribute value set with setAttribute on a fixed attribute name — never
// as markup. The Content-Security-Policy forbids inline script anyway.
'use strict';

(function () {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const MAX_NODES = 60;      // lineage graph: ids drawn
  const MAX_EDGES = 120;     // lineage graph: steps drawn
  const MAX_LABEL = 28;      // characters of an id shown on a node
  const MAX_VALUE = 400;     // characters of a property value shown
  const TOKEN_KEY = 'resolver-admin-token';

  const $ = (id) => document.getElementById(id);
  let token = '';
  let current = null; // {team, distinctID, person}

  // el makes an HTML element; children are nodes or strings (text).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  // svg makes an SVG element with fixed attribute names.
  function svg(tag, attrs) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }

  function clip(s, n) {
    s = String(s);
    return s.length > n ? s.slice(0, n - 1) + '…' : s;
  }

  function setStatus(msg, isError) {
    const s = $('status');
    s.textContent = msg;
    s.classList.toggle('error', !!isError);
  }

  function done(state) { document.body.dataset.state = state; }

  // api calls the admin API with the token; it returns {status, body}.
  async function api(method, path, params) {
    const qs = new URLSearchParams();
    for (const [k, v] of params || []) qs.append(k, v);
    const headers = {};
    if (token) headers.Authorization = 'Bearer ' + token;
    const res = await fetch(path + '?' + qs.toString(), { method, headers, cache: 'no-store', credentials: 'omit' });
    let body = null;
    try { body = await res.json(); } catch (_) { body = null; }
    return { status: res.status, body };
  }

  function apiError(what, r) {
    if (r.status === 401) return what + ': the admin token is missing or wrong (enter it above)';
    const msg = r.body && typeof r.body.error === 'string' ? r.body.error : 'HTTP ' + r.status;
    return what + ': ' + msg;
  }

  // ---- URL inputs ----------------------------------------------------

  function readURL() {
    const q = new URLSearchParams(location.search);
    const h = new URLSearchParams(location.hash.replace(/^#/, ''));
    const get = (k) => h.get(k) || q.get(k) || '';
    const t = h.get('token') || q.get('token');
    if (t !== null) {
      token = t;
      try { sessionStorage.setItem(TOKEN_KEY, t); } catch (_) { /* storage off */ }
      // Keep the token out of the address bar and the history.
      q.delete('token'); h.delete('token');
      const rest = h.toString();
      history.replaceState(null, '', location.pathname + (q.toString() ? '?' + q : '') + (rest ? '#' + rest : ''));
    } else {
      try { token = sessionStorage.getItem(TOKEN_KEY) || ''; } catch (_) { token = ''; }
    }
    return { view: get('view'), team: get('team'), distinctID: get('distinct_id'), month: get('month') };
  }

  function pushURL(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
    history.replaceState(null, '', location.pathname + '?' + q.toString());
  }

  function showTokenState() {
    $('token-state').textContent = token ? 'token set' : 'no token';
  }

  // ---- views ---------------------------------------------------------

  function showView(name) {
    $('person-view').hidden = name !== 'person';
    $('billing-view').hidden = name !== 'billing';
    $('nav-person').setAttribute('aria-pressed', String(name === 'person'));
    $('nav-billing').setAttribute('aria-pressed', String(name === 'billing'));
  }

  // ---- person --------------------------------------------------------

  // search shows the person of distinctID and its lineage; note, if any,
  // is the status line once it is shown (the outcome of an action).
  async function search(team, distinctID, note) {
    done('loading');
    setStatus('Looking up ' + clip(distinctID, 80) + ' in team ' + clip(team, 40) + '…');
    $('person').hidden = true;
    $('lineage').hidden = true;
    if (!note) $('outcome').hidden = true; // else: the outcome the note is about stays
    current = null;
    pushURL({ team, distinct_id: distinctID });
    try {
      const params = [['team', team], ['distinct_id', distinctID]];
      const [p, l] = await Promise.all([api('GET', '/v1/persons', params), api('GET', '/v1/persons/lineage', params)]);
      if (p.status === 200 && p.body) {
        current = { team, distinctID, person: p.body };
        renderPerson(p.body);
        setStatus(note || '');
      } else if (p.status === 404 && p.body && p.body.implicit) {
        setStatus('No stored person for this distinct_id: its events are stamped with its implicit person ' + p.body.person_id + ', which has no properties.');
      } else {
        setStatus(apiError('person lookup', p), true);
        done('error');
        return;
      }
      if (l.status === 200 && l.body) {
        renderLineage(l.body, current ? current.person : null);
      } else {
        setStatus(apiError('lineage', l), true);
        done('error');
        return;
      }
      done('done');
    } catch (e) {
      setStatus('request failed: ' + e, true);
      done('error');
    }
  }

  function fact(dl, name, value) {
    dl.append(el('dt', {}, name), el('dd', {}, value));
  }

  function renderPerson(p) {
    $('person-id').textContent = p.person_id;
    $('person-class').textContent = p.is_identified ? 'identified' : 'anonymous';
    const dl = $('person-facts');
    dl.replaceChildren();
    fact(dl, 'team', p.team);
    fact(dl, 'looked up', p.distinct_id);
    fact(dl, 'created', p.created_at || '—');
    fact(dl, 'version', p.version);

    const ids = Array.isArray(p.distinct_ids) ? p.distinct_ids : [];
    $('ids-count').textContent = '(' + ids.length + ')';
    const tb = $('ids-table').tBodies[0];
    tb.replaceChildren();
    for (const d of ids) {
      const box = el('input', { type: 'checkbox', class: 'split-pick' });
      box.value = d.distinct_id; // a property, not markup
      const link = el('a', {}, d.distinct_id);
      link.href = '?' + new URLSearchParams({ team: p.team, distinct_id: d.distinct_id }).toString();
      tb.append(el('tr', { class: 'id-row' }, el('td', {}, box), el('td', { class: 'mono' }, link), el('td', { class: 'num' }, d.version)));
    }

    const props = p.properties && typeof p.properties === 'object' ? Object.entries(p.properties) : [];
    props.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    $('props-count').textContent = '(' + props.length + ')';
    const pb = $('props-table').tBodies[0];
    pb.replaceChildren();
    for (const [k, v] of props) {
      const raw = JSON.stringify(v !== null && typeof v === 'object' && 'value' in v ? v.value : v) || '';
      const cell = el('td', { class: 'value' }, clip(raw, MAX_VALUE));
      if (raw.length > MAX_VALUE) cell.setAttribute('title', raw.slice(0, 4000));
      pb.append(el('tr', { class: 'prop-row' }, el('td', { class: 'mono' }, k), cell, el('td', {}, v && v.time ? v.time : '')));
    }
    $('person').hidden = false;
  }

  // ---- lineage graph -------------------------------------------------

  function stepTime(s) { return s.event_timestamp || s.log_time || ''; }

  // graphOf turns a LineageView into nodes and edges: ids as nodes; a
  // merge as an edge from the id it named to the id it went into; a split
  // or deletion as an edge to a synthetic node; a refusal as a dashed edge.
  function graphOf(v, person) {
    const nodes = new Map();
    const addNode = (id, kind) => {
      if (id === undefined || id === null || id === '') return null;
      const key = kind === 'synthetic' ? '\u0000' + id : 'id:' + id;
      if (!nodes.has(key)) {
        if (nodes.size >= MAX_NODES) return null;
        nodes.set(key, { key, id: String(id), kind });
      } else if (kind === 'self') {
        nodes.get(key).kind = 'self';
      }
      return key;
    };
    addNode(v.distinct_id, 'self');
    if (person && Array.isArray(person.distinct_ids)) {
      for (const d of person.distinct_ids) addNode(d.distinct_id, 'member');
    }
    const edges = [];
    const seen = new Set();
    const steps = [];
    const collect = (list, refused) => {
      for (const s of Array.isArray(list) ? list : []) {
        const k = [s.log_partition, s.log_offset, s.log_index, refused].join('/');
        if (seen.has(k)) continue;
        seen.add(k);
        steps.push({ s, refused: refused || !!s.refused });
      }
    };
    collect(v.moves, false);
    collect(v.grew, false);
    collect(v.refusals, true);
    steps.sort((a, b) => (a.s.log_partition - b.s.log_partition) || (a.s.log_offset - b.s.log_offset) || (a.s.log_index - b.s.log_index));
    for (const { s, refused } of steps) {
      if (edges.length >= MAX_EDGES) break;
      const moved = Array.isArray(s.distinct_ids_moved) ? s.distinct_ids_moved : [];
      let from, to;
      if (s.rule === 'split' && !refused) {
        from = addNode(moved[0] || v.distinct_id, 'member');
        to = addNode('new person ' + clip(s.survivor_person_id || '', 13), 'synthetic');
      } else if (s.rule === 'delete' && !refused) {
        from = addNode(moved[0] || v.distinct_id, 'member');
        to = addNode('deleted', 'synthetic');
      } else {
        from = addNode(s.other_distinct_id || moved[0] || v.distinct_id, 'member');
        to = addNode(s.into_distinct_id || v.distinct_id, 'member');
      }
      if (from === null || to === null) continue;
      const label = (refused ? 'refused ' + (s.refused || s.rule) : s.rule) + ' · ' + stepTime(s);
      edges.push({ from, to, label, refused, rule: s.rule });
    }
    return { nodes: [...nodes.values()], edges, steps };
  }

  function renderLineage(v, person) {
    const g = graphOf(v, person);
    const box = $('graph');
    box.replaceChildren(drawGraph(g));
    const tb = $('steps-table').tBodies[0];
    tb.replaceChildren();
    for (const { s, refused } of g.steps) {
      const moved = Array.isArray(s.distinct_ids_moved) ? s.distinct_ids_moved : [];
      const more = (s.distinct_ids_moved_count || 0) > moved.length ? ' … (' + s.distinct_ids_moved_count + ')' : '';
      tb.append(el('tr', { class: refused ? 'step refused' : 'step' },
        el('td', {}, s.rule),
        el('td', {}, refused ? 'refused: ' + (s.refused || '') : 'applied'),
        el('td', { class: 'mono' }, s.other_distinct_id || ''),
        el('td', { class: 'mono' }, s.into_distinct_id || ''),
        el('td', { class: 'mono' }, moved.join(', ') + more),
        el('td', {}, stepTime(s)),
        el('td', { class: 'mono' }, s.log_partition + '@' + s.log_offset)));
    }
    if (g.steps.length === 0) {
      tb.append(el('tr', {}, el('td', { colspan: '7' }, 'No recorded step moved this id: it is in the person it started in.')));
    }
    if (v.truncated) tb.append(el('tr', {}, el('td', { colspan: '7', class: 'muted' }, 'Only the newest steps are shown.')));
    $('lineage').hidden = false;
  }

  function drawGraph(g) {
    // The looked-up id in the middle, the others on a circle around it:
    // most steps join an id to the looked-up id's person, so edges and
    // their labels spread out radially.
    const n = g.nodes.length;
    const others = g.nodes.filter((node) => node.kind !== 'self');
    const radius = others.length === 0 ? 0 : Math.max(170, others.length * 26);
    const pad = 190;
    const w = 2 * (radius + pad), h = 2 * radius + 120;
    const cx = w / 2, cy = h / 2;
    const pos = new Map();
    others.forEach((node, i) => {
      const a = -Math.PI / 2 + Math.PI / Math.max(others.length, 1) + (2 * Math.PI * i) / Math.max(others.length, 1);
      pos.set(node.key, { x: cx + radius * Math.cos(a), y: cy + radius * Math.sin(a), a });
    });
    for (const node of g.nodes) if (node.kind === 'self') pos.set(node.key, { x: cx, y: cy, a: 0 });
    const root = svg('svg', { width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, role: 'img', 'aria-label': 'lineage graph' });
    const title = svg('title');
    title.textContent = 'Lineage: ' + n + ' ids, ' + g.edges.length + ' steps';
    root.append(title);

    // Parallel edges between one pair bend apart.
    const pairCount = new Map();
    const edgeLayer = svg('g', { class: 'edges' });
    for (const e of g.edges) {
      const a = pos.get(e.from), b = pos.get(e.to);
      const pair = [e.from, e.to].sort().join('\u0001');
      const k = pairCount.get(pair) || 0;
      pairCount.set(pair, k + 1);
      const grp = svg('g', { class: 'edge ' + (e.refused ? 'refusal' : 'merge'), 'data-rule': e.rule });
      let d, lx, ly;
      if (e.from === e.to) {
        d = 'M ' + a.x + ' ' + a.y + ' c 40 -60 80 0 0 0';
        lx = a.x + 40; ly = a.y - 40;
      } else {
        const mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2;
        const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
        const bend = (k % 2 === 0 ? 1 : -1) * (18 + 26 * Math.floor(k / 2)) * (e.refused ? 1.6 : 1);
        const qx = mx - (dy / len) * bend, qy = my + (dx / len) * bend;
        d = 'M ' + a.x + ' ' + a.y + ' Q ' + qx + ' ' + qy + ' ' + b.x + ' ' + b.y;
        lx = (a.x + 2 * qx + b.x) / 4; ly = (a.y + 2 * qy + b.y) / 4;
      }
      const path = svg('path', { d, 'marker-end': 'url(#arrow)' });
      if (e.refused) path.setAttribute('stroke-dasharray', '6 4');
      const t = svg('text', { x: lx, y: ly, 'text-anchor': 'middle' });
      t.textContent = e.label;
      const tip = svg('title');
      tip.textContent = e.label;
      grp.append(path, t, tip);
      edgeLayer.append(grp);
    }
    const defs = svg('defs');
    const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '16', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' });
    marker.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#475467' }));
    defs.append(marker);
    root.append(defs, edgeLayer);

    const nodeLayer = svg('g', { class: 'nodes' });
    for (const node of g.nodes) {
      const p = pos.get(node.key);
      const grp = svg('g', { class: 'node ' + node.kind });
      grp.setAttribute('data-id', node.id);
      const right = Math.cos(p.a) >= -0.01;
      const t = svg('text', { x: p.x + (right ? 12 : -12), y: p.y + 4, 'text-anchor': right ? 'start' : 'end' });
      t.textContent = clip(node.id, MAX_LABEL);
      const tip = svg('title');
      tip.textContent = node.id;
      grp.append(svg('circle', { cx: p.x, cy: p.y, r: 7 }), t, tip);
      nodeLayer.append(grp);
    }
    root.append(nodeLayer);
    return root;
  }

  // ---- split and delete ---------------------------------------------

  // confirmDialog shows the dialog and resolves to {ok, checked}.
  function confirmDialog(title, text, ids, optionLabel) {
    return new Promise((resolve) => {
      const d = $('confirm');
      $('confirm-title').textContent = title;
      $('confirm-text').textContent = text;
      const ul = $('confirm-ids');
      ul.replaceChildren(...ids.slice(0, 200).map((id) => el('li', {}, id)));
      if (ids.length > 200) ul.append(el('li', {}, '… and ' + (ids.length - 200) + ' more'));
      $('confirm-option').hidden = !optionLabel;
      $('confirm-check').checked = false;
      $('confirm-check-label').textContent = optionLabel || '';
      d.returnValue = 'cancel';
      d.addEventListener('close', () => resolve({ ok: d.returnValue === 'ok', checked: $('confirm-check').checked }), { once: true });
      d.showModal();
    });
  }

  function showOutcome(r) {
    const o = $('outcome');
    o.textContent = JSON.stringify(r.body, null, 2);
    o.hidden = false;
  }

  async function splitSelected() {
    if (!current) return;
    const ids = [...document.querySelectorAll('#ids-table input.split-pick:checked')].map((b) => b.value);
    if (ids.length === 0) {
      setStatus('Select the distinct_ids to move out of the person first (the first one names the new person).', true);
      return;
    }
    const c = await confirmDialog('Split person ' + current.person.person_id + '?',
      'These distinct_ids leave the person and form one new person (' + ids.length + '):', ids,
      'start the new person without properties');
    if (!c.ok) return;
    const params = [['team', current.team], ...ids.map((id) => ['distinct_id', id])];
    if (c.checked) params.push(['no_properties', 'true']);
    const r = await api('POST', '/v1/persons/split', params);
    showOutcome(r);
    if (r.status === 200) {
      await search(current.team, current.distinctID, 'Split: ' + ids.length + ' ids moved to person ' + r.body.new_person_id);
    } else if (r.status === 202) {
      setStatus('The split was written; its outcome is pending (no instance applied it yet).');
    } else if (r.status === 409) {
      setStatus('Split refused: ' + (r.body.reason || r.body.refused), true);
    } else {
      setStatus(apiError('split', r), true);
    }
  }

  async function deletePerson() {
    if (!current) return;
    const ids = (current.person.distinct_ids || []).map((d) => d.distinct_id);
    const c = await confirmDialog('Delete person ' + current.person.person_id + '?',
      'The person, its properties and every distinct-id mapping are deleted; its properties are erased everywhere. This cannot be undone. Its ids (' + ids.length + '):',
      ids, 'block these ids: their later events go to the dead letters');
    if (!c.ok) return;
    const params = [['team', current.team], ['distinct_id', current.distinctID]];
    if (c.checked) params.push(['block', 'true']);
    const r = await api('DELETE', '/v1/persons', params);
    showOutcome(r);
    if (r.status === 200) {
      setStatus(r.body.status === 'deleted' ? 'Deleted person ' + r.body.person_id : 'Nothing to delete: no person has this id.');
      $('person').hidden = true;
    } else if (r.status === 202) {
      setStatus('The deletion was written; its outcome is pending (no instance applied it yet).');
    } else {
      setStatus(apiError('delete', r), true);
    }
  }

  // ---- billing -------------------------------------------------------

  async function billing(team, month) {
    done('loading');
    showView('billing');
    pushURL({ view: 'billing', team, month });
    setStatus('Loading the billing report…');
    const params = [];
    if (team) params.push(['team', team]);
    if (month) params.push(['month', month]);
    try {
      const r = await api('GET', '/v1/billing', params);
      const tb = $('billing-table').tBodies[0];
      tb.replaceChildren();
      if (r.status !== 200 || !r.body) {
        setStatus(apiError('billing', r), true);
        done('error');
        return;
      }
      const sts = Array.isArray(r.body.statements) ? r.body.statements : [];
      for (const s of sts) {
        if (s.error) {
          tb.append(el('tr', { class: 'error' }, el('td', {}, s.team), el('td', {}, s.month), el('td', {}, 'error'), el('td', {}, ''), el('td', {}, s.error), el('td', {}, '')));
          continue;
        }
        for (const c of [s.anonymous, s.identified]) {
          if (!c) continue;
          const tiers = (Array.isArray(c.tiers) ? c.tiers : []).map((t) =>
            t.events + ' × ' + t.unit_price + ' (after ' + t.from + (t.up_to ? ', to ' + t.up_to : '') + ')').join('; ');
          tb.append(el('tr', { class: 'cost' }, el('td', {}, s.team), el('td', {}, s.month), el('td', {}, c.class),
            el('td', { class: 'num' }, c.events), el('td', {}, tiers), el('td', { class: 'num' }, c.total)));
        }
        tb.append(el('tr', {}, el('td', {}, s.team), el('td', {}, s.month), el('td', {}, 'excluded'),
          el('td', { class: 'num' }, s.excluded_events), el('td', {}, 'not billed'), el('td', { class: 'num' }, '')));
        tb.append(el('tr', { class: 'total' }, el('td', {}, s.team), el('td', {}, s.month), el('td', {}, 'total'),
          el('td', {}, ''), el('td', {}, 'all identified: ' + s.all_identified + ', saving ' + s.saving), el('td', { class: 'num' }, s.total)));
      }
      setStatus(sts.length === 0 ? 'No billing data for this selection.' : '');
      done('done');
    } catch (e) {
      setStatus('request failed: ' + e, true);
      done('error');
    }
  }

  // ---- wiring --------------------------------------------------------

  function start() {
    const u = readURL();
    showTokenState();
    $('token').value = '';
    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      token = $('token').value.trim();
      try { sessionStorage.setItem(TOKEN_KEY, token); } catch (_) { /* storage off */ }
      $('token').value = '';
      showTokenState();
    });
    $('search-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      search($('team').value, $('distinct-id').value);
    });
    $('billing-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      billing($('billing-team').value, $('billing-month').value);
    });
    $('nav-person').addEventListener('click', () => showView('person'));
    $('nav-billing').addEventListener('click', () => showView('billing'));
    $('split-button').addEventListener('click', splitSelected);
    $('delete-button').addEventListener('click', deletePerson);

    if (u.view === 'billing') {
      $('billing-team').value = u.team;
      $('billing-month').value = u.month;
      billing(u.team, u.month);
      return;
    }
    showView('person');
    $('team').value = u.team;
    $('distinct-id').value = u.distinctID;
    if (u.team && u.distinctID) {
      search(u.team, u.distinctID);
    } else {
      done('ready');
    }
  }

  start();
})();
