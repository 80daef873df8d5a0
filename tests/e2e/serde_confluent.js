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
  const args = { key: false };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '');
    if (name === 'key') {
      args.key = true;
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

// Avro's JSON encoding needs wrapped unions on both sides.
const AVSC_OPTIONS = { wrapUnions: true };

function serdeConfig(extra) {
  return Object.assign({ subjectNameStrategyType: SubjectNameStrategyType.TOPIC }, AVSC_OPTIONS, extra);
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
  const type = avro.Type.forSchema(JSON.parse(info.schema), AVSC_OPTIONS);
  const value = type.fromString(readStdin().toString('utf8'));
  const serializer = new AvroSerializer(sr, args.key ? SerdeType.KEY : SerdeType.VALUE, conf);
  const bytes = await serializer.serialize(args.topic, value);
  process.stdout.write(bytes);
}

async function deserialize(args) {
  if (!args.topic) throw new Error('--topic is required');
  const sr = client(args);
  const bytes = readStdin();
  if (bytes.length < 5 || bytes[0] !== 0) throw new Error('not magic-0 framed bytes');
  const info = await sr.getBySubjectAndId(subjectOf(args), bytes.readInt32BE(1));
  const deserializer = new AvroDeserializer(sr, args.key ? SerdeType.KEY : SerdeType.VALUE, serdeConfig({}));
  const value = await deserializer.deserialize(args.topic, bytes);
  const type = avro.Type.forSchema(JSON.parse(info.schema), AVSC_OPTIONS);
  process.stdout.write(type.toString(value) + '\n');
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
