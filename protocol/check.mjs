#!/usr/bin/env node
// check.mjs: validates protocol/ against itself, so that the contract cannot drift silently.
//
//   node protocol/check.mjs [PROTOCOL_DIR]        (default: the directory of this file)
//
// Needs ajv@8 and ajv-formats@3 and nothing else. They are looked up next to this file first,
// then from the current directory, so `cd tests && node ../protocol/check.mjs` works with the
// tests' node_modules.
//
// What it checks:
//   1. every JSON Schema under schemas/ is valid draft-07 (meta-schema), has the $id its path
//      implies, and every message schema is named by its `type` (schemas/<dir>/<type>.json);
//   2. schemas/index.json lists exactly the message schemas, with the right `planned` flag;
//   3. every message schema has an example (examples/<dir>/<type>.json) that it accepts, and
//      every example has a schema; changeset.json accepts its own `examples`;
//   4. openapi.json is OpenAPI 3.0.3, every local $ref resolves, operationIds are unique, path
//      parameters are declared, schemas use only OpenAPI 3.0 keywords, components.schemas holds
//      exactly REST_SCHEMAS (below), error responses use Error;
//   5. examples/rest/<Name>.json and every `example` inside openapi.json validate against their
//      schemas;
//   6. the copies that must stay equal are equal (User in openapi.json and in the message
//      schemas; the language list; connId/userId; the `by` of the run messages; the errorType
//      list of ExecuteResult and run_done).
// Prints one line per failure and a closing "N passed, N failed"; exits 1 on any failure.

import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, dirname, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = process.argv[2] || here;
const ID_BASE = 'https://collabd.invalid/protocol/';
const REST_SCHEMAS = ['Session', 'SessionCreated', 'SessionSummary', 'SessionList', 'User', 'Health', 'Error',
  'ExecuteRequest', 'ExecuteResult', 'ResetRequest', 'ResetResult', 'PackageList',
  'UploadedFile', 'UploadResult', 'UploadedFileList', 'FileInfo', 'FileDeleted',
  'LegacyStats', 'DashboardStats', 'StatsCleared'];
// the Python routes answer 503 with Error, or with their own result when an accepted run could not
// be carried out (errorType unavailable or shutting_down)
const PY_503 = ['ExecuteResult', 'ResetResult', 'PackageList'];

async function load(name) {
  try {
    const m = await import(name);
    return m.default?.default || m.default || m;
  } catch (e) {
    if (e.code !== 'ERR_MODULE_NOT_FOUND') throw e;
    const req = createRequire(pathToFileURL(join(process.cwd(), 'noop.cjs')));
    const m = req(name);
    return m.default || m;
  }
}
let Ajv, addFormats;
try {
  Ajv = await load('ajv');
  addFormats = await load('ajv-formats');
} catch (e) {
  console.error(`check.mjs needs ajv@8 and ajv-formats@3 (beside this file or in the current directory): ${e.message.split('\n')[0]}`);
  process.exit(2);
}

let passed = 0;
const failures = [];
function check(cond, what) {
  if (cond) passed++;
  else failures.push(what);
  return cond;
}
const fmtErrors = (errs) => (errs || []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ' ' + JSON.stringify(e.params) : ''}`).join('; ');

function readJson(rel) {
  const p = join(root, rel);
  try {
    return JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    check(false, `${rel}: cannot read as JSON: ${e.message}`);
    return undefined;
  }
}
function walkFiles(rel) {
  const dir = join(root, rel);
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walkFiles(join(rel, name)));
    else if (name.endsWith('.json')) out.push(join(rel, name).split(sep).join('/'));
  }
  return out;
}

function newAjv() {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictTuples: false });
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'x-status', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'example' });
  return ajv;
}

// ---------------------------------------------------------------- WebSocket message schemas
const ajv = newAjv();
const schemaFiles = walkFiles('schemas').filter((f) => f !== 'schemas/index.json');
const schemas = new Map();
for (const rel of schemaFiles) {
  const s = readJson(rel);
  if (!s) continue;
  schemas.set(rel, s);
  check(s.$schema === 'http://json-schema.org/draft-07/schema#', `${rel}: $schema must be draft-07`);
  check(s.$id === ID_BASE + rel, `${rel}: $id must be ${ID_BASE + rel}, is ${s.$id}`);
  check(ajv.validateSchema(s), `${rel}: not a valid draft-07 schema: ${fmtErrors(ajv.errors)}`);
  if ('x-status' in s) check(s['x-status'] === 'planned', `${rel}: x-status may only be "planned"`);
}
for (const s of schemas.values()) {
  try { ajv.addSchema(s); } catch (e) { check(false, `${s.$id}: ${e.message}`); }
}

const messageFiles = schemaFiles.filter((f) => /^schemas\/(client|server)\/[a-z_]+\.json$/.test(f));
check(schemaFiles.every((f) => messageFiles.includes(f) || f === 'schemas/changeset.json'),
  `schemas/: unexpected files: ${schemaFiles.filter((f) => !messageFiles.includes(f) && f !== 'schemas/changeset.json').join(', ')}`);
const validators = new Map();
for (const rel of messageFiles) {
  const s = schemas.get(rel);
  if (!s) continue;
  const [, dir, type] = rel.match(/^schemas\/(client|server)\/([a-z_]+)\.json$/);
  check(s.type === 'object' && s.additionalProperties === false, `${rel}: a message must be an object with additionalProperties: false`);
  check(s.properties?.type?.const === type, `${rel}: properties.type.const must be "${type}"`);
  check(Array.isArray(s.required) && s.required.includes('type'), `${rel}: "type" must be required`);
  check(typeof s.title === 'string' && typeof s.description === 'string', `${rel}: needs a title and a description`);
  try {
    validators.set(rel, ajv.getSchema(s.$id) || ajv.compile(s));
  } catch (e) {
    check(false, `${rel}: does not compile: ${e.message}`);
    continue;
  }
  const exRel = `examples/${dir}/${type}.json`;
  if (check(existsSync(join(root, exRel)), `${rel}: no example ${exRel}`)) {
    const ex = readJson(exRel);
    const v = validators.get(rel);
    if (ex !== undefined) check(v(ex), `${exRel}: rejected by ${rel}: ${fmtErrors(v.errors)}`);
  }
}
for (const exRel of [...walkFiles('examples/client'), ...walkFiles('examples/server')]) {
  const rel = exRel.replace(/^examples\//, 'schemas/');
  check(schemas.has(rel), `${exRel}: no schema ${rel}`);
}

const cs = schemas.get('schemas/changeset.json');
if (check(cs !== undefined, 'schemas/changeset.json is missing')) {
  const v = ajv.getSchema(cs.$id);
  for (const [i, ex] of (cs.examples || []).entries()) check(v(ex), `changeset.json examples[${i}] rejected: ${fmtErrors(v.errors)}`);
  const bad = [[-1], [[1, 'a\nb']], [[1, 'a\rb']], [['x']], [[]], [1.5], ['3']];
  for (const b of bad) check(!v(b), `changeset.json accepts an invalid change set ${JSON.stringify(b)}`);
}

const index = readJson('schemas/index.json');
if (check(Array.isArray(index), 'schemas/index.json must be an array')) {
  const seen = new Set();
  for (const e of index) {
    const keys = Object.keys(e).sort().join(',');
    check(keys === 'direction,path,planned,type', `schemas/index.json: entry ${JSON.stringify(e)} must have exactly direction, type, path, planned`);
    check(e.path === `schemas/${e.direction}/${e.type}.json`, `schemas/index.json: ${e.type}: path must be schemas/${e.direction}/${e.type}.json`);
    const s = schemas.get(e.path);
    if (check(s !== undefined, `schemas/index.json: ${e.path} does not exist`))
      check(e.planned === (s['x-status'] === 'planned'), `schemas/index.json: ${e.path}: planned must be ${s['x-status'] === 'planned'}`);
    seen.add(e.path);
  }
  for (const rel of messageFiles) check(seen.has(rel), `schemas/index.json does not list ${rel}`);
}

// ---------------------------------------------------------------- OpenAPI
const api = readJson('openapi.json');
const resolvePointer = (doc, ptr) => {
  if (!ptr.startsWith('#/')) return undefined;
  let cur = doc;
  for (const raw of ptr.slice(2).split('/')) {
    const k = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object' || !(k in cur)) return undefined;
    cur = cur[k];
  }
  return cur;
};
const deref = (o) => (o && o.$ref ? resolvePointer(api, o.$ref) : o);

// OpenAPI 3.0 schema objects are not JSON Schema: these keywords do not exist there.
const NOT_OAS30 = ['const', '$id', '$schema', 'examples', 'definitions', 'if', 'then', 'else', 'contains', 'propertyNames', 'patternProperties', 'dependencies', 'additionalItems'];
function checkOasSchema(s, where) {
  if (!s || typeof s !== 'object') return;
  if (s.$ref) {
    check(typeof resolvePointer(api, s.$ref) === 'object', `openapi.json ${where}: $ref ${s.$ref} does not resolve`);
    return;
  }
  for (const k of NOT_OAS30) check(!(k in s), `openapi.json ${where}: "${k}" is not an OpenAPI 3.0 schema keyword`);
  if ('type' in s) check(typeof s.type === 'string', `openapi.json ${where}: type must be one string in OpenAPI 3.0 (use nullable)`);
  if (s.type === 'object' && s.properties) {
    for (const r of s.required || []) check(r in s.properties, `openapi.json ${where}: required "${r}" is not a property`);
  }
  for (const [k, v] of Object.entries(s.properties || {})) checkOasSchema(v, `${where}.${k}`);
  if (s.items) checkOasSchema(s.items, `${where}[]`);
  if (s.additionalProperties && typeof s.additionalProperties === 'object') checkOasSchema(s.additionalProperties, `${where}{}`);
  for (const k of ['oneOf', 'anyOf', 'allOf']) (s[k] || []).forEach((x, i) => checkOasSchema(x, `${where}.${k}[${i}]`));
  if (s.not) checkOasSchema(s.not, `${where}.not`);
}

// JSON Schema view of the OpenAPI schemas, for Ajv: components.schemas become definitions.
const toJsonSchema = (s) => JSON.parse(JSON.stringify(s).replace(/"#\/components\/schemas\//g, '"urn:collabd:openapi#/definitions/'));
let apiAjv;
function apiValidator(schema) {
  return apiAjv.compile(toJsonSchema(schema));
}

if (api) {
  check(api.openapi === '3.0.3', 'openapi.json: openapi must be "3.0.3"');
  check(typeof api.info?.title === 'string' && typeof api.info?.version === 'string', 'openapi.json: info.title and info.version are required');
  const comp = api.components?.schemas || {};
  for (const n of REST_SCHEMAS) check(n in comp, `openapi.json: components.schemas.${n} is missing`);
  for (const n of Object.keys(comp)) check(REST_SCHEMAS.includes(n), `openapi.json: components.schemas.${n} is not one of ${REST_SCHEMAS.join(', ')}`);
  for (const [n, s] of Object.entries(comp)) checkOasSchema(s, `components.schemas.${n}`);

  // every $ref anywhere resolves
  (function refs(o, where) {
    if (Array.isArray(o)) return o.forEach((x, i) => refs(x, `${where}[${i}]`));
    if (!o || typeof o !== 'object') return;
    if (typeof o.$ref === 'string') check(resolvePointer(api, o.$ref) !== undefined, `openapi.json ${where}: $ref ${o.$ref} does not resolve`);
    for (const [k, v] of Object.entries(o)) refs(v, `${where}/${k}`);
  })(api, '#');

  apiAjv = newAjv();
  try {
    apiAjv.addSchema({ $id: 'urn:collabd:openapi', definitions: toJsonSchema(comp) });
  } catch (e) {
    check(false, `openapi.json components.schemas do not compile: ${e.message}`);
  }
  const compValidators = {};
  for (const n of REST_SCHEMAS) {
    if (!(n in comp)) continue;
    try {
      compValidators[n] = apiAjv.compile({ $ref: `urn:collabd:openapi#/definitions/${n}` });
    } catch (e) {
      check(false, `openapi.json components.schemas.${n} does not compile: ${e.message}`);
    }
  }
  for (const n of REST_SCHEMAS) {
    const rel = `examples/rest/${n}.json`;
    if (!check(existsSync(join(root, rel)), `${rel} is missing`)) continue;
    const ex = readJson(rel);
    const v = compValidators[n];
    if (v && ex !== undefined) check(v(ex), `${rel}: rejected by components.schemas.${n}: ${fmtErrors(v.errors)}`);
  }
  for (const rel of walkFiles('examples/rest')) {
    const n = rel.replace(/^examples\/rest\/|\.json$/g, '');
    check(REST_SCHEMAS.includes(n), `${rel}: not named after a components.schemas entry`);
  }

  // operations
  const opIds = new Set();
  const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
  const checkContent = (content, where) => {
    for (const [ctype, media] of Object.entries(content || {})) {
      if (media.schema) checkOasSchema(media.schema, `${where} ${ctype}`);
      if (media.schema && 'example' in media) {
        let v;
        try { v = apiValidator(media.schema); } catch (e) { check(false, `openapi.json ${where}: schema does not compile: ${e.message}`); continue; }
        check(v(media.example), `openapi.json ${where} ${ctype}: example rejected: ${fmtErrors(v.errors)}`);
      }
    }
  };
  for (const [path, item] of Object.entries(api.paths || {})) {
    check(path.startsWith('/'), `openapi.json: path ${path} must start with /`);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const m of METHODS) {
      const op = item[m];
      if (!op) continue;
      const where = `${m.toUpperCase()} ${path}`;
      check(typeof op.operationId === 'string' && !opIds.has(op.operationId), `openapi.json ${where}: operationId missing or not unique`);
      opIds.add(op.operationId);
      check(op.responses && Object.keys(op.responses).length > 0, `openapi.json ${where}: no responses`);
      const params = [...(item.parameters || []), ...(op.parameters || [])].map(deref);
      for (const p of params) {
        check(p && typeof p.name === 'string' && ['path', 'query', 'header', 'cookie'].includes(p.in), `openapi.json ${where}: bad parameter ${JSON.stringify(p)}`);
        if (p?.in === 'path') check(p.required === true && templated.includes(p.name), `openapi.json ${where}: path parameter ${p.name} must be required and in the path`);
        if (p?.schema) checkOasSchema(p.schema, `${where} parameter ${p.name}`);
      }
      for (const t of templated) check(params.some((p) => p?.in === 'path' && p.name === t), `openapi.json ${where}: path parameter {${t}} is not declared`);
      if (op.requestBody) checkContent(deref(op.requestBody).content, `${where} requestBody`);
      for (const [status, r0] of Object.entries(op.responses || {})) {
        check(/^([1-5][0-9]{2}|[1-5]XX|default)$/.test(status), `openapi.json ${where}: bad response key ${status}`);
        const r = deref(r0);
        if (!check(r && typeof r.description === 'string', `openapi.json ${where} ${status}: response needs a description`)) continue;
        if (!r0.$ref) checkContent(r.content, `${where} ${status}`);
        if ((/^[45]/.test(status) || status === 'default') && m !== 'head') {
          // every error body is Error; the exceptions are health's 503, which is a Health, and the
          // Python routes' 503, which is Error or their result (oneOf)
          const sch = r.content?.['application/json']?.schema;
          const s = sch?.$ref;
          const alts = (sch?.oneOf || []).map((x) => x.$ref);
          const ok = s === '#/components/schemas/Error' || (status === '503' && s === '#/components/schemas/Health') ||
            (status === '503' && alts.length === 2 && alts[0] === '#/components/schemas/Error' &&
              PY_503.some((n) => alts[1] === `#/components/schemas/${n}`));
          check(ok, `openapi.json ${where} ${status}: error responses must use the Error schema`);
        }
      }
    }
  }
  for (const [n, r] of Object.entries(api.components?.responses || {})) {
    check(typeof r.description === 'string', `openapi.json components.responses.${n}: needs a description`);
    checkContent(r.content, `components.responses.${n}`);
  }

  // copies that must agree
  const apiUser = comp.User;
  for (const rel of ['schemas/server/sync.json', 'schemas/server/user_joined.json']) {
    const s = schemas.get(rel);
    if (s && apiUser) check(isDeepStrictEqual(s.definitions?.User, apiUser), `${rel}: definitions.User differs from openapi.json components.schemas.User`);
  }
  for (const rel of ['schemas/server/user_left.json', 'schemas/server/cursor.json']) {
    const s = schemas.get(rel);
    if (s && apiUser) {
      check(isDeepStrictEqual(s.properties?.connId, apiUser.properties.connId), `${rel}: connId differs from User.connId`);
      check(isDeepStrictEqual(s.properties?.userId, apiUser.properties.userId), `${rel}: userId differs from User.userId`);
    }
  }
  for (const rel of ['schemas/server/run_queued.json', 'schemas/server/run_started.json', 'schemas/server/run_done.json']) {
    const by = schemas.get(rel)?.properties?.by;
    if (by && apiUser)
      for (const k of ['connId', 'userId', 'userName'])
        check(isDeepStrictEqual(by.properties?.[k], apiUser.properties[k]), `${rel}: by.${k} differs from User.${k}`);
  }
  const done = schemas.get('schemas/server/run_done.json');
  if (done && comp.ExecuteResult)
    check(isDeepStrictEqual(done.properties?.errorType?.enum, [...comp.ExecuteResult.properties.errorType.enum, 'cancelled']),
      'schemas/server/run_done.json: errorType enum differs from ExecuteResult.errorType plus "cancelled"');
  const sync = schemas.get('schemas/server/sync.json');
  if (sync && comp.Session)
    check(isDeepStrictEqual(sync.properties?.session?.properties?.language?.enum, comp.Session.properties.language.enum),
      'schemas/server/sync.json: session.language enum differs from Session.language');
}

for (const f of failures) console.log(`FAIL ${f}`);
console.log(`protocol: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
