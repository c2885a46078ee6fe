// Precomputes the Yjs updates that bench/loadgen replays in --yjs mode, with the real yjs
// library, so that the y-websocket and Hocuspocus peers decode and apply valid updates.
//
//   node frames.mjs edits --clients N --frames M --chars K --base B --out FILE
//     Client i (clientID B+i, its own Y.Doc) types M inserts of K characters into the Y.Text
//     "codemirror", each after its previous one (typing at one cursor), so an update depends
//     only on the same client's earlier updates, which it sent before on the same socket.
//     Insert j (j = 1..M) starts at clock (j-1)*K: loadgen recognises a delivery by the
//     clientID and clock at the head of the update (no marker needed).
//   node frames.mjs seed --content FILE --out FILE
//     One update of clientID 1 inserting FILE's text into an empty "codemirror" text: what a
//     big room starts with.
//
// FILE layout (little-endian): "YJF1", u32 clients, u32 frames, u32 chars, u32 base, then for
// every client, every frame: u32 length + the update (Yjs update v1, without the sync-protocol
// header: loadgen adds the header, and the document name for Hocuspocus). A seed file holds one
// client with one frame.
import fs from 'node:fs';
import * as Y from 'yjs';

const [mode, ...rest] = process.argv.slice(2);
const opt = (n, d) => { const i = rest.indexOf(n); return i >= 0 ? rest[i + 1] : d; };
const out = opt('--out');
if (!out) throw new Error('--out FILE is required');

function write(clients, frames, chars, base, updates) {
  let total = 20;
  for (const u of updates) total += 4 + u.length;
  const buf = Buffer.alloc(total);
  buf.write('YJF1', 0, 'latin1');
  buf.writeUInt32LE(clients, 4); buf.writeUInt32LE(frames, 8);
  buf.writeUInt32LE(chars, 12); buf.writeUInt32LE(base, 16);
  let o = 20;
  for (const u of updates) { buf.writeUInt32LE(u.length, o); o += 4; buf.set(u, o); o += u.length; }
  fs.writeFileSync(out, buf);
}

if (mode === 'edits') {
  const clients = Number(opt('--clients', '1')), frames = Number(opt('--frames', '10'));
  const chars = Number(opt('--chars', '1')), base = Number(opt('--base', '1000'));
  const text = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(Math.ceil(chars / 36) + 1);
  const updates = [];
  for (let c = 0; c < clients; c++) {
    const doc = new Y.Doc();
    doc.clientID = base + c;
    const t = doc.getText('codemirror');
    const mine = [];
    doc.on('update', (u) => mine.push(u));
    for (let j = 0; j < frames; j++) t.insert(j * chars, text.slice(j % 36, (j % 36) + chars));
    if (mine.length !== frames) throw new Error('one update per insert expected');
    updates.push(...mine);
    doc.destroy();
  }
  write(clients, frames, chars, base, updates);
} else if (mode === 'seed') {
  const doc = new Y.Doc();
  doc.clientID = 1;
  let u = null;
  doc.on('update', (x) => { u = x; });
  doc.getText('codemirror').insert(0, fs.readFileSync(opt('--content'), 'utf8'));
  write(1, 1, 0, 1, [u]);
} else {
  throw new Error('usage: frames.mjs edits|seed ... (see the top of the file)');
}
