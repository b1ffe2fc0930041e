// One kafkajs 2.2.4 consumer-group member for the group system tests.
//
//   node group_member.mjs HOST:PORT GROUP TOPIC CLIENT_ID SESSION_TIMEOUT_MS
//
// Prints the same event lines as group_member.py (one per line):
//   READY | A <p,...> (assigned, after `V` of the previous assignment: kafkajs rebalances eagerly)
//   | V <p,...> | R <p> <offset> | C <p>:<next offset>,... (COMMIT_OFFSETS event) | X <text> | BYE
// consumer.run with eachMessage; offsets auto-committed every 200 ms. A line `close` on stdin (or
// EOF) disconnects the consumer (commit + LeaveGroup) and exits 0.
import { createRequire } from 'node:module'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const jsDir = process.env.KAFFA_JS_DIR ? resolve(process.env.KAFFA_JS_DIR) : resolve(here, '../../js')
if (!existsSync(join(jsDir, 'node_modules', 'kafkajs'))) {
  console.error(`kafkajs is not installed in ${jsDir}; run \`npm ci\` there`)
  process.exit(3)
}
const require = createRequire(join(jsDir, 'package.json'))
const { Kafka, logLevel } = require('kafkajs')

const [broker, groupId, topic, clientId, sessionMs] = process.argv.slice(2)
const out = (line) => process.stdout.write(line + '\n')

const kafka = new Kafka({
  clientId,
  brokers: [broker],
  logLevel: process.env.KAFFA_TEST_DEBUG ? logLevel.DEBUG : logLevel.ERROR,
  logCreator: () => ({ namespace, label, log }) => {
    const { message, ...extra } = log
    process.stderr.write(`[${label}] ${namespace}: ${message} ${JSON.stringify(extra)}\n`)
  },
  retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
  connectionTimeout: 10000,
  requestTimeout: 30000,
})

const session = Number(sessionMs || 6000)
const consumer = kafka.consumer({
  groupId,
  sessionTimeout: session,
  heartbeatInterval: Math.max(100, Math.floor(session / 4)),
  rebalanceTimeout: 20000,
  maxWaitTimeInMs: 200,
})

let current = []
consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
  const parts = (payload.memberAssignment[topic] || []).slice().sort((a, b) => a - b)
  if (current.length) out(`V ${current.join(',')}`)
  current = parts
  out(`A ${parts.join(',')}`)
})
consumer.on(consumer.events.COMMIT_OFFSETS, ({ payload }) => {
  const items = []
  for (const t of payload.topics) {
    if (t.topic !== topic) continue
    for (const p of t.partitions) items.push(`${p.partition}:${p.offset}`)
  }
  if (items.length) out(`C ${items.join(',')}`)
})
consumer.on(consumer.events.CRASH, ({ payload }) => out(`X crash ${payload.error && payload.error.message}`))

let closing = false
async function close () {
  if (closing) return
  closing = true
  try {
    await consumer.disconnect()
  } catch (e) {
    out(`X disconnect ${e.message}`)
  }
  out('BYE')
  process.exit(0)
}

process.stdin.setEncoding('utf8')
let buf = ''
process.stdin.on('data', (d) => {
  buf += d
  if (buf.split('\n').some((l) => l.trim() === 'close')) close()
})
process.stdin.on('end', close)

await consumer.connect()
await consumer.subscribe({ topic, fromBeginning: true })
out('READY')
await consumer.run({
  autoCommitInterval: 200,
  eachMessage: async ({ partition, message }) => {
    out(`R ${partition} ${message.offset}`)
  },
})
