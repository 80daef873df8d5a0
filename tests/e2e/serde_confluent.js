'use strict';
// Confluent's own JavaScript serializers (@confluentinc/schemaregistry), as a
// Node.js application would use them, so the end-to-end tests can check that
// bytes written by Strand's serde library and by Confluent's agree.
//
//   node serde_confluent.js register    --registry URL --subject S --schema FILE
//        prints {"id": N}
//   node serde_confluent.js serialize   --registry URL --topic T [--key]
//        [--schema-id N]   one JSON document (Avro's JSON encoding) on stdin,
//                          the framed bytes on stdout
//   node serde_confluent.js deserialize --registry URL --topic T [--key]
//        framed bytes on stdin, the value in Avro's JSON encoding on stdout
//
// With --lines, serialize reads one JSON document per line and prints the
// framed bytes of each as a line of hex, and deserialize reads lines of hex
// and prints one JSON document per line (one process for many values).
//
// serialize uses the subject's latest version (use.latest.version, without
// auto-registration) unless --schema-id names the schema (use.schema.id):
// left to itself the JS serializer would derive a schema from the object.
// Subjects follow TopicNameStrategy. Unions are wrapped ({"string": "x"}),
// bytes and fixed are ISO-8859-1 strings: Avro's JSON encoding, which is what
// the strand-serde CLI reads and writes. Exit status 1 with the error on
// stderr when anything fails.

const fs = require('fs');
const avro = require('avsc');
const {
  SchemaRegistryClient,
  AvroSerializer,
  AvroDeserializer,
  SerdeType,
  SubjectNameStrategyType,
} = require('@confluentinc/schemaregistry');

function parseArgs(argv) {
  const args = { key: false, lines: false };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '');
    if (name === 'key' || name === 'lines') {
      args[name] = true;
      continue;
    }
    if (i + 1 >= argv.length) throw new Error(`missing value for --${name}`);
    args[name] = argv[++i];
  }
  if (!args.registry) throw new Error('--registry is required');
  return args;
}

function readStdin() {
  return fs.readFileSync(0);
}

function client(args) {
  return new SchemaRegistryClient({ baseURLs: [args.registry], maxRetries: 0 });
}

// Avro's JSON encoding needs wrapped unions on both sides. A fresh object
// each time: avsc keeps the named types it defines in the options it is given.
function avscOptions() {
  return { wrapUnions: true };
}

const types = new Map();
function typeOf(schema) {
  if (!types.has(schema)) types.set(schema, avro.Type.forSchema(JSON.parse(schema), avscOptions()));
  return types.get(schema);
}

function serdeConfig(extra) {
  return Object.assign({ subjectNameStrategyType: SubjectNameStrategyType.TOPIC }, avscOptions(), extra);
}

function subjectOf(args) {
  return `${args.topic}-${args.key ? 'key' : 'value'}`;
}

async function register(args) {
  const schema = fs.readFileSync(args.schema, 'utf8');
  const id = await client(args).register(args.subject, { schemaType: 'AVRO', schema }, false);
  process.stdout.write(JSON.stringify({ id }) + '\n');
}

async function serialize(args) {
  if (!args.topic) throw new Error('--topic is required');
  const sr = client(args);
  const subject = subjectOf(args);
  let conf;
  let info;
  if (args['schema-id'] !== undefined) {
    const id = Number(args['schema-id']);
    conf = serdeConfig({ autoRegisterSchemas: false, useSchemaId: id });
    info = await sr.getBySubjectAndId(subject, id);
  } else {
    conf = serdeConfig({ autoRegisterSchemas: false, useLatestVersion: true });
    info = await sr.getLatestSchemaMetadata(subject);
  }
  const type = typeOf(info.schema);
  const serializer = new AvroSerializer(sr, args.key ? SerdeType.KEY : SerdeType.VALUE, conf);
  const input = readStdin().toString('utf8');
  if (!args.lines) {
    process.stdout.write(await serializer.serialize(args.topic, type.fromString(input)));
    return;
  }
  const out = [];
  for (const line of input.split('\n').filter((l) => l.trim() !== '')) {
    out.push((await serializer.serialize(args.topic, type.fromString(line))).toString('hex'));
  }
  process.stdout.write(out.map((l) => l + '\n').join(''));
}

async function deserialize(args) {
  if (!args.topic) throw new Error('--topic is required');
  const sr = client(args);
  const deserializer = new AvroDeserializer(sr, args.key ? SerdeType.KEY : SerdeType.VALUE, serdeConfig({}));
  const input = readStdin();
  const inputs = args.lines
    ? input.toString('utf8').split('\n').filter((l) => l.trim() !== '').map((l) => Buffer.from(l.trim(), 'hex'))
    : [input];
  const out = [];
  for (const bytes of inputs) {
    if (bytes.length < 5 || bytes[0] !== 0) throw new Error('not magic-0 framed bytes');
    const info = await sr.getBySubjectAndId(subjectOf(args), bytes.readInt32BE(1));
    const value = await deserializer.deserialize(args.topic, bytes);
    const type = typeOf(info.schema);
    out.push(type.toString(value) + '\n');
  }
  process.stdout.write(out.join(''));
}

const commands = { register, serialize, deserialize };

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  if (!(command in commands)) throw new Error(`usage: serde_confluent.js ${Object.keys(commands).join('|')} ...`);
  await commands[command](parseArgs(rest));
}

main().catch((err) => {
  process.stderr.write(`serde_confluent.js: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
