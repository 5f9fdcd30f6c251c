// The sockjs-node peer of the sockjs-cluster benchmark: sockjs 0.3.24 from
// npm serving the benchmark's services, as examples/testserver does:
//
//   /echo       echoes every message
//   /broadcast  sends each message to every open connection of the route
//
// Both with response_limit 4096 (as the testserver), loopback only.
//
//   node server.js 127.0.0.1:8083
'use strict';

const http = require('http');
const sockjs = require('sockjs');

const addr = process.argv[2] || '127.0.0.1:8083';
const i = addr.lastIndexOf(':');
const host = addr.slice(0, i);
const port = Number(addr.slice(i + 1));
if (!/^127\./.test(host)) {
  console.error('sockjsnode: ' + addr + ' is not a loopback address');
  process.exit(2);
}

const options = {
  sockjs_url: 'https://cdn.jsdelivr.net/npm/sockjs-client@1.6.1/dist/sockjs.min.js',
  response_limit: 4096,
  log: () => {},
};

const echo = sockjs.createServer(options);
echo.on('connection', (conn) => {
  conn.on('data', (msg) => conn.write(msg));
});

const conns = new Set();
const broadcast = sockjs.createServer(options);
broadcast.on('connection', (conn) => {
  conns.add(conn);
  conn.on('data', (msg) => {
    for (const c of conns) c.write(msg);
  });
  conn.on('close', () => conns.delete(conn));
});

const server = http.createServer();
server.maxHeadersCount = 0;
echo.installHandlers(server, { prefix: '/echo' });
broadcast.installHandlers(server, { prefix: '/broadcast' });
server.listen(port, host, () => console.log('sockjsnode listening on ' + addr));
