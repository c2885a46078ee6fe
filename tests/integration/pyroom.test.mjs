// Server-side Python in the room (P8, P9): a participant runs the room's document (or a
// snippet) on the server; everyone sees it queued, started, its output as it comes and its
// end; input() asks the starter; the room's variables persist like a notebook kernel.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, createSession, Client } from './lib/server.mjs';
import { expectMessage } from './lib/schema.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv.stop(); });

// Every message of these tests is checked against protocol/schemas: what a client sends, before
// it goes (sendInvalid: a message the schema must refuse too), and everything the clients
// received, after each test.
const received = [];
const kinds = new Set();
async function open(server, id, query) {
  const c = await Client.open(server, id, query);
  c.ws.on('message', (data) => received.push(JSON.parse(data.toString())));
  const send = c.send.bind(c);
  c.send = (msg) => { expectMessage('client', msg); send(msg); };
  c.sendInvalid = (msg) => {
    assert.throws(() => expectMessage('client', msg), /does not match/, `the schema accepts ${JSON.stringify(msg)}`);
    send(msg);
  };
  return c;
}
afterEach(() => {
  for (const m of received.splice(0)) {
    expectMessage('server', m);
    kinds.add(m.type);
  }
});

async function pair(s) {
  const a = await open(srv, s.id, '?userId=ada&userName=Ada');
  const b = await open(srv, s.id, '?userId=bob&userName=Bob');
  await a.next('sync');
  await b.next('sync');
  return [a, b];
}

test('P8 run the document: output streams to everyone, the end carries the result', async () => {
  const s = await createSession(srv, { language: 'python', content: 'import time\nprint("first")\ntime.sleep(0.4)\nprint("second")\n6 * 7\n' });
  const [a, b] = await pair(s);
  const t0 = Date.now();
  a.send({ type: 'run', ref: 'r1' });
  const acc = await a.next('run_accepted');
  assert.equal(acc.ref, 'r1');
  const runId = acc.runId;
  for (const c of [a, b]) {
    const st = await c.next((m) => m.type === 'run_started' && m.runId === runId);
    assert.equal(st.by.userName, 'Ada');
  }
  const first = await b.next((m) => m.type === 'run_output' && m.runId === runId);
  assert.deepEqual([first.stream, first.text], ['stdout', 'first\n']);
  assert.ok(Date.now() - t0 < 350, 'the first line arrived before the program ended (streamed)');
  const done = await b.next((m) => m.type === 'run_done' && m.runId === runId);
  assert.equal(done.success, true);
  assert.equal(done.result, 42);
  assert.equal(done.by.userId, 'ada');
  const second = await a.next((m) => m.type === 'run_output' && m.text === 'second\n');
  assert.equal(second.runId, runId, 'Ada saw the second line too');
  await Promise.all([a.close(), b.close()]);
});

test('P9 the room is a kernel: variables persist between runs, run_reset clears them, and REST runs naming the session share it', async () => {
  const s = await createSession(srv);
  const [a, b] = await pair(s);
  a.send({ type: 'run', code: 'total = 10' });
  await b.next('run_done');
  b.send({ type: 'run', code: 'total += 5\ntotal' });
  const d = await a.next((m) => m.type === 'run_done' && m.by.userId === 'bob');
  assert.equal(d.result, 15);
  const rest = await api(srv, 'POST', '/api/execute', { body: { code: 'total', session: s.id } });
  assert.equal(rest.json.result, 15, 'the REST run saw the room\'s variables');
  a.send({ type: 'run_reset' });
  await a.next('run_reset_accepted');
  await a.next('run_done');
  a.send({ type: 'run', code: 'total' });
  const gone = await a.next((m) => m.type === 'run_done' && m.errorType);
  assert.match(gone.error, /NameError/);
  await Promise.all([a.close(), b.close()]);
});

test('P8 one run at a time per room: the next is queued with a status message, and a queued run can be cancelled', async () => {
  const s = await createSession(srv);
  const [a, b] = await pair(s);
  a.send({ type: 'run', code: 'import time\ntime.sleep(0.5)\n"one"' });
  const one = (await a.next('run_accepted')).runId;
  await a.next('run_started');
  b.send({ type: 'run', code: '"two"' });
  const two = (await b.next('run_accepted')).runId;
  const q = await a.next((m) => m.type === 'run_queued' && m.runId === two);
  assert.equal(q.position, 1);
  assert.equal(q.by.userName, 'Bob');
  b.send({ type: 'run', code: '"three"' });
  const three = (await b.next('run_accepted')).runId;
  a.send({ type: 'run_stop', runId: three });
  const cancelled = await b.next((m) => m.type === 'run_done' && m.runId === three);
  assert.equal(cancelled.errorType, 'cancelled');
  const d1 = await b.next((m) => m.type === 'run_done' && m.runId === one);
  const d2 = await b.next((m) => m.type === 'run_done' && m.runId === two);
  assert.deepEqual([d1.result, d2.result], ['one', 'two']);
  await Promise.all([a.close(), b.close()]);
});

test('P8 input() asks the participant who started the run; the answer goes back into the program', async () => {
  const s = await createSession(srv);
  const [a, b] = await pair(s);
  a.send({ type: 'run', code: 'name = input("Your name? ")\nprint("Hello", name)\nlen(name)' });
  const runId = (await a.next('run_accepted')).runId;
  const req = await a.next('run_input_request');
  assert.equal(req.prompt, 'Your name? ');
  assert.equal(req.runId, runId);
  const prompt = await b.next((m) => m.type === 'run_output' && m.text.includes('Your name?'));
  assert.ok(prompt, 'the others see the prompt in the output');
  assert.ok(!b.messages.some((m) => m.type === 'run_input_request'), 'only the starter is asked');
  b.send({ type: 'run_input', runId, line: 'Mallory' });
  const refused = await b.next('error');
  assert.equal(refused.code, 'forbidden');
  a.send({ type: 'run_input', runId, line: 'Grace' });
  const out = await b.next((m) => m.type === 'run_output' && m.text.includes('Hello'));
  assert.equal(out.text, 'Hello Grace\n');
  const done = await a.next('run_done');
  assert.equal(done.result, 5);
  // end of input: EOFError in the program
  a.send({ type: 'run', code: 'input()' });
  const r2 = (await a.next('run_accepted')).runId;
  await a.next('run_input_request');
  a.send({ type: 'run_input', runId: r2, eof: true });
  assert.match((await a.next('run_done')).error, /EOFError/);
  await Promise.all([a.close(), b.close()]);
});

test('P8 run_stop interrupts a runaway program; the kernel keeps its variables', async () => {
  const s = await createSession(srv);
  const [a, b] = await pair(s);
  a.send({ type: 'run', code: 'kept = 1\nwhile True:\n    pass' });
  const runId = (await a.next('run_accepted')).runId;
  await b.next('run_started');
  await new Promise((r) => setTimeout(r, 200));
  b.send({ type: 'run_stop', runId });
  const done = await a.next('run_done');
  assert.equal(done.success, false);
  assert.equal(done.errorType, 'interrupted');
  a.send({ type: 'run', code: 'kept' });
  assert.equal((await a.next('run_done')).result, 1);
  await Promise.all([a.close(), b.close()]);
});

test('P8 refusals: view-only participants, bad fields, unknown runs, and the execution token', async () => {
  const s = await createSession(srv);
  const v = await open(srv, s.id, `?userId=viewer&view=${s.viewToken}`);
  await v.next('sync');
  v.send({ type: 'run', code: '1' });
  assert.equal((await v.next('error')).code, 'read_only');
  const [a] = await pair(s);
  a.sendInvalid({ type: 'run', code: 5, ref: 7 });
  const bad = await a.next('error');
  assert.deepEqual([bad.code, bad.ref], ['bad_message', 7]);
  a.send({ type: 'run_input', runId: 'r999999', line: 'x' });
  assert.equal((await a.next('error')).code, 'run_not_found');
  a.sendInvalid({ type: 'run', timeout: -1 });
  assert.equal((await a.next('error')).code, 'bad_message');
  await Promise.all([v.close(), a.close()]);

  const t = await startServer(['--py-token', 'room-secret']);
  try {
    const ts = await createSession(t);
    const c = await open(t, ts.id, '?userId=ada');
    await c.next('sync');
    c.send({ type: 'run', code: '1' });
    assert.equal((await c.next('error')).code, 'execution_token_required');
    c.send({ type: 'run', code: '1', token: 'room-secret' });
    assert.equal((await c.next('run_done')).result, 1);
    await c.close();
  } finally { await t.stop(); }
});

test('P9 deleting the session ends its runs and removes its context', async () => {
  const s = await createSession(srv);
  const [a] = await pair(s);
  a.send({ type: 'run', code: 'import time\ntime.sleep(30)' });
  await a.next('run_started');
  assert.equal((await api(srv, 'DELETE', `/sessions/${s.id}`)).status, 204);
  await a.closed;
  const h = (await api(srv, 'GET', '/health')).json.python;
  const t0 = Date.now();
  let busy = h.busy;
  while (busy > 0 && Date.now() - t0 < 3000) {
    await new Promise((r) => setTimeout(r, 100));
    busy = (await api(srv, 'GET', '/health')).json.python.busy;
  }
  assert.equal(busy, 0, 'the deleted session\'s worker is gone');
});

test('P8 every kind of run message was received and matched its schema', () => {
  for (const t of ['run_accepted', 'run_reset_accepted', 'run_queued', 'run_started', 'run_output',
    'run_input_request', 'run_done', 'error']) assert.ok(kinds.has(t), `no ${t} was received`);
});
