'use strict';
// Reads a topic as a member of a consumer group with kafkajs, the way a
// Node.js application would, and prints what it read as one JSON line:
// {"records": [[partition, offset, value], ...], "memberId": ...}.
//
//   node kafkajs_consume.js --brokers HOST:PORT --topic T --group G --count N
//        [--timeout MS]
//
// Offsets are committed as records are processed and once more before the
// consumer leaves the group. Exits 0 only when N records were read in time.

const { Kafka, logLevel } = require('kafkajs');

function parseArgs(argv) {
  const args = { timeout: 30000 };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (i + 1 >= argv.length) throw new Error(`missing value for --${name}`);
    args[name] = argv[i + 1];
  }
  for (const required of ['brokers', 'topic', 'group', 'count']) {
    if (!args[required]) throw new Error(`--${required} is required`);
  }
  args.count = Number(args.count);
  args.timeout = Number(args.timeout);
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const kafka = new Kafka({
    clientId: 'strand-e2e-consumer',
    brokers: [args.brokers],
    connectionTimeout: 5000,
    requestTimeout: 10000,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
    logLevel: logLevel.ERROR,
  });
  const consumer = kafka.consumer({
    groupId: args.group,
    sessionTimeout: 10000,
    rebalanceTimeout: 10000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 200,
  });
  const records = [];
  let memberId = null;
  consumer.on(consumer.events.GROUP_JOIN, (e) => { memberId = e.payload.memberId; });
  let finish;
  const done = new Promise((resolve) => { finish = resolve; });
  const timer = setTimeout(() => finish(false), args.timeout);

  await consumer.connect();
  await consumer.subscribe({ topic: args.topic, fromBeginning: true });
  await consumer.run({
    autoCommit: true,
    autoCommitInterval: 200,
    eachMessage: async ({ partition, message }) => {
      records.push([partition, Number(message.offset), message.value.toString()]);
      if (records.length >= args.count) finish(true);
    },
  });
  const ok = await done;
  clearTimeout(timer);
  await consumer.commitOffsets([]).catch(() => {});
  await consumer.disconnect();
  process.stdout.write(JSON.stringify({ records, memberId }) + '\n');
  if (!ok) {
    process.stderr.write(`read ${records.length} of ${args.count} records in ${args.timeout} ms\n`);
    process.exit(1);
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
