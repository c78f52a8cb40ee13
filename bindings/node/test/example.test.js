'use strict';
// The README's echo example is examples/echo.js, byte for byte, and it runs.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');

test('the README echo block is examples/echo.js', () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.strictEqual(blocks.length, 1, 'one js block');
  assert.strictEqual(blocks[0], fs.readFileSync(path.join(root, 'examples', 'echo.js'), 'utf8'));
});

test('examples/echo.js echoes', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'examples', 'echo.js')], { encoding: 'utf8', timeout: 20000 });
  assert.strictEqual(r.status, 0, r.stderr);
  assert.match(r.stdout, /^echoed: hello \((io_uring|epoll)\)\n$/);
});
