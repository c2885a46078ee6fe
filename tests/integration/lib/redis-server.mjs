// A real redis-server (Debian's) on a free loopback port, in its own temp directory, with no RDB
// snapshots; AOF (fsync always) when a test restarts it and needs the data back. stop() sends
// SIGTERM (kill(): SIGKILL) and waits; cleanup() removes the directory. No npm package needed:
// the tests (through redis.mjs) and bench/collab_bench.mjs both start Redis with it.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';

export const redisBin = process.env.REDIS_SERVER_BIN || 'redis-server';

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function ping(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => { data += d; if (data.includes('\r\n')) { sock.destroy(); resolve(data.startsWith('+PONG')); } });
    sock.on('error', () => resolve(false));
  });
}

export class Redis {
  constructor({ port, aof = false } = {}) {
    this.port = port; this.aof = aof; this.dir = mkdtempSync(join(tmpdir(), 'collabd-redis-'));
    this.proc = null;
  }
  get url() { return `redis://127.0.0.1:${this.port}/0`; }
  async start() {
    if (!this.port) this.port = await freePort();
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--dir', this.dir,
      '--appendonly', this.aof ? 'yes' : 'no', '--appendfsync', 'always', '--daemonize', 'no', '--loglevel', 'warning'];
    this.proc = spawn(redisBin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.exited = new Promise((resolve) => this.proc.on('exit', resolve));
    const deadline = Date.now() + 10000;
    while (!(await ping(this.port))) {
      if (Date.now() > deadline || this.proc.exitCode !== null) throw new Error(`redis-server did not start on ${this.port}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this;
  }
  async stop(signal = 'SIGTERM') {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill(signal);
      await this.exited;
    }
    this.proc = null;
  }
  kill() { return this.stop('SIGKILL'); }
  // redis-cli on this server: its reply, trimmed
  cli(...args) { return execFileSync('redis-cli', ['-p', String(this.port), ...args], { encoding: 'utf8' }).trim(); }
  // how many script calls (EVALSHA) this server has run: a commit is one
  scriptCalls() { return Number(/cmdstat_evalsha:calls=(\d+)/.exec(this.cli('INFO', 'commandstats'))?.[1] || 0); }
  cleanup() { rmSync(this.dir, { recursive: true, force: true }); }
}

export async function startRedis(opts) { return new Redis(opts).start(); }
