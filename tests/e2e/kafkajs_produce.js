'use strict';
// Produces keyed records with kafkajs, the way a Node.js application would,
// and prints what the broker acknowledged as one JSON line on stdout.
//
//   node kafkajs_produce.js --brokers HOST:PORT --topic T --count N
//        [--keys K] [--batch B] [--compression gzip] [--partitions P]
//
// Record i has key "key-<i % K>", value "kafkajs record <i>" and a header
// seq=<i>; --partitions creates the topic first through the admin API.
// Exits 0 only when every record was acknowledged.

const { Kafka, CompressionTypes, logLevel } = require('kafkajs');

function parseArgs(argv) {
  const args = { keys: 10, batch: 50, compression: 'none', partitions: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (i + 1 >= argv.length) throw new Error(`missing value for --${name}`);
    args[name] = argv[i + 1];
  }
  for (const required of ['brokers', 'topic', 'count']) {
    if (!args[required]) throw new Error(`--${required} is required`);
  }
  for (const numeric of ['count', 'keys', 'batch', 'partitions']) args[numeric] = Number(args[numeric]);
  return args;
}

const codecs = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP };

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!(args.compression in codecs)) throw new Error(`unsupported compression ${args.compression}`);
  const kafka = new Kafka({
    clientId: 'strand-e2e',
    brokers: [args.brokers],
    connectionTimeout: 5000,
    requestTimeout: 10000,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
    logLevel: logLevel.ERROR,
  });

  if (args.partitions > 0) {
    const admin = kafka.admin();
    await admin.connect();
    const created = await admin.createTopics({
      topics: [{ topic: args.topic, numPartitions: args.partitions }],
      waitForLeaders: true,
      timeout: 10000,
    });
    await admin.disconnect();
    if (!created) throw new Error(`topic ${args.topic} already existed`);
  }

  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  const acknowledged = [];
  try {
    for (let start = 0; start < args.count; start += args.batch) {
      const messages = [];
      for (let i = start; i < Math.min(start + args.batch, args.count); i++) {
        messages.push({ key: `key-${i % args.keys}`, value: `kafkajs record ${i}`, headers: { seq: String(i) } });
      }
      const results = await producer.send({
        topic: args.topic,
        acks: -1,
        timeout: 10000,
        compression: codecs[args.compression],
        messages,
      });
      for (const r of results) {
        if (r.errorCode !== 0) throw new Error(`partition ${r.partition}: error ${r.errorCode}`);
        acknowledged.push({ partition: r.partition, baseOffset: Number(r.baseOffset) });
      }
    }
  } finally {
    await producer.disconnect();
  }
  process.stdout.write(JSON.stringify(acknowledged) + '\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`kafkajs_produce: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  },
);
