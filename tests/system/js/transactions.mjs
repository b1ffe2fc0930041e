// kafkajs 2.2.4 transactions for the transactions system test.
//
//   node transactions.mjs HOST:PORT TOPIC GROUP
//
// With transactionalId "js-txn": sends "c0".."c4" in a committed transaction, "a0".."a4" in an
// aborted one, then "c5".."c9" with the offset 3 of TOPIC partition 0 for GROUP (sendOffsets) in
// a committed one. Then a consumer of GROUP (kafkajs' default isolation: read committed) reads
// TOPIC from the committed offset and prints one JSON line {"values": [...], "committed": "..."}
// with the values it read up to "c9" and the group's committed offset, or "error <json>" and
// exits 1.
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

const [broker, topic, group] = process.argv.slice(2)
const kafka = new Kafka({
  clientId: 'kaffa-systest-txn',
  brokers: [broker],
  logLevel: process.env.KAFFA_TEST_DEBUG ? logLevel.DEBUG : logLevel.NOTHING,
  retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
})

const values = (prefix, from, to) => {
  const out = []
  for (let i = from; i < to; i++) out.push({ partition: 0, value: `${prefix}${i}` })
  return out
}

try {
  const producer = kafka.producer({ transactionalId: 'js-txn', idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  let txn = await producer.transaction()
  await txn.send({ topic, messages: values('c', 0, 5) })
  await txn.commit()
  txn = await producer.transaction()
  await txn.send({ topic, messages: values('a', 0, 5) })
  await txn.abort()
  txn = await producer.transaction()
  await txn.send({ topic, messages: values('c', 5, 10) })
  await txn.sendOffsets({ consumerGroupId: group, topics: [{ topic, partitions: [{ partition: 0, offset: '3' }] }] })
  await txn.commit()
  await producer.disconnect()

  const admin = kafka.admin()
  await admin.connect()
  const [{ partitions }] = await admin.fetchOffsets({ groupId: group, topics: [topic] })
  const committed = partitions.find((p) => p.partition === 0).offset
  await admin.disconnect()

  // Read from the beginning (not the group's offset) so that the whole committed history shows.
  const consumer = kafka.consumer({ groupId: `${group}-reader`, readUncommitted: false })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const read = []
  await new Promise((resolveRun, rejectRun) => {
    const timer = setTimeout(() => rejectRun(new Error(`read ${JSON.stringify(read)} only`)), 30000)
    consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) read.push(m.value.toString())
        // "c9" is the last record: everything before it in the log was delivered by then.
        if (read.includes('c9')) {
          clearTimeout(timer)
          resolveRun()
        }
      },
    }).catch(rejectRun)
  })
  await consumer.disconnect()
  console.log(JSON.stringify({ values: read, committed }))
} catch (e) {
  console.log(`error ${JSON.stringify({ name: e.name, type: e.type ?? null, message: e.message })}`)
  process.exit(1)
}
