const z = require('zenith-node');

const server = new z.Server({ port: 0 }, {           // 127.0.0.1, a port the kernel picks
  onData: (srv, conn, data) => srv.send(conn, data),  // echo; data is a copy
});
server.start();                                       // this thread drives the loop now
let reply = '';
server.connect({                                      // a client on the same loop
  address: '127.0.0.1', port: server.port,
  onConnect: (srv, conn, status, err) => { if (err) throw err; srv.send(conn, Buffer.from('hello')); },
  onData: (srv, conn, data) => { reply += data; },
});
if (!server.runUntil(() => reply.length === 5, 5000)) throw new Error('no echo');  // runOnce in a loop
console.log(`echoed: ${reply} (${server.backendInfo().backend})`);
server.close();
