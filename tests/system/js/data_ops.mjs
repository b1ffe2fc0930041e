// kafkajs 2.2.4 data-path operations for the system tests; prints one JSON document on stdout.
//
//   node data_ops.mjs REQUEST.json
//
// REQUEST.json is one of
//   {"op": "produce", "broker": "HOST:PORT", "topic": T, "codec": "none"|"gzip",
//    "records": [{"partition": P, "key": B64|null, "value": B64|null, "headers": [[NAME, B64], ...]}]}
//     -> {"ok": true, "metadata": [{"partition", "errorCode", "baseOffset"}]}
//     All records go in one producer.send() with acks=-1 (one batch per partition).
//     kafkajs only has gzip built in (snappy, lz4 and zstd need codec packages): none and gzip.
//   {"op": "fetch", "broker": "HOST:PORT", "topics": [{"topic": T, "partitions": [P, ...]}]}
//     -> {"ok": true, "partitions": {"T/P": {"highWatermark", "records": [{offset, key, value,
//        headers: {NAME: B64 | [B64, ...]}}]}}}
//     Reads every partition from offset 0 to its high watermark with kafkajs's own Fetch
//     request (the broker object of its cluster: the consumer needs group APIs, the broker-level
//     fetch does not), decoding with kafkajs's decoder.
//   {"op": "offsets", "broker": "HOST:PORT", "topic": T, "timestamp": MS}
//     -> {"ok": true, "latest": [{partition, offset, high, low}], "byTimestamp": [{partition, offset}]}
// On failure: {"ok": false, "error": {...}} and exit code 0 (the Python side asserts).
import { createRequire } from 'node:module'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const jsDir = process.env.KAFFA_JS_DIR ? resolve(process.env.KAFFA_JS_DIR) : resolve(here, '../../js')
if (!existsSync(join(jsDir, 'node_modules', 'kafkajs'))) {
  console.error(`kafkajs is not installed: ${join(jsDir, 'node_modules', 'kafkajs')} is missing; run \`npm ci\` in ${jsDir}`)
  process.exit(3)
}
const require = createRequire(join(jsDir, 'package.json'))
const { Kafka, logLevel, CompressionTypes } = require('kafkajs')

const req = JSON.parse(readFileSync(process.argv[2], 'utf8'))

function tlsOptions(t) {
  const read = (p) => (p ? readFileSync(p) : undefined)
  return { ca: [read(t.ca)], cert: read(t.cert), key: read(t.key), rejectUnauthorized: true }
}

function saslOptions(sasl) {
  if (sasl.mechanism !== 'oauthbearer') return sasl
  return { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: sasl.token }) }
}

const kafka = new Kafka({
  clientId: 'kaffa-systest-kafkajs-data',
  brokers: [req.broker],
  logLevel: process.env.KAFFA_TEST_DEBUG ? logLevel.DEBUG : logLevel.NOTHING,
  logCreator: () => ({ namespace, label, log }) => {
    const { message, ...extra } = log
    process.stderr.write(`[${label}] ${namespace}: ${message} ${JSON.stringify(extra)}\n`)
  },
  retry: { retries: 2 },
  // Optional {"mechanism": "plain", "username", "password"} for a SASL_PLAINTEXT listener, or
  // {"mechanism": "oauthbearer", "token"}: the token given by kafkajs's oauthBearerProvider.
  ...(req.sasl ? { sasl: saslOptions(req.sasl) } : {}),
  // Optional {"ca": path, "cert": path, "key": path} (PEM files; cert/key for mutual TLS) for a
  // TLS listener.
  ...(req.ssl ? { ssl: tlsOptions(req.ssl) } : {}),
  connectionTimeout: 30000,
  requestTimeout: 30000,
})

const b64 = (buf) => (buf === null || buf === undefined ? null : Buffer.from(buf).toString('base64'))
const unb64 = (s) => (s === null ? null : Buffer.from(s, 'base64'))

function describeError(e) {
  return { name: e.name, type: e.type ?? null, code: e.code ?? null, message: e.message,
           stack: e.stack }
}

async function produce() {
  const codec = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP }[req.codec]
  if (codec === undefined) throw new Error(`codec ${req.codec} is not built into kafkajs`)
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  try {
    const messages = req.records.map((r) => {
      // kafkajs headers are an object; repeated names become an array (kept in order).
      const headers = {}
      for (const [name, value] of r.headers) {
        const v = unb64(value)
        if (!(name in headers)) headers[name] = v
        else if (Array.isArray(headers[name])) headers[name].push(v)
        else headers[name] = [headers[name], v]
      }
      return { partition: r.partition, key: unb64(r.key), value: unb64(r.value), headers }
    })
    const metadata = await producer.send({ topic: req.topic, acks: -1, compression: codec, messages })
    return { metadata: metadata.map((m) => ({ partition: m.partition, errorCode: m.errorCode, baseOffset: m.baseOffset })) }
  } finally {
    await producer.disconnect()
  }
}

function privateCluster() {
  const sym = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster')
  return kafka[sym]({ allowAutoTopicCreation: false })
}

async function fetchAll() {
  const cluster = privateCluster()
  await cluster.connect()
  try {
    const out = {}
    for (const { topic } of req.topics) await cluster.addTargetTopic(topic)
    await cluster.refreshMetadata()
    for (const { topic, partitions } of req.topics) {
      for (const partition of partitions) {
        const md = cluster.findTopicPartitionMetadata(topic).find((p) => p.partitionId === partition)
        const broker = await cluster.findBroker({ nodeId: md.leader })
        let offset = 0n
        let hw = null
        const records = []
        for (let round = 0; round < 10000; round++) {
          const resp = await broker.fetch({
            maxWaitTime: 0, minBytes: 0, maxBytes: 16 << 20,
            topics: [{ topic, partitions: [{ partition, fetchOffset: offset.toString(), maxBytes: 8 << 20 }] }],
          })
          const p = resp.responses.find((t) => t.topicName === topic).partitions.find((x) => x.partition === partition)
          if (p.errorCode !== 0) throw new Error(`fetch ${topic}/${partition} at ${offset}: error ${p.errorCode}`)
          hw = BigInt(p.highWatermark)
          let progressed = false
          for (const m of p.messages) {
            if (BigInt(m.offset) < offset || m.isControlRecord) continue
            const headers = {}
            for (const [k, v] of Object.entries(m.headers)) headers[k] = Array.isArray(v) ? v.map(b64) : b64(v)
            records.push({ offset: Number(m.offset), key: b64(m.key), value: b64(m.value), headers })
            offset = BigInt(m.offset) + 1n
            progressed = true
          }
          if (offset >= hw) break
          if (!progressed) throw new Error(`fetch ${topic}/${partition} at ${offset}: no records below high watermark ${hw}`)
        }
        out[`${topic}/${partition}`] = { highWatermark: Number(hw), records }
      }
    }
    return { partitions: out }
  } finally {
    await cluster.disconnect()
  }
}

async function offsets() {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const latest = await admin.fetchTopicOffsets(req.topic)
    const byTimestamp = await admin.fetchTopicOffsetsByTimestamp(req.topic, req.timestamp)
    return { latest, byTimestamp }
  } finally {
    await admin.disconnect()
  }
}

let result
try {
  const ops = { produce, fetch: fetchAll, offsets }
  if (!(req.op in ops)) throw new Error(`unknown op ${req.op}`)
  result = { ok: true, ...(await ops[req.op]()) }
} catch (e) {
  result = { ok: false, error: describeError(e) }
}
process.stdout.write(JSON.stringify(result) + '\n')
