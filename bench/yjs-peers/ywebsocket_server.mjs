// Same-run Yjs peer for bench/collab_bench.sh: the y-websocket server as its package ships it
// (@y/websocket-server's src/server.js: ws + setupWSConnection, one Y.Doc per room named by the
// URL path, every update applied and broadcast to every connection of the room, the sender
// included), with the port and address taken from the command line and no persistence.
//
// usage: node ywebsocket_server.mjs [--port 0]
// prints: "y-websocket listening on http://127.0.0.1:PORT/"
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { setupWSConnection } from '@y/websocket-server/utils';

const args = process.argv.slice(2);
const i = args.indexOf('--port');
const port = i >= 0 ? Number(args[i + 1]) : 0;

const wss = new WebSocketServer({ noServer: true });
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('okay');
});
wss.on('connection', setupWSConnection);
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});
server.listen(port, '127.0.0.1', () => {
  console.log(`y-websocket listening on http://127.0.0.1:${server.address().port}/`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
