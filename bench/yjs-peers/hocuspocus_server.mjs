// Same-run Yjs peer for bench/collab_bench.sh: a Hocuspocus server (@hocuspocus/server) with its
// defaults and no extensions (no database, no auth hook: every Auth message is accepted), on
// loopback. Every frame carries the document name; an update is applied to the document,
// acknowledged to the sender (SyncStatus) and broadcast to every connection of the document,
// the sender included.
//
// usage: node hocuspocus_server.mjs [--port 0]
// prints: "hocuspocus listening on http://127.0.0.1:PORT/"
import { Server } from '@hocuspocus/server';

const args = process.argv.slice(2);
const i = args.indexOf('--port');
const port = i >= 0 ? Number(args[i + 1]) : 0;

const server = new Server({ address: '127.0.0.1', port, quiet: true });
await server.listen();
console.log(`hocuspocus listening on http://127.0.0.1:${server.address.port}/`);
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
