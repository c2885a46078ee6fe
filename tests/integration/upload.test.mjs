// P7 uploads through the real server: multipart files land in the context's own directory,
// where Python opens them by name; list, info (size, SHA-256, lines) and delete; safe names
// only, allowed types only, size and quota caps; no traversal, and a symlink planted by a
// program cannot make collabd read or write outside the directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { startServer, api, createSession, rawHttp } from './lib/server.mjs';
import { expectRest } from './lib/schema.mjs';

let srv;
before(async () => { srv = await startServer(['--upload-max', '256k', '--upload-dir-max', '512k']); });
after(async () => { await srv.stop(); });

const sha = (s) => createHash('sha256').update(s).digest('hex');

async function upload(files, { session, query = '', headers = {} } = {}) {
  const form = new FormData();
  for (const [name, content, field = 'file'] of files) form.append(field, new Blob([content]), name);
  if (session) form.append('session', session);
  const res = await fetch(`${srv.base}/api/upload${query}`, { method: 'POST', body: form, headers });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, text };
}
const run = (code, extra = {}) => api(srv, 'POST', '/api/execute', { body: { code, ...extra } });

test('P7 an uploaded CSV is read back from Python, with its SHA-256 returned', async () => {
  const csv = 'name,score\nada,3\nbob,5\n';
  const r = await upload([['scores.csv', csv, 'csvFile']]);
  assert.equal(r.status, 200, r.text);
  expectRest('UploadResult', r.json);
  assert.equal(r.json.success, true);
  assert.deepEqual([r.json.file.name, r.json.file.size, r.json.file.sha256], ['scores.csv', csv.length, sha(csv)]);
  const py = await run('import csv\nrows = list(csv.DictReader(open("scores.csv")))\nsum(int(r["score"]) for r in rows)');
  assert.equal(py.json.result, 8);
  const list = await api(srv, 'GET', '/api/uploaded-files');
  assert.equal(list.status, 200);
  expectRest('UploadedFileList', list.json);
  assert.ok(list.json.files.some((f) => f.name === 'scores.csv' && f.size === csv.length));
  const info = await api(srv, 'GET', '/api/file-info/scores.csv');
  assert.equal(info.status, 200);
  expectRest('FileInfo', info.json);
  assert.deepEqual([info.json.file.sha256, info.json.file.lines], [sha(csv), 3]);
});

test('P7 several files at once, JSON and Python too; a file written by a program is listed', async () => {
  const r = await upload([['data.json', '{"a": [1, 2]}'], ['helper.py', 'def double(x):\n    return 2 * x\n']]);
  assert.equal(r.status, 200, r.text);
  expectRest('UploadResult', r.json);
  assert.equal(r.json.files.length, 2);
  const py = await run('import json\nfrom helper import double\ndouble(sum(json.load(open("data.json"))["a"]))');
  assert.equal(py.json.result, 6);
  await run('open("out.txt", "w").write("made by Python")');
  const list = await api(srv, 'GET', '/api/uploaded-files');
  expectRest('UploadedFileList', list.json);
  assert.ok(list.json.files.some((f) => f.name === 'out.txt'));
});

test('P7 delete removes the file; deleting or reading an unknown file is 404', async () => {
  await upload([['gone.txt', 'bye']]);
  const d = await api(srv, 'DELETE', '/api/uploaded-files/gone.txt');
  assert.equal(d.status, 200);
  expectRest('FileDeleted', d.json);
  assert.equal(d.json.deleted, 'gone.txt');
  const gone = await api(srv, 'GET', '/api/file-info/gone.txt');
  assert.equal(gone.status, 404);
  expectRest('Error', gone.json);
  assert.equal(gone.json.error.code, 'file_not_found');
  const again = await api(srv, 'DELETE', '/api/uploaded-files/gone.txt');
  assert.equal(again.status, 404);
  expectRest('Error', again.json);
  const py = await run('import os\nos.path.exists("gone.txt")');
  assert.equal(py.json.result, false);
});

test('P7 files belong to their context: a session\'s files are not the caller\'s', async () => {
  const s = await createSession(srv);
  const r = await upload([['room.txt', 'in the room']], { session: s.id });
  assert.equal(r.status, 200, r.text);
  assert.equal((await run('open("room.txt").read()', { session: s.id })).json.result, 'in the room');
  assert.match((await run('open("room.txt").read()')).json.error, /FileNotFoundError/);
  const list = await api(srv, 'GET', `/api/uploaded-files?session=${s.id}`);
  expectRest('UploadedFileList', list.json);
  assert.deepEqual(list.json.files.map((f) => f.name), ['room.txt']);
  const noSession = await upload([['x.txt', 'x']], { session: '00000000-0000-4000-8000-000000000000' });
  assert.equal(noSession.status, 404);
  expectRest('Error', noSession.json);
});

test('P7 names and types: traversal, hidden files and other extensions are refused', async () => {
  const bad = ['../../etc/passwd.txt', '..\\..\\x.py', '.bashrc.txt', 'a\nb.txt', '%2e%2e%2fx.py', 'sp\u2215oof.txt', '-rf.txt'];
  for (const name of bad) {
    const r = await upload([[name, 'x']]);
    // a name with a directory part keeps only its base name; everything else unsafe is refused
    if (r.status === 200) {
      expectRest('UploadResult', r.json);
      assert.ok(!r.json.file.name.includes('/') && !r.json.file.name.includes('\\') && !r.json.file.name.startsWith('.'), name);
      assert.ok(!existsSync('/etc/passwd.txt'));
    } else {
      assert.equal(r.status, 400, `${name}: ${r.text}`);
      expectRest('Error', r.json);
      assert.equal(r.json.error.code, 'bad_filename');
    }
  }
  const exe = await upload([['tool.exe', 'MZ']]);
  assert.equal(exe.status, 415);
  expectRest('Error', exe.json);
  assert.equal(exe.json.error.code, 'file_type_not_allowed');
  for (const p of ['/api/file-info/..%2F..%2Fetc%2Fpasswd', '/api/file-info/.bashrc', '/api/uploaded-files/..']) {
    const r = await api(srv, p.includes('uploaded') ? 'DELETE' : 'GET', p);
    assert.ok([404, 405].includes(r.status), `${p}: ${r.status}`);
    expectRest('Error', r.json);
  }
});

test('P7 a symlink planted by a program is never followed by collabd', async () => {
  // the program plants links (Landlock lets it create them in its own directory)
  const plant = await run('import os\nos.symlink("/etc/hostname", "trap.txt")\nos.symlink("/tmp/collabd-upload-escape", "write.txt")\n"planted"');
  assert.equal(plant.json.result, 'planted', plant.text);
  const info = await api(srv, 'GET', '/api/file-info/trap.txt');
  assert.equal(info.status, 404, 'collabd does not read through the link');
  expectRest('Error', info.json);
  const list = await api(srv, 'GET', '/api/uploaded-files');
  assert.ok(!list.json.files.some((f) => f.name === 'trap.txt'), 'links are not listed');
  const w = await upload([['write.txt', 'replaced the link']]);
  assert.equal(w.status, 200);
  expectRest('UploadResult', w.json);
  assert.equal(existsSync('/tmp/collabd-upload-escape'), false, 'the upload replaced the link instead of writing through it');
  assert.equal((await run('open("write.txt").read()')).json.result, 'replaced the link');
  assert.notEqual(readFileSync('/etc/hostname', 'utf8'), 'replaced the link');
});

test('P7 malformed and oversized uploads get clear errors', async () => {
  const notMultipart = await api(srv, 'POST', '/api/upload', { body: { a: 1 } });
  assert.equal(notMultipart.status, 415);
  expectRest('Error', notMultipart.json);
  assert.equal(notMultipart.json.error.code, 'unsupported_media_type');
  const noFile = await upload([]);
  assert.equal(noFile.status, 400);
  expectRest('Error', noFile.json);
  assert.equal(noFile.json.error.code, 'no_file');
  // a truncated multipart body (no closing boundary)
  const body = '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="t.txt"\r\n\r\nhello';
  const t = await rawHttp(srv, `POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  assert.match(t.text, /^HTTP\/1\.1 400/);
  assert.match(t.text, /bad_multipart/);
  expectRest('Error', JSON.parse(t.text.slice(t.text.indexOf('\r\n\r\n') + 4)));
  // over --upload-max: refused from the Content-Length, before the body is read
  const big = await rawHttp(srv, `POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: ${300 * 1024}\r\n\r\n`);
  assert.match(big.text, /^HTTP\/1\.1 413/);
  expectRest('Error', JSON.parse(big.text.slice(big.text.indexOf('\r\n\r\n') + 4)));
  assert.match(big.text, /payload_too_large/);
  // under the cap it is taken
  assert.equal((await upload([['mid.txt', 'm'.repeat(200 * 1024)]])).status, 200);
  // the quota: 512 KiB per context
  const s = await createSession(srv);
  assert.equal((await upload([['a.txt', 'a'.repeat(200 * 1024)]], { session: s.id })).status, 200);
  assert.equal((await upload([['b.txt', 'b'.repeat(200 * 1024)]], { session: s.id })).status, 200);
  const over = await upload([['c.txt', 'c'.repeat(200 * 1024)]], { session: s.id });
  assert.equal(over.status, 413);
  expectRest('Error', over.json);
  assert.equal(over.json.error.code, 'quota_exceeded');
});

test('P7 an upload is a security event with the file\'s hash', async () => {
  await upload([['audit.txt', 'audited']]);
  const t0 = Date.now();
  for (;;) {
    const log = readFileSync(`${srv.logDir}/security.log`, 'utf8');
    if (log.includes(sha('audited'))) {
      const line = JSON.parse(log.split('\n').find((l) => l.includes(sha('audited'))));
      assert.equal(line.event, 'upload');
      assert.equal(line.name, 'audit.txt');
      break;
    }
    if (Date.now() - t0 > 3000) assert.fail('no upload event');
    await new Promise((r) => setTimeout(r, 50));
  }
});
