// docs.js: renders /openapi.json and the WebSocket message schemas (/protocol/schemas/) as a
// readable page. Self-contained: no libraries, no external resources, no inline scripts or event
// attributes (the server's CSP forbids them). Every string from the documents goes into the DOM
// through textContent, never innerHTML.
'use strict';

(function () {
  const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'trace'];
  const content = document.getElementById('content');
  const tocBody = document.getElementById('toc-body');
  const statusEl = document.getElementById('status');

  // ------------------------------------------------------------------ DOM helpers
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return e;
  }
  const code = (t) => el('code', null, t);
  const slug = (s) => String(s).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

  // ------------------------------------------------------------------ tiny Markdown
  // Enough for the descriptions: paragraphs, "## headings", "- lists", `code`, **bold**, [links](url).
  function inline(text) {
    const out = [];
    const re = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)/g;
    let last = 0;
    let m;
    while ((m = re.exec(text))) {
      if (m.index > last) out.push(text.slice(last, m.index));
      if (m[1] !== undefined) out.push(code(m[1]));
      else if (m[2] !== undefined) out.push(el('strong', null, m[2]));
      else {
        const href = /^(https?:\/\/|\/|#)/.test(m[4]) ? m[4] : null;
        out.push(href ? el('a', { href }, m[3]) : m[3]);
      }
      last = re.lastIndex;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }
  function markdown(text) {
    const frag = document.createDocumentFragment();
    if (!text) return frag;
    let list = null;
    let para = [];
    const flush = () => {
      if (para.length) frag.appendChild(el('p', null, inline(para.join(' '))));
      para = [];
    };
    for (const raw of String(text).split('\n')) {
      const line = raw.trimEnd();
      const h = line.match(/^(#{1,4})\s+(.*)$/);
      const li = line.match(/^\s*[-*]\s+(.*)$/);
      if (h) {
        flush(); list = null;
        frag.appendChild(el('h4', { class: 'md-h' }, inline(h[2])));
      } else if (li) {
        flush();
        if (!list) { list = el('ul'); frag.appendChild(list); }
        list.appendChild(el('li', null, inline(li[1])));
      } else if (!line.trim()) {
        flush(); list = null;
      } else if (list && /^\s+/.test(raw)) {
        list.lastChild.appendChild(document.createTextNode(' '));
        for (const n of inline(line.trim())) list.lastChild.append(n);
      } else {
        list = null;
        para.push(line.trim());
      }
    }
    flush();
    return frag;
  }

  // ------------------------------------------------------------------ fetching and $ref resolution
  const docs = new Map(); // absolute URL (no fragment) -> parsed JSON
  async function getJson(url) {
    const abs = new URL(url, location.href).href.split('#')[0];
    if (!docs.has(abs)) {
      docs.set(abs, fetch(abs, { headers: { accept: 'application/json' } }).then((r) => {
        if (!r.ok) throw new Error(`${abs}: HTTP ${r.status}`);
        return r.json();
      }));
    }
    return docs.get(abs);
  }
  function pointer(doc, frag) {
    if (!frag || frag === '#') return doc;
    let cur = doc;
    for (const raw of frag.replace(/^#\/?/, '').split('/')) {
      const k = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
      if (cur == null || typeof cur !== 'object' || !(k in cur)) return undefined;
      cur = cur[k];
    }
    return cur;
  }
  // Walk a schema and fetch every document its $refs name, so rendering can stay synchronous.
  async function preload(schema, base, seen = new Set()) {
    if (!schema || typeof schema !== 'object') return;
    if (Array.isArray(schema)) { for (const s of schema) await preload(s, base, seen); return; }
    if (typeof schema.$ref === 'string' && !schema.$ref.startsWith('#')) {
      const abs = new URL(schema.$ref, base).href;
      const docUrl = abs.split('#')[0];
      if (!seen.has(docUrl)) {
        seen.add(docUrl);
        const doc = await getJson(docUrl);
        await preload(doc, docUrl, seen);
      }
    }
    for (const [k, v] of Object.entries(schema)) if (k !== 'example' && k !== 'examples') await preload(v, base, seen);
  }
  // Returns {schema, base, name} for a $ref, using only documents already loaded.
  function resolve(ref, base, rootDoc) {
    if (ref.startsWith('#')) return { schema: pointer(rootDoc, ref), base, rootDoc, name: ref.split('/').pop() };
    const abs = new URL(ref, base).href;
    const [docUrl, frag] = abs.split('#');
    const cached = docs.get(docUrl);
    const doc = cached && cached.resolved;
    return { schema: doc ? pointer(doc, frag ? '#' + frag : '#') : undefined, base: docUrl, rootDoc: doc, name: (doc && doc.title) || ref };
  }
  // Remember resolved values beside their promises (preload awaited them all).
  async function settle() {
    for (const [, p] of docs) { try { p.resolved = await p; } catch (e) { p.resolved = undefined; } }
  }

  // ------------------------------------------------------------------ schema rendering
  function constraints(s) {
    const c = [];
    if (s.format) c.push(`format: ${s.format}`);
    if (s.pattern) c.push(`pattern: ${s.pattern}`);
    if (s.minimum !== undefined) c.push(`≥ ${s.minimum}`);
    if (s.maximum !== undefined) c.push(`≤ ${s.maximum}`);
    if (s.minLength !== undefined) c.push(`min length ${s.minLength}`);
    if (s.maxLength !== undefined) c.push(`max length ${s.maxLength}`);
    if (s.minItems !== undefined) c.push(`min items ${s.minItems}`);
    if (s.maxItems !== undefined) c.push(`max items ${s.maxItems}`);
    if (s.default !== undefined) c.push(`default: ${JSON.stringify(s.default)}`);
    if (s.additionalProperties === false) c.push('no other members');
    return c;
  }
  // oneOf/anyOf whose alternatives are plain types: shown as "string | number".
  function simpleAlts(s) {
    const alts = s && (s.oneOf || s.anyOf);
    if (!alts || !alts.every((a) => a && typeof a.type === 'string' && !a.properties && !a.items && !a.$ref)) return null;
    return alts.map((a) => a.type + (a.maxLength !== undefined ? ` (≤ ${a.maxLength} chars)` : ''));
  }
  function typeLabel(s) {
    if (!s || typeof s !== 'object') return 'any';
    if (s.const !== undefined) return JSON.stringify(s.const);
    const simple = simpleAlts(s);
    if (simple) return simple.join(' | ');
    let t = Array.isArray(s.type) ? s.type.join(' | ') : s.type;
    if (!t) {
      if (s.oneOf) t = 'one of';
      else if (s.anyOf) t = 'any of';
      else if (s.allOf) t = 'all of';
      else if (s.properties) t = 'object';
      else t = 'any';
    }
    if (t === 'array' && s.items && !Array.isArray(s.items)) {
      const it = s.items.$ref ? s.items.$ref.split('/').pop().replace(/\.json$/, '') : typeLabel(s.items);
      t = /^(one|any|all) of$/.test(it) ? 'array' : `array of ${it}`;
    }
    if (s.nullable) t += ' | null';
    return t;
  }

  // ctx: {base, rootDoc, depth, seen:Set, linkFor(ref)->id|null}
  function schemaView(schema, ctx) {
    const box = el('div', { class: 'schema' });
    renderInto(box, schema, ctx);
    return box;
  }
  function refChip(ref, ctx) {
    const id = ctx.linkFor && ctx.linkFor(ref, ctx.base);
    const name = ref.replace(/^.*\//, '').replace(/\.json$/, '');
    return id ? el('a', { href: '#' + id, class: 'ref' }, name) : el('span', { class: 'ref' }, name);
  }
  function renderInto(box, s, ctx) {
    if (!s || typeof s !== 'object') { box.appendChild(el('p', { class: 'muted' }, 'any value')); return; }
    if (s.$ref) {
      const r = resolve(s.$ref, ctx.base, ctx.rootDoc);
      const key = new URL(s.$ref, ctx.base).href;
      const line = el('p', { class: 'refline' }, 'See ', refChip(s.$ref, ctx));
      box.appendChild(line);
      if (r.schema && !ctx.seen.has(key) && ctx.depth < 6) {
        const d = el('details', { class: 'expand' }, el('summary', null, 'expand'));
        if (ctx.depth < 1 && ctx.openRefs) d.open = true;
        const seen = new Set(ctx.seen); seen.add(key);
        d.appendChild(schemaView(r.schema, { ...ctx, base: r.base, rootDoc: r.rootDoc, depth: ctx.depth + 1, seen }));
        box.appendChild(d);
      }
      return;
    }
    const head = el('p', { class: 'typeline' }, el('span', { class: 'type' }, typeLabel(s)));
    for (const c of constraints(s)) head.append(' ', el('span', { class: 'con' }, c));
    box.appendChild(head);
    if (s.description && ctx.depth > 0) box.appendChild(el('div', { class: 'desc' }, markdown(s.description)));
    if (s.enum) box.appendChild(el('p', { class: 'enum' }, 'one of: ', s.enum.map((v, i) => [i ? ', ' : '', code(JSON.stringify(v))])));
    if (s.properties) box.appendChild(propsTable(s, ctx));
    if (s.type === 'array' || s.items) {
      if (Array.isArray(s.items)) {
        s.items.forEach((it, i) => {
          box.appendChild(el('p', { class: 'sub' }, `item ${i}:`));
          box.appendChild(schemaView(it, { ...ctx, depth: ctx.depth + 1 }));
        });
        if (s.additionalItems && typeof s.additionalItems === 'object') {
          box.appendChild(el('p', { class: 'sub' }, `items ${s.items.length} and after:`));
          box.appendChild(schemaView(s.additionalItems, { ...ctx, depth: ctx.depth + 1 }));
        }
      } else if (s.items && (s.items.$ref || s.items.properties || s.items.oneOf || s.items.items)) {
        box.appendChild(el('p', { class: 'sub' }, 'each item:'));
        box.appendChild(schemaView(s.items, { ...ctx, depth: ctx.depth + 1 }));
      }
    }
    for (const k of ['oneOf', 'anyOf', 'allOf']) {
      if (!s[k]) continue;
      const ol = el('ol', { class: 'alts' });
      for (const alt of s[k]) {
        const li = el('li');
        li.appendChild(schemaView(alt, { ...ctx, depth: ctx.depth + 1 }));
        ol.appendChild(li);
      }
      box.appendChild(ol);
    }
    if (s.if) {
      const cond = { if: s.if };
      if (s.then) cond.then = s.then;
      if (s.else) cond.else = s.else;
      box.appendChild(el('p', { class: 'sub' }, 'condition (JSON Schema if/then/else):'));
      box.appendChild(el('pre', { class: 'inline-ex' }, el('code', null, JSON.stringify(cond))));
    }
    if (s.additionalProperties && typeof s.additionalProperties === 'object') {
      box.appendChild(el('p', { class: 'sub' }, 'other members:'));
      box.appendChild(schemaView(s.additionalProperties, { ...ctx, depth: ctx.depth + 1 }));
    }
  }
  function propsTable(s, ctx) {
    const req = new Set(s.required || []);
    const tbody = el('tbody');
    for (const [name, p] of Object.entries(s.properties)) {
      const nested = p && (p.properties || p.$ref || ((p.oneOf || p.anyOf) && !simpleAlts(p)) ||
        (p.items && (p.items.$ref || p.items.properties || Array.isArray(p.items))));
      const typeCell = el('td', { class: 'tcell' });
      if (p && p.$ref) typeCell.appendChild(refChip(p.$ref, ctx));
      else {
        typeCell.appendChild(el('span', { class: 'type' }, typeLabel(p)));
        for (const c of constraints(p || {})) typeCell.append(el('br'), el('span', { class: 'con' }, c));
        if (p && p.enum) typeCell.append(el('br'), el('span', { class: 'con' }, 'one of ' + p.enum.map((v) => JSON.stringify(v)).join(', ')));
      }
      const descCell = el('td', null, markdown(p && p.description));
      if (nested) {
        const d = el('details', { class: 'expand' }, el('summary', null, p.$ref ? 'expand' : 'structure'));
        d.appendChild(schemaView(p, { ...ctx, depth: ctx.depth + 1 }));
        descCell.appendChild(d);
      }
      tbody.appendChild(el('tr', null,
        el('td', { class: 'pname' }, code(name), req.has(name) ? el('span', { class: 'req', title: 'required' }, ' required') : el('span', { class: 'opt' }, ' optional')),
        typeCell, descCell));
    }
    return el('div', { class: 'scroll' }, el('table', { class: 'props' },
      el('thead', null, el('tr', null, el('th', null, 'member'), el('th', null, 'type'), el('th', null, 'meaning'))), tbody));
  }
  function exampleBlock(value, label) {
    const d = el('details', { class: 'example' }, el('summary', null, label || 'example'));
    d.appendChild(el('pre', null, el('code', null, JSON.stringify(value, null, 2))));
    return d;
  }

  // ------------------------------------------------------------------ table of contents
  function tocSection(title, id) {
    const ul = el('ul');
    tocBody.appendChild(el('div', { class: 'toc-sec' }, el('a', { href: '#' + id, class: 'toc-h' }, title), ul));
    return (text, href, cls) => ul.appendChild(el('li', null, el('a', { href: '#' + href, class: cls }, text)));
  }

  // ------------------------------------------------------------------ OpenAPI
  function renderApi(api) {
    document.getElementById('title').textContent = api.info.title;
    document.getElementById('subtitle').textContent = `version ${api.info.version} · OpenAPI ${api.openapi}`;
    document.title = api.info.title;
    const compLink = (ref) => {
      const m = /^#\/components\/schemas\/(.+)$/.exec(ref);
      return m ? 'schema-' + slug(m[1]) : null;
    };
    const ctx = { base: new URL('/openapi.json', location.href).href, rootDoc: api, depth: 0, seen: new Set(), linkFor: compLink };
    const deref = (o) => (o && o.$ref ? pointer(api, o.$ref) : o);

    const ov = el('section', { id: 'overview', class: 'block' }, el('h2', null, 'Overview'), markdown(api.info.description));
    content.appendChild(ov);
    const addToc = tocSection('Overview', 'overview');
    for (const h of ov.querySelectorAll('h4.md-h')) { h.id = 'ov-' + slug(h.textContent); addToc(h.textContent, h.id); }

    // group operations by tag, in the order of api.tags
    const groups = new Map((api.tags || []).map((t) => [t.name, { tag: t, ops: [] }]));
    for (const [path, item] of Object.entries(api.paths || {})) {
      for (const m of Object.keys(item).filter((k) => METHODS.includes(k))) {
        const tag = (item[m].tags && item[m].tags[0]) || 'Other';
        if (!groups.has(tag)) groups.set(tag, { tag: { name: tag }, ops: [] });
        groups.get(tag).ops.push({ path, method: m, op: item[m], item });
      }
    }
    const sec = el('section', { id: 'endpoints', class: 'block' }, el('h2', null, 'Endpoints'));
    content.appendChild(sec);
    const addOp = tocSection('Endpoints', 'endpoints');
    for (const { tag, ops } of groups.values()) {
      if (!ops.length) continue;
      const gid = 'tag-' + slug(tag.name);
      sec.appendChild(el('h3', { id: gid }, tag.name));
      if (tag.description) sec.appendChild(el('div', { class: 'desc' }, markdown(tag.description)));
      for (const o of ops) {
        const id = 'op-' + slug(o.op.operationId || o.method + '-' + o.path);
        sec.appendChild(renderOp(o, id, ctx, deref));
        addOp(`${o.method.toUpperCase()} ${o.path}`, id, 'm-' + o.method);
      }
    }

    const sch = el('section', { id: 'schemas', class: 'block' }, el('h2', null, 'Schemas'),
      el('p', null, 'The request and response bodies, from ', code('components.schemas'), '. Examples of each are in ', el('a', { href: '/protocol/examples/rest/Session.json' }, '/protocol/examples/rest/'), '.'));
    content.appendChild(sch);
    const addSch = tocSection('Schemas', 'schemas');
    for (const [name, s] of Object.entries((api.components && api.components.schemas) || {})) {
      const id = 'schema-' + slug(name);
      const art = el('article', { id, class: 'card' }, el('h3', null, name));
      if (s.description) art.appendChild(el('div', { class: 'desc' }, markdown(s.description)));
      art.appendChild(schemaView(s, { ...ctx, seen: new Set([ctx.base + '#/components/schemas/' + name]) }));
      sch.appendChild(art);
      addSch(name, id);
    }
    const responses = (api.components && api.components.responses) || {};
    if (Object.keys(responses).length) {
      const rs = el('section', { id: 'responses', class: 'block' }, el('h2', null, 'Shared error responses'),
        el('p', null, 'Referenced by the endpoints above. Every one has the ', el('a', { href: '#schema-error' }, 'Error'), ' body.'));
      content.appendChild(rs);
      const addR = tocSection('Shared responses', 'responses');
      for (const [name, r] of Object.entries(responses)) {
        const id = 'resp-' + slug(name);
        const art = el('article', { id, class: 'card' }, el('h3', null, name));
        art.appendChild(el('div', { class: 'desc' }, markdown(r.description)));
        if (r.headers) art.appendChild(headersTable(r.headers, deref));
        for (const [ct, media] of Object.entries(r.content || {})) art.appendChild(bodyView(ct, media, ctx, false));
        rs.appendChild(art);
        addR(name, id);
      }
    }
  }

  function headersTable(headers, deref) {
    const tb = el('tbody');
    for (const [name, h0] of Object.entries(headers)) {
      const h = deref(h0) || {};
      tb.appendChild(el('tr', null, el('td', { class: 'pname' }, code(name)), el('td', { class: 'tcell' }, el('span', { class: 'type' }, typeLabel(h.schema))), el('td', null, markdown(h.description))));
    }
    return el('div', { class: 'scroll' }, el('table', { class: 'props' },
      el('thead', null, el('tr', null, el('th', null, 'header'), el('th', null, 'type'), el('th', null, 'meaning'))), tb));
  }

  function renderOp({ path, method, op, item }, id, ctx, deref) {
    const art = el('article', { id, class: 'card op' });
    art.appendChild(el('h4', { class: 'ophead' }, el('span', { class: `method m-${method}` }, method.toUpperCase()), ' ', el('span', { class: 'path' }, path)));
    if (op.summary) art.appendChild(el('p', { class: 'summary' }, op.summary));
    if (op.description) art.appendChild(el('div', { class: 'desc' }, markdown(op.description)));
    if (op.security && op.security.length) art.appendChild(securityView(op.security, ctx));

    const params = [...(item.parameters || []), ...(op.parameters || [])].map(deref).filter(Boolean);
    if (params.length) {
      art.appendChild(el('h5', null, 'Parameters'));
      const tb = el('tbody');
      for (const p of params) {
        const tcell = el('td', { class: 'tcell' }, el('span', { class: 'type' }, typeLabel(p.schema)));
        for (const c of constraints(p.schema || {})) tcell.append(el('br'), el('span', { class: 'con' }, c));
        if (p.schema && p.schema.enum) tcell.append(el('br'), el('span', { class: 'con' }, 'one of ' + p.schema.enum.map((v) => JSON.stringify(v)).join(', ')));
        const ex = p.example !== undefined ? p.example : p.schema && p.schema.example;
        const d = el('td', null, markdown(p.description));
        if (ex !== undefined) d.appendChild(el('p', { class: 'muted' }, 'e.g. ', code(String(ex))));
        tb.appendChild(el('tr', null,
          el('td', { class: 'pname' }, code(p.name), p.required ? el('span', { class: 'req' }, ' required') : el('span', { class: 'opt' }, ' optional')),
          el('td', null, p.in), tcell, d));
      }
      art.appendChild(el('div', { class: 'scroll' }, el('table', { class: 'props' },
        el('thead', null, el('tr', null, el('th', null, 'name'), el('th', null, 'in'), el('th', null, 'type'), el('th', null, 'meaning'))), tb)));
    }

    if (op.requestBody) {
      const rb = deref(op.requestBody);
      art.appendChild(el('h5', null, 'Request body', rb.required ? '' : ' (optional)'));
      if (rb.description) art.appendChild(el('div', { class: 'desc' }, markdown(rb.description)));
      for (const [ct, media] of Object.entries(rb.content || {})) {
        art.appendChild(el('p', { class: 'ctype' }, code(ct)));
        if (media.schema) {
          if (media.schema.description) art.appendChild(el('div', { class: 'desc' }, markdown(media.schema.description)));
          art.appendChild(schemaView(media.schema, ctx));
        }
        if ('example' in media) art.appendChild(exampleBlock(media.example));
      }
    }

    art.appendChild(el('h5', null, 'Responses'));
    const list = el('div', { class: 'responses' });
    for (const [status, r0] of Object.entries(op.responses || {})) {
      const r = deref(r0) || {};
      const cls = status === 'default' ? 's-x' : 's-' + status[0];
      const row = el('div', { class: 'resp' });
      const head = el('p', { class: 'resphead' }, el('span', { class: `status ${cls}` }, status), ' ');
      if (r0.$ref) head.appendChild(el('a', { href: '#resp-' + slug(r0.$ref.split('/').pop()), class: 'ref' }, r0.$ref.split('/').pop()));
      row.appendChild(head);
      row.appendChild(el('div', { class: 'desc' }, markdown(r.description)));
      if (r.headers) row.appendChild(headersTable(r.headers, deref));
      for (const [ct, media] of Object.entries(r.content || {})) {
        row.appendChild(bodyView(ct, media, ctx, /^2/.test(status)));
      }
      list.appendChild(row);
    }
    art.appendChild(list);
    return art;
  }

  // The credentials an operation accepts (op.security): each requirement is one alternative; an
  // empty one means the operation can be called without any (here: when no token is configured).
  function securityView(security, ctx) {
    const schemes = (ctx.rootDoc.components && ctx.rootDoc.components.securitySchemes) || {};
    const box = el('div', { class: 'security' }, el('h5', null, 'Authentication'));
    const ul = el('ul');
    for (const req of security) {
      const names = Object.keys(req);
      if (!names.length) { ul.appendChild(el('li', null, 'none, when the server is not configured to require it')); continue; }
      for (const n of names) {
        const sc = schemes[n] || {};
        const how = sc.type === 'http' && sc.scheme === 'bearer' ? 'Authorization: Bearer <token>'
          : sc.type === 'apiKey' ? `${sc.name}: <token>` + (sc.in === 'header' ? '' : ` (in ${sc.in})`) : n;
        const li = el('li', null, code(how));
        if (sc.description) li.append(' — ', ...inline(sc.description));
        ul.appendChild(li);
      }
    }
    box.appendChild(ul);
    return box;
  }

  // A response body: its media type, its schema (a $ref is named and can be unfolded; the
  // Error body is shown by its example alone, which says everything) and its example.
  function bodyView(ct, media, ctx, open) {
    const box = el('div', { class: 'body' });
    const line = el('p', { class: 'ctype' }, code(ct));
    box.appendChild(line);
    const sch = media.schema;
    if (!sch || (ct !== 'application/json' && sch.type === 'string')) return box;
    if (sch.$ref) {
      line.append(' ', refChip(sch.$ref, ctx));
      if (/\/Error$/.test(sch.$ref) && 'example' in media) {
        box.appendChild(el('pre', { class: 'inline-ex' }, el('code', null, JSON.stringify(media.example))));
        return box;
      }
      const target = pointer(ctx.rootDoc, sch.$ref);
      if (target) {
        const d = el('details', { class: 'expand' }, el('summary', null, 'structure'));
        d.open = !!open;
        d.appendChild(schemaView(target, { ...ctx, depth: 1, seen: new Set([ctx.base + sch.$ref]) }));
        box.appendChild(d);
      }
    } else {
      box.appendChild(schemaView(sch, ctx));
    }
    if ('example' in media) box.appendChild(exampleBlock(media.example));
    return box;
  }

  // ------------------------------------------------------------------ WebSocket messages
  async function renderMessages() {
    const sec = el('section', { id: 'messages', class: 'block' }, el('h2', null, 'WebSocket messages'),
      el('p', null, 'One JSON object per text frame on ', code('/ws/{id}'), ', named by its ', code('type'),
        '. The walk-through, close codes and limits are in ', el('a', { href: '/protocol/README.md' }, 'the protocol README'), '.'));
    content.appendChild(sec);
    const addMsg = tocSection('WebSocket messages', 'messages');
    const indexUrl = new URL('/protocol/schemas/index.json', location.href).href;
    let index;
    try {
      index = await getJson(indexUrl);
    } catch (e) {
      sec.appendChild(el('p', { class: 'error' }, `Could not load the message list: ${e.message}`));
      return;
    }
    if (index.some((e) => e.planned)) {
      sec.appendChild(el('p', null, 'Messages marked ', el('span', { class: 'badge planned' }, 'planned'), ' are not sent or accepted by the server yet.'));
    }
    const loaded = [];
    for (const entry of index) {
      const url = new URL('/protocol/' + entry.path, location.href).href;
      const exUrl = new URL(`/protocol/examples/${entry.direction}/${entry.type}.json`, location.href).href;
      try {
        const schema = await getJson(url);
        await preload(schema, url);
        let example;
        try { example = await getJson(exUrl); } catch (e) { example = undefined; }
        loaded.push({ entry, schema, url, example });
      } catch (e) {
        loaded.push({ entry, error: e });
      }
    }
    await settle();
    const linkFor = (ref, base) => {
      const abs = new URL(ref, base).href;
      return /\/changeset\.json$/.test(abs.split('#')[0]) ? 'msg-changeset' : null;
    };
    for (const dir of ['client', 'server']) {
      sec.appendChild(el('h3', { id: 'dir-' + dir }, dir === 'client' ? 'Client → server' : 'Server → client'));
      for (const { entry, schema, url, example, error } of loaded.filter((x) => x.entry.direction === dir)) {
        const id = `msg-${dir}-${slug(entry.type)}`;
        const art = el('article', { id, class: 'card msg' + (entry.planned ? ' is-planned' : '') });
        art.appendChild(el('h4', { class: 'ophead' }, el('span', { class: 'dir' }, dir === 'client' ? 'C→S' : 'S→C'), ' ', code(entry.type),
          entry.planned ? el('span', { class: 'badge planned' }, 'planned') : null));
        if (error) {
          art.appendChild(el('p', { class: 'error' }, String(error.message)));
        } else {
          if (schema.description) art.appendChild(el('div', { class: 'desc' }, markdown(schema.description)));
          art.appendChild(schemaView(schema, { base: url, rootDoc: schema, depth: 0, seen: new Set([url]), linkFor }));
          if (example !== undefined) art.appendChild(exampleBlock(example));
          art.appendChild(el('p', { class: 'muted small' }, el('a', { href: '/protocol/' + entry.path }, 'schema'), ' · ', el('a', { href: `/protocol/examples/${dir}/${entry.type}.json` }, 'example')));
        }
        sec.appendChild(art);
        addMsg(`${dir === 'client' ? 'C→S' : 'S→C'} ${entry.type}`, id, entry.planned ? 'planned' : '');
      }
    }
    // the change set type the collaboration messages share
    try {
      const csUrl = new URL('/protocol/schemas/changeset.json', location.href).href;
      const cs = await getJson(csUrl);
      const art = el('article', { id: 'msg-changeset', class: 'card' }, el('h4', { class: 'ophead' }, code('ChangeSetJSON'), ' ', el('span', { class: 'muted' }, 'schemas/changeset.json')));
      art.appendChild(el('div', { class: 'desc' }, markdown(cs.description)));
      art.appendChild(schemaView(cs, { base: csUrl, rootDoc: cs, depth: 0, seen: new Set([csUrl]) }));
      if (cs.examples) art.appendChild(exampleBlock(cs.examples, 'examples'));
      sec.appendChild(art);
      addMsg('ChangeSetJSON', 'msg-changeset');
    } catch (e) { /* already reported through the messages that use it */ }
  }

  // ------------------------------------------------------------------ start
  async function main() {
    let api;
    try {
      api = await getJson('/openapi.json');
    } catch (e) {
      statusEl.textContent = `Could not load /openapi.json: ${e.message}`;
      statusEl.className = 'loading error';
      return;
    }
    statusEl.remove();
    renderApi(api);
    await renderMessages();
    // on a narrow screen the contents start folded
    if (window.matchMedia && window.matchMedia('(max-width: 860px)').matches) document.getElementById('toc-box').open = false;
    // follow the #fragment now that the targets exist
    if (location.hash) {
      const t = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (t) t.scrollIntoView();
    }
  }
  document.getElementById('toc-box').addEventListener('click', (ev) => {
    if (ev.target.tagName === 'A' && window.matchMedia('(max-width: 860px)').matches) document.getElementById('toc-box').open = false;
  });
  main();
})();
