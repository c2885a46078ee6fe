// A raw WebSocket client over net.Socket for sending frames no well-behaved library would:
// oversized length announcements, unmasked frames, bad opcodes, long control frames.
import net from 'node:net';
import crypto from 'node:crypto';

export function frame({ opcode = 1, fin = true, rsv1 = false, payload = Buffer.alloc(0), mask = true, announce }) {
  const len = announce ?? payload.length;
  const head = [((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode)]; // rsv1: compressed (RFC 7692)
  let ext = Buffer.alloc(0);
  if (len < 126) head.push((mask ? 0x80 : 0) | len);
  else if (len < 65536) { head.push((mask ? 0x80 : 0) | 126); ext = Buffer.alloc(2); ext.writeUInt16BE(len); }
  else { head.push((mask ? 0x80 : 0) | 127); ext = Buffer.alloc(8); ext.writeBigUInt64BE(BigInt(len)); }
  const key = mask ? crypto.randomBytes(4) : Buffer.alloc(0);
  const body = Buffer.from(payload);
  if (mask) for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([Buffer.from(head), ext, key, body]);
}

// Open a raw socket, do the handshake (with extra header lines, e.g. an extension offer);
// resolves {sock, frames(), closeCode(), head} after the 101.
export function rawWs(srv, path, extraHeaders = '') {
  return new Promise((resolve, reject) => {
    const sock = net.connect(srv.port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const closed = new Promise((r) => sock.on('close', r));
    sock.on('error', () => {});
    sock.on('connect', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const i = buf.indexOf('\r\n\r\n');
        if (i < 0) return;
        const head = buf.subarray(0, i).toString();
        if (!head.startsWith('HTTP/1.1 101')) { reject(new Error(head)); return; }
        upgraded = true;
        api.head = head;
        buf = buf.subarray(i + 4);
        resolve(api);
      }
    });
    // Parse server frames (unmasked) from what arrived so far.
    const api = {
      sock, closed,
      frames() {
        const out = [];
        let b = buf;
        while (b.length >= 2) {
          let len = b[1] & 0x7f, off = 2;
          if (len === 126) { len = b.readUInt16BE(2); off = 4; } else if (len === 127) { len = Number(b.readBigUInt64BE(2)); off = 10; }
          if (b.length < off + len) break;
          out.push({ opcode: b[0] & 0x0f, payload: b.subarray(off, off + len) });
          b = b.subarray(off + len);
        }
        return out;
      },
      async closeCode(timeoutMs = 3000) {
        await Promise.race([closed, new Promise((r) => setTimeout(r, timeoutMs))]);
        const c = api.frames().find((f) => f.opcode === 8);
        return c && c.payload.length >= 2 ? c.payload.readUInt16BE(0) : null;
      },
      send(f) { sock.write(f); },
    };
  });
}
