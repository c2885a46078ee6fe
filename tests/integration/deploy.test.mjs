// deploy/ checked by what runs without a Docker engine, a cluster or systemd as PID 1 (issue 8):
// the Kubernetes YAML parsed and cross-checked (probes, ports, labels, Redis URL, drain timing
// against collabd's options); the systemd unit through systemd-analyze (verify, the offline
// security score, its system-call filter against every call collabd and its Python workers
// make, traced with strace); the Dockerfile parsed, its runtime packages looked up in Debian,
// and its build steps (deploy/docker/build.sh) run in a scratch copy of the repository, whose
// result is then started the way the image starts it and probed with the image's HEALTHCHECK.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { startServer, api, repo, bin } from './lib/server.mjs';
import { freePort } from './lib/redis.mjs';

const deploy = join(repo, 'deploy');
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
let scratch;
before(() => { scratch = mkdtempSync(join(tmpdir(), 'collabd-deploy-')); });
after(() => { if (scratch) rmSync(scratch, { recursive: true, force: true }); });

// ---- the Dockerfile ------------------------------------------------------------------------
// Instructions with continuation lines joined, comments dropped; stages split at FROM.
function dockerfile() {
  const text = readFileSync(join(deploy, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const stages = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const [, op, rest] = t.match(/^(\w+)\s+(.*)$/);
    if (op.toUpperCase() === 'FROM') {
      const m = rest.match(/^(\S+)(?:\s+AS\s+(\S+))?/i);
      stages.push({ from: m[1], name: m[2], ins: [] });
    } else stages.at(-1).ins.push({ op: op.toUpperCase(), rest });
  }
  return stages;
}
const stages = dockerfile();
const runtime = stages.at(-1);
const one = (op) => runtime.ins.filter((i) => i.op === op).at(-1)?.rest;
const imageEnv = Object.fromEntries(runtime.ins.filter((i) => i.op === 'ENV')
  .flatMap((i) => [...i.rest.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]])));
const imageUid = Number(one('USER').split(':')[0]);

test('Dockerfile: Debian 12 stages, non-root runtime on 0.0.0.0 with a HEALTHCHECK on /health', () => {
  assert.ok(stages.length >= 3, 'multi-stage: frontend, build, runtime');
  const build = stages.find((s) => s.name === 'build');
  assert.match(build.from, /^debian:bookworm/);
  assert.match(runtime.from, /^debian:bookworm(-slim)?$/);
  assert.match(stages.find((s) => s.name === 'frontend').from, /^node:20-bookworm/);
  assert.ok(Number.isInteger(imageUid) && imageUid > 0, `USER ${one('USER')} is not root`);
  assert.equal(imageEnv.COLLABD_HOST, '0.0.0.0');
  assert.equal(one('EXPOSE'), imageEnv.COLLABD_PORT);
  assert.deepEqual(JSON.parse(one('ENTRYPOINT')), ['/opt/collabd/bin/collabd']);
  assert.match(one('HEALTHCHECK'), /CMD .*\/health/);
  assert.equal(one('STOPSIGNAL'), 'SIGTERM');
  // every build step is in build.sh (or npm ci), so what the tests below run is what docker runs
  for (const s of stages)
    for (const i of s.ins.filter((x) => x.op === 'RUN'))
      assert.match(i.rest, /deploy\/docker\/build\.sh (deps|server|frontend|runtime)|\/build\.sh runtime|npm ci/, i.rest);
});

const listed = (f) => readFileSync(join(deploy, 'docker', f), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

// tests/run.sh runs integration/ twice (normal and sanitizer builds). What follows does not
// depend on the collabd under test, so the second pass (DEPLOY_CHECKED=1) leaves it out.
const checkedOnce = process.env.DEPLOY_CHECKED === '1' && 'ran in the normal pass already (DEPLOY_CHECKED=1)';

test('Dockerfile: every runtime and build package exists in Debian', { skip: checkedOnce || (!has('apt-cache') && 'no apt-cache') }, () => {
  const rt = listed('runtime-packages.txt');
  for (const p of ['libwebsockets-evlib-uv', 'libwebsockets17', 'libuv1', 'libpython3.11', 'libseccomp2', 'libhiredis0.14'])
    assert.ok(rt.includes(p), `${p} is a runtime package`);
  for (const p of [...rt, ...listed('build-packages.txt')]) {
    const r = spawnSync('apt-cache', ['show', '--no-all-versions', p], { encoding: 'utf8' });
    assert.equal(r.status, 0, `apt-cache show ${p}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Package: ${p.replace(/[.+]/g, '\\$&')}$`, 'm'));
  }
});

// ---- the build steps in a scratch copy ---------------------------------------------------------
let out; // DEST of build.sh: out/opt/collabd/...
test('deploy/docker/build.sh builds the image tree in a scratch copy of the repository', { timeout: 240000, skip: checkedOnce }, (t) => {
  const src = join(scratch, 'src');
  // the files git would commit (tracked and new, not ignored), as they are in the work tree
  const ls = spawnSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: repo });
  if (ls.status !== 0) return t.skip('not a git checkout: no file list to copy');
  const files = ls.stdout.toString().split('\0').filter((f) => f && existsSync(join(repo, f)));
  for (const f of files) cpSync(join(repo, f), join(src, f), { recursive: true });
  // the npm packages the machine already has (build-frontend.sh installs them if missing)
  if (existsSync(join(repo, 'frontend', 'node_modules')))
    cpSync(join(repo, 'frontend', 'node_modules'), join(src, 'frontend', 'node_modules'), { recursive: true });
  const sh = join(src, 'deploy', 'docker', 'build.sh');
  const dest = join(scratch, 'out');
  for (const step of [['deps'], ['server', dest], ['frontend', dest]]) {
    const r = spawnSync(sh, step, { cwd: scratch, encoding: 'utf8' });
    assert.equal(r.status, 0, `build.sh ${step[0]}:\n${r.stdout}\n${r.stderr}`);
  }
  const collabd = join(dest, 'opt/collabd/bin/collabd');
  assert.match(execFileSync(collabd, ['--version']).toString(), /^collabd \d+\.\d+\.\d+/);
  const help = execFileSync(collabd, ['--help']).toString();
  assert.match(help, /--tls-cert/);
  assert.match(help, /--store/);
  assert.ok(existsSync(join(dest, 'opt/collabd/bin/collabd-py')), 'the Python worker beside collabd');
  assert.ok(existsSync(join(dest, 'opt/collabd/share/static/index.html')));
  assert.ok(existsSync(join(dest, 'opt/collabd/share/protocol/openapi.json')));
  const pyodide = readdirSync(join(dest, 'opt/collabd/share/static/assets')).find((d) => d.startsWith('pyodide-'));
  assert.ok(pyodide && existsSync(join(dest, 'opt/collabd/share/static/assets', pyodide, 'pyodide.asm.wasm.br')), 'Pyodide with its precompressed copies');
  out = dest; // the next tests use the tree
});

test('the built binaries need only the runtime packages (and what they depend on)', { skip: !has('dpkg') && 'no dpkg' }, (t) => {
  if (!out) return t.skip('the build did not run');
  const pkgs = new Set(listed('runtime-packages.txt'));
  const closure = new Set(execFileSync('apt-cache', ['depends', '--recurse', '--no-recommends', '--no-suggests',
    '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', ...pkgs]).toString()
    .split('\n').map((l) => l.trim()).filter((l) => /^[a-z0-9][a-z0-9.+-]*$/.test(l)));
  for (const b of ['collabd', 'collabd-py']) {
    const libs = execFileSync('ldd', [join(out, 'opt/collabd/bin', b)]).toString()
      .split('\n').map((l) => l.match(/=> (\/\S+)/)?.[1]).filter(Boolean);
    for (const lib of libs) {
      const r = spawnSync('dpkg', ['-S', execFileSync('readlink', ['-f', lib]).toString().trim()], { encoding: 'utf8' });
      const owner = r.status === 0 ? r.stdout.split(':')[0] : spawnSync('dpkg', ['-S', lib], { encoding: 'utf8' }).stdout.split(':')[0];
      assert.ok(pkgs.has(owner) || closure.has(owner), `${b} needs ${lib} from ${owner}, not in the runtime packages`);
    }
  }
});

test('the built tree runs as the image runs it: page, docs, Pyodide, Python, HEALTHCHECK, SIGTERM', async (t) => {
  if (!out) return t.skip('the build did not run');
  const dir = mkdtempSync(join(scratch, 'run-'));
  const port = await freePort();
  // the image's environment, with a free port and writable directories instead of /var
  const env = { ...process.env, ...imageEnv, COLLABD_PORT: String(port), COLLABD_HOST: '127.0.0.1',
    COLLABD_LOG_DIR: join(dir, 'log'), COLLABD_PY_SANDBOX_DIR: join(dir, 'sandbox') };
  for (const k of ['COLLABD_STATIC_DIR', 'COLLABD_PROTOCOL_DIR']) env[k] = join(out, imageEnv[k]);
  const proc = spawn(join(out, 'opt/collabd/bin/collabd'), [], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((r) => proc.on('exit', (code) => r(code)));
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  await new Promise((resolve, reject) => {
    let s = '';
    proc.stdout.on('data', (d) => { s += d; if (s.includes('listening on')) resolve(); });
    exited.then(() => reject(new Error(stderr)));
  });
  const srv = { base: `http://127.0.0.1:${port}` };
  const health = () => spawnSync('bash', ['-c', JSON.parse(one('HEALTHCHECK').replace(/^.*?CMD\s+/, '')).at(-1)],
    { env: { ...process.env, COLLABD_PORT: String(port) }, timeout: 5000 }).status;
  try {
    const page = await api(srv, 'GET', '/');
    assert.equal(page.status, 200);
    assert.match(page.text, /<script[^>]+src="\/assets\/main-[\w-]+\.js"/, 'the Vite build, not the test page');
    assert.equal((await api(srv, 'GET', '/docs')).status, 200);
    const wasm = readdirSync(join(out, 'opt/collabd/share/static/assets')).find((d) => d.startsWith('pyodide-'));
    assert.equal((await fetch(`${srv.base}/assets/${wasm}/pyodide.asm.wasm`, { method: 'HEAD' })).status, 200);
    const run = await api(srv, 'POST', '/api/execute', { body: { code: 'import decimal, json\nprint(json.dumps([1]))\n6 * 7' } });
    assert.equal(run.json.success, true, run.text);
    assert.equal(run.json.result, 42);
    assert.equal(health(), 0, 'HEALTHCHECK passes on a serving instance');
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.notEqual(health(), 0, 'and fails once it is gone');
  } finally { proc.kill('SIGKILL'); }
});

// ---- Kubernetes ------------------------------------------------------------------------------
const k8sDir = join(deploy, 'k8s');
const yamlFiles = readdirSync(k8sDir).filter((f) => f.endsWith('.yaml'));
const docs = yamlFiles.flatMap((f) => parseAllDocuments(readFileSync(join(k8sDir, f), 'utf8')).map((d) => {
  assert.equal(d.errors.length, 0, `${f}: ${d.errors.join('; ')}`);
  return { file: f, ...d.toJS() };
})).filter((d) => d.kind);
const get = (kind, name) => {
  const d = docs.find((x) => x.kind === kind && (!name || x.metadata.name === name));
  assert.ok(d, `${kind} ${name || ''} present`);
  return d;
};
const selects = (selector, labels) => Object.entries(selector).every(([k, v]) => labels[k] === v);
const ms = (envs, name) => Number(envs.find((e) => e.name === name).value);

test('k8s: every file parses and kustomization.yaml lists them all', () => {
  const k = get('Kustomization');
  assert.deepEqual([...k.resources].sort(), yamlFiles.filter((f) => f !== 'kustomization.yaml').sort());
});

test('k8s: the Deployment: 3 replicas, probes on /health at the container port, resources, non-root', () => {
  const d = get('Deployment', 'collabd');
  assert.equal(d.spec.replicas, 3);
  const pod = d.spec.template;
  assert.ok(selects(d.spec.selector.matchLabels, pod.metadata.labels));
  const c = pod.spec.containers[0];
  const port = c.ports.find((p) => p.name === 'http');
  assert.equal(String(port.containerPort), imageEnv.COLLABD_PORT, 'the port the image listens on');
  for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
    assert.equal(c[probe].httpGet.path, '/health', probe);
    assert.ok(c[probe].httpGet.port === 'http' || c[probe].httpGet.port === port.containerPort, probe);
  }
  const window = (p) => (p.periodSeconds ?? 10) * (p.failureThreshold ?? 3);
  assert.ok(window(c.livenessProbe) >= 4 * window(c.readinessProbe), 'liveness is far more patient than readiness (/health is 503 while Redis is away)');
  for (const k of ['requests', 'limits']) for (const r of ['cpu', 'memory']) assert.ok(c.resources[k][r], `${k}.${r}`);
  const psc = pod.spec.securityContext;
  assert.equal(psc.runAsNonRoot, true);
  assert.equal(psc.runAsUser, imageUid, 'the image\'s user');
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  // a read-only root: whatever collabd writes has a volume
  const mounts = c.volumeMounts.map((m) => m.mountPath);
  for (const k of ['COLLABD_LOG_DIR', 'COLLABD_PY_SANDBOX_DIR']) assert.ok(mounts.includes(imageEnv[k]), `${imageEnv[k]} is writable`);
  for (const m of c.volumeMounts) assert.ok(pod.spec.volumes.some((v) => v.name === m.name), m.name);
});

test('k8s: drain timing: readiness fails before clients are told, SIGKILL comes after the grace', () => {
  const d = get('Deployment', 'collabd');
  const c = d.spec.template.spec.containers[0];
  const delay = ms(c.env, 'COLLABD_DRAIN_DELAY_MS'), grace = ms(c.env, 'COLLABD_SHUTDOWN_GRACE_MS');
  const r = c.readinessProbe;
  assert.ok(delay / 1000 >= r.periodSeconds * r.failureThreshold, 'the drain delay outlasts readiness detection');
  assert.ok(d.spec.template.spec.terminationGracePeriodSeconds >= (delay + grace) / 1000 + 5);
  assert.equal(d.spec.strategy.rollingUpdate.maxUnavailable, 0);
});

test('k8s: Service, Ingress and PDB select the collabd pods; the Ingress is WebSocket-friendly', () => {
  const pod = get('Deployment', 'collabd').spec.template;
  const svc = get('Service', 'collabd');
  assert.ok(selects(svc.spec.selector, pod.metadata.labels));
  const sp = svc.spec.ports[0];
  assert.ok(pod.spec.containers[0].ports.some((p) => p.name === sp.targetPort || p.containerPort === sp.targetPort));
  const pdb = get('PodDisruptionBudget', 'collabd');
  assert.deepEqual(pdb.spec.selector.matchLabels, get('Deployment', 'collabd').spec.selector.matchLabels);
  assert.ok(pdb.spec.minAvailable >= 1 && pdb.spec.minAvailable < 3);
  const ing = get('Ingress', 'collabd');
  const a = ing.metadata.annotations;
  for (const k of ['proxy-read-timeout', 'proxy-send-timeout'])
    assert.ok(Number(a[`nginx.ingress.kubernetes.io/${k}`]) >= 300, `${k} well over collabd's 75 s idle timeout`);
  assert.match(a['nginx.ingress.kubernetes.io/upstream-hash-by'], /^\$uri$/, 'hash the path (/ws/{session}), not the per-user query');
  const mb = a['nginx.ingress.kubernetes.io/proxy-body-size'].match(/^(\d+)m$/);
  assert.ok(mb && Number(mb[1]) > 10, 'room for a 10 MiB upload');
  const be = ing.spec.rules[0].http.paths[0].backend.service;
  assert.equal(be.name, svc.metadata.name);
  assert.ok(svc.spec.ports.some((p) => p.name === be.port.name || p.port === be.port.number));
});

test('k8s: collabd is pointed at the Redis StatefulSet (AOF on a PVC) through its Service', () => {
  const c = get('Deployment', 'collabd').spec.template.spec.containers[0];
  assert.equal(c.env.find((e) => e.name === 'COLLABD_STORE').value, 'redis');
  const ref = c.env.find((e) => e.name === 'COLLABD_REDIS_URL').valueFrom.secretKeyRef;
  const secret = get('Secret', ref.name);
  const url = new URL(secret.stringData[ref.key]);
  assert.equal(url.protocol, 'redis:');
  assert.equal(decodeURIComponent(url.password), secret.stringData.password, 'the password Redis is started with');
  const rsvc = get('Service', url.hostname);
  assert.ok(rsvc.spec.ports.some((p) => String(p.port) === (url.port || '6379')));
  const sts = get('StatefulSet', 'collabd-redis');
  assert.ok(selects(rsvc.spec.selector, sts.spec.template.metadata.labels), 'the URL\'s Service selects the Redis pod');
  assert.ok(docs.some((d) => d.kind === 'Service' && d.metadata.name === sts.spec.serviceName && d.spec.clusterIP === 'None'));
  const conf = get('ConfigMap', 'collabd-redis').data['redis.conf'];
  assert.match(conf, /^appendonly yes$/m);
  assert.match(conf, /^maxmemory-policy noeviction$/m);
  const dataDir = conf.match(/^dir (\S+)$/m)[1];
  const claim = sts.spec.volumeClaimTemplates[0];
  assert.ok(claim.spec.resources.requests.storage);
  assert.ok(sts.spec.template.spec.containers[0].volumeMounts.some((m) => m.name === claim.metadata.name && m.mountPath === dataDir), 'the AOF lands on the PVC');
  const np = get('NetworkPolicy', 'collabd-redis');
  assert.ok(selects(np.spec.podSelector.matchLabels, sts.spec.template.metadata.labels));
  assert.ok(selects(np.spec.ingress[0].from[0].podSelector.matchLabels, get('Deployment', 'collabd').spec.template.metadata.labels));
});

// ---- systemd -----------------------------------------------------------------------------------
const unitPath = join(deploy, 'systemd', 'collabd.service');
const unitText = readFileSync(unitPath, 'utf8');
const unit = {};
for (const l of unitText.split('\n')) {
  const m = l.match(/^(\w+)=(.*)$/);
  if (m) (unit[m[1]] ||= []).push(m[2]);
}
const unitEnv = Object.fromEntries((unit.Environment || []).flatMap((e) => e.split(/\s+/)).map((kv) => kv.split('=')));
const noSystemd = !has('systemd-analyze') && 'systemd-analyze is not installed (apt-cache policy systemd)';

test('systemd: the unit\'s key options', () => {
  assert.notEqual(spawnSync('grep', ['-rq', 'sd_notify', join(repo, 'server')]).status, 0, 'no sd_notify in collabd');
  assert.equal(unit.Type[0], 'simple', 'collabd has no sd_notify');
  assert.ok(unit.DynamicUser?.[0] === 'yes' || (unit.User && unit.User[0] !== 'root'));
  for (const [k, v] of [['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'],
    ['NoNewPrivileges', 'yes'], ['KillSignal', 'SIGTERM'], ['KillMode', 'mixed'], ['StateDirectory', 'collabd'], ['LogsDirectory', 'collabd']])
    assert.equal(unit[k]?.[0], v, k);
  assert.equal(unitEnv.COLLABD_LOG_DIR, '/var/log/collabd', 'the LogsDirectory');
  assert.ok(unitEnv.COLLABD_PY_SANDBOX_DIR.startsWith('/var/lib/collabd/'), 'inside the StateDirectory');
  const stop = Number(unit.TimeoutStopSec[0].replace(/s$/, ''));
  assert.ok(stop >= (Number(unitEnv.COLLABD_DRAIN_DELAY_MS) + Number(unitEnv.COLLABD_SHUTDOWN_GRACE_MS)) / 1000 + 5, 'SIGKILL only after the drain');
  const fam = unit.RestrictAddressFamilies[0].split(/\s+/);
  for (const f of ['AF_UNIX', 'AF_INET', 'AF_INET6']) assert.ok(fam.includes(f), f);
  const ns = unit.RestrictNamespaces[0].split(/\s+/);
  assert.ok(ns.includes('user') && ns.includes('net'), 'the workers\' user + network namespace');
  assert.equal(unit.CapabilityBoundingSet[0], '');
});

test('systemd: systemd-analyze verify and the offline security score', { skip: noSystemd }, () => {
  // ExecStart must exist: point a copy at the binary under test
  const copy = join(scratch, 'collabd.service');
  writeFileSync(copy, unitText.replace(/^ExecStart=\S+/m, `ExecStart=${bin}`));
  const v = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
  assert.equal(v.status, 0, v.stderr);
  assert.equal((v.stdout + v.stderr).trim(), '', 'no warning at all');
  const s = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', copy], { encoding: 'utf8' });
  const score = Number((s.stdout.match(/Overall exposure level for \S+: ([\d.]+)/) || [])[1]);
  assert.ok(score <= 2.5, `exposure ${score} (systemd calls up to 3.9 "OK"): ${s.stderr}`);
});

// The calls systemd's filter lets through: @groups expanded from systemd-analyze itself.
function allowedSyscalls() {
  const groups = {};
  let g = null;
  for (const l of execFileSync('systemd-analyze', ['syscall-filter', '--no-pager'], { encoding: 'utf8' }).split('\n')) {
    if (/^@\S+$/.test(l)) groups[g = l] = [];
    else if (g && /^\s+[@\w-]+$/.test(l)) groups[g].push(l.trim());
  }
  const expand = (n, seen = new Set()) => (n.startsWith('@') ? (seen.has(n) ? [] : (seen.add(n), (groups[n] || []).flatMap((m) => expand(m, seen)))) : [n]);
  const allow = new Set(), deny = new Set();
  for (const line of unit.SystemCallFilter) {
    const neg = line.startsWith('~');
    for (const item of line.replace(/^~/, '').split(/\s+/).filter(Boolean))
      for (const s of expand(item)) (neg ? deny : allow).add(s);
  }
  for (const s of deny) allow.delete(s);
  return allow;
}

test('systemd: the system-call filter lets collabd and its sandboxed Python workers run', { skip: noSystemd, timeout: 60000 }, async (t) => {
  const allow = allowedSyscalls();
  // what the workers' sandbox needs to build itself (server/pyexec/worker/sandbox.c)
  for (const s of ['unshare', 'seccomp', 'landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self',
    'prctl', 'setrlimit', 'prlimit64', 'chdir', 'clone', 'execve', 'socketpair', 'wait4', 'kill'])
    assert.ok(allow.has(s), `${s} allowed`);
  if (!has('strace')) return t.skip('no strace: the traced run is skipped');
  // everything collabd, the zygote and a worker call while serving a run, traced; as the unit
  // runs it: unprivileged (as root collabd would also drop the workers to --py-uid)
  const dir = mkdtempSync(join(tmpdir(), 'collabd-strace-'));
  const trace = join(dir, 'strace.txt');
  let wrap = ['strace', '-f', '-qq', '-o', trace];
  if (process.getuid() === 0) {
    if (!has('setpriv')) return t.skip('root without setpriv: cannot trace an unprivileged collabd');
    chownSync(dir, 65534, 65534);
    wrap = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', ...wrap];
  }
  const probe = spawnSync(wrap[0], [...wrap.slice(1), 'true']);
  if (probe.status !== 0) { rmSync(dir, { recursive: true, force: true }); return t.skip('strace cannot trace here (ptrace refused)'); }
  // (LeakSanitizer cannot run under ptrace: off for an ASan build here)
  const env = { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || ''}:detect_leaks=0` };
  const srv = await startServer(['--log-dir', dir, '--py-sandbox-dir', join(dir, 'sandbox')], env, { wrap });
  try {
    const r = await api(srv, 'POST', '/api/execute', { body: { code: 'import json, decimal, csv\nopen("f.txt", "w").write("x")\nprint(open("f.txt").read())\n6 * 7' } });
    assert.equal(r.json.success, true, r.text);
    assert.equal((await api(srv, 'POST', '/api/reset', { body: {} })).status, 200);
  } finally {
    // SIGTERM to collabd itself (strace would only detach), then strace exits with its code
    const child = readFileSync(`/proc/${srv.proc.pid}/task/${srv.proc.pid}/children`, 'utf8').trim().split(/\s+/)[0];
    process.kill(Number(child), 'SIGTERM');
    await srv.exited;
    await srv.stop();
  }
  const used = new Set(readFileSync(trace, 'utf8').split('\n').map((l) => l.match(/^\d+\s+([a-z_0-9]+)\(/)?.[1]).filter(Boolean));
  rmSync(dir, { recursive: true, force: true });
  assert.ok(used.has('landlock_restrict_self') || used.has('seccomp'), 'the trace reached the workers');
  const refused = [...used].filter((s) => !allow.has(s));
  assert.deepEqual(refused, [], 'calls the unit would refuse');
});
