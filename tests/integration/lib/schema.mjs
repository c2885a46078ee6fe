// Validators built from protocol/: the REST schemas of openapi.json (components.schemas) and
// one JSON Schema per WebSocket message in protocol/schemas/{client,server}/<type>.json.
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { repo } from './server.mjs';

const proto = join(repo, 'protocol');
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const openapi = JSON.parse(readFileSync(join(proto, 'openapi.json'), 'utf8'));
ajv.addSchema(openapi, 'openapi.json');
const changeset = join(proto, 'schemas', 'changeset.json');
if (existsSync(changeset)) ajv.addSchema(JSON.parse(readFileSync(changeset, 'utf8')));

const messageSchemas = { client: {}, server: {} };
for (const dir of ['client', 'server']) {
  const d = join(proto, 'schemas', dir);
  for (const f of readdirSync(d).filter((x) => x.endsWith('.json'))) {
    const s = JSON.parse(readFileSync(join(d, f), 'utf8'));
    messageSchemas[dir][f.replace(/\.json$/, '')] = ajv.compile(s);
  }
}

export function expectRest(name, body) {
  const v = ajv.getSchema(`openapi.json#/components/schemas/${name}`);
  assert.ok(v, `no schema ${name} in openapi.json`);
  assert.ok(v(body), `${name} does not match: ${ajv.errorsText(v.errors)}\n${JSON.stringify(body)}`);
}

export function expectMessage(dir, msg) {
  const v = messageSchemas[dir][msg.type];
  assert.ok(v, `no schema for ${dir} message "${msg.type}"`);
  assert.ok(v(msg), `${dir}/${msg.type} does not match: ${ajv.errorsText(v.errors)}\n${JSON.stringify(msg)}`);
}

export { openapi, messageSchemas };
