'use strict';
// The Node.js bindings end to end (node --test): engine round trip with every release run once,
// -4 and -2, a Node echo server answering the C load generator, the pool and NUMA.
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { spawn } = require('node:child_process');
const z = require('../zenith.js');

const BUILD = process.env.ZENITH_BUILD || path.join(__dirname, '..', '..', '..', 'build');

test('version matches', () => {
  assert.deepStrictEqual(z.version().slice(0, 2), z.WRAPPED_VERSION);
});

test('engine: publish moves, poll in order, release runs the callbacks once', () => {
  const e = new z.Engine(64);
  const before = { ...z.released };
  const xs = [];
  for (let k = 0; k < 30; k++) {
    const x = z.int64Array(Array.from({ length: k + 1 }, (_, i) => 3 * i + k));
    e.publish(x, 1, k);
    assert.ok(z.isReleased(x), 'moved');
    xs.push(x);
  }
  for (let k = 0; k < 30; k++) {
    const b = e.poll();
    assert.ok(b);
    assert.strictEqual(Number(b.sourceId), 1);
    assert.strictEqual(Number(b.seqNo), k);
    assert.strictEqual(b.format, 'l');
    assert.deepStrictEqual(b.int64Values(), Array.from({ length: k + 1 }, (_, i) => 3 * i + k));
    b.release();
    assert.throws(() => b.release(), (err) => err.code === -13);
  }
  assert.strictEqual(e.poll(), null);
  assert.strictEqual(z.released.arrays - before.arrays, 30);
  assert.strictEqual(z.released.schemas - before.schemas, 30);
  for (const x of xs) z.freeArrow(x);
  const st = e.stats();
  assert.strictEqual(Number(st.published), 30);
  assert.strictEqual(Number(st.released), 0, 'released through batches with engine NULL');
  e.close();
});

test('engine: malformed is -4 and full is -2, the array stays yours', () => {
  const e = new z.Engine(2);
  const bad = z.int64Array([1, 2, 3]);
  z.koffi.encode(bad.array, z.koffi.offsetof('ArrowArray', 'n_buffers'), 'int64_t', 3n);
  assert.throws(() => e.publish(bad), (err) => err.code === -4 && err.name === 'ZENITH_E_FFI');
  assert.ok(!z.isReleased(bad));
  z.freeArrow(bad);
  const kept = [];
  for (let k = 0; k < 2; k++) { const x = z.int64Array([k]); e.publish(x, 0, k); kept.push(x); }
  const full = z.int64Array([2]);
  assert.throws(() => e.publish(full, 0, 2), (err) => err.code === -2);
  assert.ok(!z.isReleased(full));
  e.poll().release();
  e.publish(full, 0, 2);
  assert.throws(() => e.loadPlugin(Buffer.from('\0asm')), (err) => err.name === 'ZENITH_E_PLUGIN'); // libzenith.so has ZENITH_PLUGINS: a truncated module is refused
  e.close(); // releases the two still queued
  for (const x of [...kept, full]) { assert.ok(z.isReleased(x)); z.freeArrow(x); }
});

test('a Node echo server answers the C load generator', async () => {
  const accepted = [];
  const srv = new z.Server({ bufferCount: 1024, maxConnections: 64 }, {
    onData: (s, conn, buf) => s.send(conn, buf),
    onAccept: (s, conn) => accepted.push(conn),
  });
  srv.start();
  const child = spawn(path.join(BUILD, 'loadgen'), ['-p', String(srv.port), '-c', '4', '-d', '2', '-s', '200', '-T', '1', '-w', '0']);
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  let code = null;
  exited.then((c) => { code = c; });
  // drive the server from the JS thread between event-loop turns
  const deadline = Date.now() + 20000;
  while (code === null && Date.now() < deadline) {
    srv.runOnce(5);
    await new Promise((r) => setImmediate(r));
  }
  assert.strictEqual(code, 0, out);
  for (let i = 0; i < 50; i++) srv.runOnce(1); // see the closes
  const st = srv.stats();
  srv.close();
  assert.strictEqual(accepted.length, 4);
  assert.strictEqual(st.bytes_in, st.bytes_out);
  assert.ok(Number(st.bytes_in) > 0);
});

test('server: bad config throws its code', () => {
  assert.throws(() => new z.Server({ address: '300.1.2.3' }, { onData: () => {} }), (err) => err.name === 'ZENITH_E_INVAL');
  assert.throws(() => new z.Server({}, {}), (err) => err.code === -1);
});

test('pool: acquire, write, release, double release', () => {
  const p = new z.Pool({ bufferSize: 4096, bufferCount: 4 });
  const b = p.acquire();
  const view = z.koffi.view(b, 4096);
  new Uint8Array(view).set([1, 2, 3]);
  assert.deepStrictEqual([...p.view(b).subarray(0, 3)], [1, 2, 3]);
  assert.strictEqual(Number(p.stats().in_use), 1);
  p.release(b);
  assert.throws(() => p.release(b), (err) => err.name === 'ZENITH_E_DOUBLE_RELEASE');
  p.close();
  assert.throws(() => new z.Pool({ bufferSize: 100 }), (err) => err.name === 'ZENITH_E_INVAL');
});

test('numa: memory on node 0, invalid node -2', () => {
  z.numa.init();
  assert.ok(z.numa.nodeCount() >= 1);
  const p = z.numa.allocOnNode(65536, 0);
  new Uint8Array(z.koffi.view(p, 65536))[0] = 1;
  assert.strictEqual(z.numa.nodeOfAddress(p), 0);
  z.numa.free(p, 65536);
  assert.throws(() => z.numa.allocOnNode(4096, 1023), (err) => err.code === -2 && err.numa);
});
