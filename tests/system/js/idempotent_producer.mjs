// kafkajs 2.2.4 idempotent producer for the exactly-once system test.
//
//   node idempotent_producer.mjs HOST:PORT TOPIC COUNT PER_SEND
//
// Sends the decimal numbers 0..COUNT-1 as values to partition 0 of TOPIC, PER_SEND per
// producer.send() (acks=-1), one send at a time, with `idempotent: true` (kafkajs then keeps one
// request in flight and retries a failed send with the same sequence numbers). Prints
// "acked N" after each acknowledged send, "done" at the end, or "error <json>" and exits 1.
// A failed send is never repeated by this script: that would give the records new sequence
// numbers and hide a duplicate.
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

const [broker, topic, countArg, perSendArg] = process.argv.slice(2)
const count = Number(countArg)
const perSend = Number(perSendArg)

const kafka = new Kafka({
  clientId: 'kaffa-systest-idempotent',
  brokers: [broker],
  logLevel: process.env.KAFFA_TEST_DEBUG ? logLevel.DEBUG : logLevel.NOTHING,
  // The broker is killed and restarted under the producer: retry long enough to outlive that.
  retry: { retries: 60, initialRetryTime: 100, maxRetryTime: 1000 },
  connectionTimeout: 5000,
  requestTimeout: 10000,
})

const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
try {
  await producer.connect()
  for (let next = 0; next < count; next += perSend) {
    const messages = []
    for (let i = next; i < Math.min(count, next + perSend); i++) messages.push({ partition: 0, value: String(i) })
    await producer.send({ topic, acks: -1, messages })
    console.log(`acked ${next + messages.length}`)
  }
  await producer.disconnect()
  console.log('done')
} catch (e) {
  console.log(`error ${JSON.stringify({ name: e.name, type: e.type ?? null, message: e.message })}`)
  process.exit(1)
}
