// node-redis (Debian node-redis, redis 4.x) against a running Ballot cluster.
// Usage: node node_redis_check.js PORT [PORT...]. Exit 0: every check passed; 1: one failed;
// 77: node-redis is not installed.
'use strict';
let redis;
try {
  redis = require('redis');
} catch (e) {
  console.log(`SKIP: node-redis is not installed (scripts/setup.sh installs it): ${e.message}`);
  process.exit(77);
}

function check(what, got, want) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) {
    console.log(`FAIL ${what}: got ${g}, want ${w}`);
    process.exit(1);
  }
  console.log(`ok   ${what}`);
}

async function expectError(what, promise, text) {
  try {
    const got = await promise;
    console.log(`FAIL ${what}: got ${JSON.stringify(got)}, want an error containing '${text}'`);
    process.exit(1);
  } catch (e) {
    if (!String(e.message).includes(text)) {
      console.log(`FAIL ${what}: error '${e.message}' does not contain '${text}'`);
      process.exit(1);
    }
    console.log(`ok   ${what}: ${e.message}`);
  }
}

async function main(ports) {
  const clients = ports.map((port) => {
    // `name` makes the client send CLIENT SETNAME on connect; no reconnect loop in a test.
    const c = redis.createClient({socket: {host: '127.0.0.1', port, reconnectStrategy: false}, name: 'ballot-node'});
    c.on('error', (e) => {
      console.log(`FAIL connection error: ${e.message}`);
      process.exit(1);
    });
    return c;
  });
  for (const c of clients) await c.connect();
  const r = clients[0];
  check('PING', await r.ping(), 'PONG');
  check('CLIENT GETNAME', await r.clientGetName(), 'ballot-node');
  check('CLIENT SETINFO', await r.sendCommand(['CLIENT', 'SETINFO', 'LIB-NAME', 'node-redis']), 'OK');
  check('CLIENT ID is a number', typeof (await r.clientId()), 'number');
  // What node-redis 5 sends on connect: HELLO 3 falls back on -NOPROTO, maintenance
  // notifications (RESP3 pushes) are refused with an error its default "auto" mode tolerates.
  await expectError('HELLO 3', r.sendCommand(['HELLO', '3']), 'NOPROTO');
  check('HELLO 2 proto', (await r.sendCommand(['HELLO', '2']))[5], 2);
  await expectError('CLIENT MAINT_NOTIFICATIONS on', r.sendCommand(['CLIENT', 'MAINT_NOTIFICATIONS', 'on']), 'RESP3');
  check('SELECT 0 (resolves with nothing)', await r.select(0), undefined);
  check('SET', await r.set('node:k', 'v'), 'OK');
  check('GET', await r.get('node:k'), 'v');
  // Commands issued together are pipelined on the one connection.
  const sets = [];
  for (let i = 0; i < 100; i++) sets.push(r.set(`node:${i}`, `v${i}`));
  check('100 concurrent SETs (auto-pipelined)', await Promise.all(sets), Array(100).fill('OK'));
  // An explicit pipeline without MULTI/EXEC.
  const replies = await r.multi().set('node:p', '1').incrBy('node:n', 7).get('node:p').execAsPipeline();
  check('multi().execAsPipeline()', replies, ['OK', 7, '1']);
  for (const c of clients) check('GET node:99 through every node', await c.get('node:99'), 'v99');
  check('MSET', await r.mSet(['node:a', '1', 'node:b', '2']), 'OK');
  check('MGET', await r.mGet(['node:a', 'node:missing', 'node:b']), ['1', null, '2']);
  check('EXISTS', await r.exists(['node:a', 'node:missing']), 1);
  check('DECRBY', await r.decrBy('node:n', 2), 5);
  check('GETDEL', await r.getDel('node:a'), '1');
  check('SETNX', await r.setNX('node:a', 'x'), true);
  // MULTI/EXEC is not supported: exec() rejects, and none of the transaction is applied.
  await expectError('multi().exec()', r.multi().set('node:tx', '1').exec(), 'MULTI is not supported by Ballot');
  check('nothing of the refused transaction applied', await r.get('node:tx'), null);
  check('SET PX', await r.set('node:ttl', 'v', {PX: 60000}), 'OK');
  const pttl = await r.pTTL('node:ttl');
  check('PTTL within the TTL', pttl > 0 && pttl <= 60000, true);
  check('PERSIST', await r.persist('node:ttl'), true);
  for (const c of clients) await c.quit();
  console.log('all node-redis checks passed');
}

main(process.argv.slice(2).map(Number)).catch((e) => {
  console.log(`FAIL ${e.stack || e}`);
  process.exit(1);
});
