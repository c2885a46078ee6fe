// D6: deploy/compose.yaml, read with the `yaml` package (no Docker engine runs here): three
// collabd built from deploy/Dockerfile on one Redis with AOF on a named volume, nginx mounting
// nginx/'s template and naming exactly the three instances, collabd trusting only nginx's
// address; and the template rendered with compose's values passes `nginx -t`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { parse } from 'yaml';
import { repo } from './lib/server.mjs';
import { renderNginx, template } from './lib/nginx.mjs';

const deployDir = join(repo, 'deploy');
const compose = parse(readFileSync(join(deployDir, 'compose.yaml'), 'utf8'), { merge: true });
const services = compose.services;
const collabd = Object.keys(services).filter((n) => services[n].build);
const flag = (cmd, name) => cmd[cmd.indexOf(name) + 1];
// a short-syntax volume "SRC:DST[:ro]" (SRC may hold "${VAR:-default}")
function mount(v) {
  const parts = v.split(':');
  if (['ro', 'rw'].includes(parts.at(-1))) parts.pop();
  const dst = parts.pop();
  return { src: parts.join(':'), dst };
}

test('three collabd built from deploy/Dockerfile, on Redis, healthchecked on /health', () => {
  assert.deepEqual(collabd.sort(), ['collabd1', 'collabd2', 'collabd3']);
  for (const name of collabd) {
    const s = services[name];
    assert.deepEqual(s.build, { context: '..', dockerfile: 'deploy/Dockerfile' }, name);
    assert.equal(flag(s.command, '--store'), 'redis', name);
    assert.equal(flag(s.command, '--redis-url'), 'redis://redis:6379/0', name);
    assert.match(s.healthcheck.test.join(' '), /GET \/health .* 200 /, name);
    assert.equal(s.depends_on.redis.condition, 'service_healthy', name);
    assert.ok(s.expose.includes('8080'), name);
  }
  // each instance keeps its own security log (the hash chain is per file)
  const logs = collabd.map((n) => services[n].volumes.map(mount).find((m) => m.dst === '/var/log/collabd').src);
  assert.equal(new Set(logs).size, 3);
});

test('redis: AOF persistence on a named volume', () => {
  const r = services.redis;
  assert.equal(r.command[r.command.indexOf('--appendonly') + 1], 'yes');
  const data = r.volumes.map(mount).find((m) => m.dst === '/data');
  assert.ok(data, 'a volume at /data');
  assert.ok(Object.hasOwn(compose.volumes, data.src), 'a named volume, declared');
  assert.deepEqual(r.healthcheck.test, ['CMD', 'redis-cli', 'ping']);
});

test('nginx: the template from nginx/, ports 80/443, certificates, every instance healthy first', () => {
  const n = services.nginx;
  const { src, dst } = n.volumes.map(mount).find((m) => m.dst.startsWith('/etc/nginx/templates/'));
  assert.equal(resolve(deployDir, src), template, 'mounts nginx/collabd.conf.template');
  assert.match(dst, /^\/etc\/nginx\/templates\/[^/]+\.conf\.template$/);
  assert.deepEqual(n.ports.map((p) => p.split(':').pop()).sort(), ['443', '80']);
  assert.equal(n.environment.NGX_HTTP_LISTEN, '80');
  assert.equal(n.environment.NGX_HTTPS_LISTEN, '443');
  const certs = n.volumes.map(mount).find((m) => m.dst === posix.dirname(n.environment.NGX_SSL_CERT));
  assert.ok(certs, 'the certificate directory is mounted');
  assert.equal(posix.dirname(n.environment.NGX_SSL_KEY), certs.dst);
  for (const name of collabd) assert.equal(n.depends_on[name].condition, 'service_healthy');
});

test('the upstreams nginx is given are the three instances; they trust only nginx', () => {
  const env = services.nginx.environment;
  const named = [...env.NGX_UPSTREAM_SERVERS.matchAll(/server ([\w.-]+):(\d+)/g)];
  assert.deepEqual(named.map((m) => m[1]).sort(), collabd.sort());
  for (const m of named) assert.ok(services[m[1]].expose.includes(m[2]), `${m[1]} listens on ${m[2]}`);
  const nginxAddr = services.nginx.networks.backend.ipv4_address;
  const subnet = compose.networks.backend.ipam.config[0].subnet;
  assert.ok(nginxAddr.startsWith(subnet.split('.').slice(0, 3).join('.') + '.'), 'inside the network');
  for (const name of collabd) {
    assert.equal(flag(services[name].command, '--trusted-proxies'), `${nginxAddr}/32`, name);
    assert.ok(services[name].networks.includes('backend'));
  }
});

test('compose defines every variable of the template, and the result passes nginx -t', () => {
  const env = services.nginx.environment;
  const names = [...new Set([...readFileSync(template, 'utf8').matchAll(/\$\{(NGX_[A-Z0-9_]+)\}/g)].map((m) => m[1]))];
  for (const n of names) assert.ok(Object.hasOwn(env, n), `compose sets ${n}`);
  assert.ok(new RegExp(env.NGINX_ENVSUBST_FILTER).test('NGX_SERVER_NAME') && !new RegExp(env.NGINX_ENVSUBST_FILTER).test('host'));
  // as the image renders it, but the instances' names resolved on loopback and a scratch
  // certificate and cache (nginx -t reads the one and creates the other)
  // compose's interpolation with nothing set in the environment: ${VAR:-default} -> default
  const interp = (v) => String(v).replace(/\$\{\w+(?::-([^}]*))?\}/g, (_, d) => d ?? '');
  const vars = Object.fromEntries(names.map((n) => [n, interp(env[n])]));
  vars.NGX_UPSTREAM_SERVERS = vars.NGX_UPSTREAM_SERVERS.replace(/collabd(\d):/g, '127.0.0.$1:');
  for (const n of ['NGX_SSL_CERT', 'NGX_SSL_KEY', 'NGX_CACHE_DIR']) delete vars[n];
  const r = renderNginx(vars);
  try {
    assert.match(r.conf, /listen 443 ssl http2;/);
    assert.match(r.conf, /return 301 https:\/\/\$host\$request_uri;/);
    assert.equal((r.conf.match(/server 127\.0\.0\.\d:8080 max_fails/g) || []).length, 3);
  } finally {
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test('the image compose builds is the other part of deploy/ (when present)', { skip: !existsSync(join(deployDir, 'Dockerfile')) && 'deploy/Dockerfile not in this tree' }, () => {
  const df = readFileSync(join(deployDir, 'Dockerfile'), 'utf8');
  assert.match(df, /ENTRYPOINT \[[^\]]*collabd"\]/, 'command: holds only collabd options');
  assert.match(df, /COLLABD_PORT=8080|EXPOSE 8080/);
});
