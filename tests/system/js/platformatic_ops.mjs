// @platformatic/kafka 1.35 operations for test_platformatic.py; prints one JSON document on stdout.
//
//   node platformatic_ops.mjs REQUEST.json
//
// REQUEST.json is one of (keys, values and header values are base64, or null):
//   {"op": "produce", "broker": "HOST:PORT", "topic": T, "codec": "none"|"gzip"|"snappy"|"lz4",
//    "idempotent": bool, "records": [{"partition", "key", "value", "headers": [[NAME, B64], ...]}]}
//     -> {"ok": true, "offsets": [{partition, offset}], "producerId": ID|null}
//     One producer.send() with acks=-1.
//   {"op": "consume", "broker", "group", "topics": [T, ...], "count": N, "mode": "earliest"|"committed",
//    "isolation": "read_committed"|"read_uncommitted"}
//     -> {"ok": true, "records": [{topic, partition, offset, key, value, headers}], "committed": {...}}
//     One group member reads N records, commits each record's offset + 1 (autocommit off), leaves.
//   {"op": "pair", "broker", "group", "topic", "partitions": P, "count": N}
//     -> {"ok": true, "members": [{generationId, "assigned": ["T/P", ...], "records": ["T/P/offset", ...]}, ...]}
//     Two members join one group; once both are in one generation, N records are produced round
//     robin over the P partitions and the members read them between them.
//   {"op": "kip848", "broker", "group", "topic", "partitions": P, "count": N, "assignor": NAME|null}
//     -> {"ok": true, "alone": [...], "shared": [[...], [...]], "reads": [["T/P/offset", ...], [...]],
//         (what each read while the two shared the topic)
//         "after": [...], "tail": ["T/P/offset", ...], "errors": [...]}
//     The consumer group protocol (KIP-848, groupProtocol 'consumer'): member A joins and gets
//     every partition ("alone"); member B joins and the two end up with disjoint halves
//     ("shared", as each member's assignment, "T/P" sorted); N records are produced round robin
//     and read between them (autocommit on); B leaves and A gets everything back ("after"); N more
//     records are produced and A reads them ("tail"). "errors" collects the members' errors.
//   {"op": "txn", "broker", "topic", "transactionalId", "commit": [RECORD...], "abort": [RECORD...]}
//     -> {"ok": true, "producerId"}  Two transactions: the first committed, the second aborted.
//   {"op": "eos", "broker", "group", "from": T1, "to": T2, "transactionalId", "count": N}
//     -> {"ok": true, "copied": N}  Reads N records of T1 in the group and, in one transaction,
//     writes them to T2 and commits the group's offsets with them (TxnOffsetCommit).
//   {"op": "admin", "broker", "topic", "group"} -> {"ok": true, "steps": {NAME: RESULT | {"error"}}}
//     The admin client's calls on a topic and a group (see admin() below).
//   {"op": "acls", "broker", "create": [ACL], "filter": ACL_FILTER}
//     -> {"ok": true, "described": [ACL], "deleted": [ACL], "after": [ACL]}
//     createAcls, describeAcls with the filter, deleteAcls with it, describeAcls again (ACLs as
//     the client's objects: resourceType, resourceName, resourcePatternType, principal, host,
//     operation, permissionType, numbers as in Kafka's protocol).
// Every request may carry "sasl": {"mechanism": "PLAIN"|"SCRAM-SHA-256"|"SCRAM-SHA-512",
// "username", "password"} and "tls": {"ca": PEM path} for a SASL or TLS listener.
// On failure: {"ok": false, "error": {...}} and exit code 0 (the Python side asserts).
import { createRequire } from 'node:module'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const jsDir = process.env.KAFFA_JS_DIR ? resolve(process.env.KAFFA_JS_DIR) : resolve(here, '../../js')
const pkgDir = join(jsDir, 'node_modules', '@platformatic', 'kafka')
if (!existsSync(pkgDir)) {
  console.error(`@platformatic/kafka is not installed: ${pkgDir} is missing; run \`npm ci\` in ${jsDir}`)
  process.exit(3)
}
const require = createRequire(join(jsDir, 'package.json'))
const kafka = await import(require.resolve('@platformatic/kafka'))
const { Admin, Consumer, Producer } = kafka

const req = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const common = {
  clientId: 'kaffa-systest-platformatic',
  bootstrapBrokers: [req.broker],
  retries: 3,
  ...(req.sasl ? { sasl: req.sasl } : {}),
  ...(req.tls ? { tls: { ca: [readFileSync(req.tls.ca)], rejectUnauthorized: true } } : {})
}

const b64 = (buf) => (buf === null || buf === undefined ? null : Buffer.from(buf).toString('base64'))
const unb64 = (s) => (s === null || s === undefined ? null : Buffer.from(s, 'base64'))
// JSON for bigint (offsets, producer ids) and Map (headers, groups).
const plain = (v) => v === undefined ? null : JSON.parse(JSON.stringify(v, (k, x) => {
  if (typeof x === 'bigint') return x.toString()
  if (x instanceof Map) return Object.fromEntries(x)
  if (Buffer.isBuffer(x) || (x && x.type === 'Buffer' && Array.isArray(x.data))) return b64(Buffer.from(x.data ?? x))
  return x
}))

function message (topic, r) {
  return {
    topic,
    partition: r.partition,
    key: unb64(r.key),
    value: unb64(r.value),
    headers: new Map((r.headers ?? []).map(([n, v]) => [Buffer.from(n), unb64(v)]))
  }
}

function record (m) {
  return {
    topic: m.topic,
    partition: m.partition,
    offset: Number(m.offset),
    key: b64(m.key),
    value: b64(m.value),
    headers: [...(m.headers ?? new Map()).entries()].map(([n, v]) => [Buffer.from(n).toString(), b64(v)])
  }
}

// Reads `count` messages from `stream`, calling `each` on every one.
async function take (stream, count, each) {
  if (count === 0) return
  let n = 0
  for await (const m of stream) {
    await each(m)
    if (++n >= count) return
  }
}

async function produce () {
  const producer = new Producer({
    ...common,
    idempotent: Boolean(req.idempotent),
    ...(req.codec && req.codec !== 'none' ? { compression: req.codec } : {})
  })
  try {
    const r = await producer.send({ acks: -1, messages: req.records.map((x) => message(req.topic, x)) })
    return { ok: true, offsets: plain(r.offsets), producerId: producer.producerId === undefined ? null : plain(producer.producerId) }
  } finally {
    await producer.close()
  }
}

async function consume () {
  const consumer = new Consumer({ ...common, groupId: req.group, sessionTimeout: 10000, heartbeatInterval: 500 })
  const records = []
  try {
    const stream = await consumer.consume({
      topics: req.topics,
      mode: req.mode ?? 'earliest',
      autocommit: false,
      isolationLevel: req.isolation === 'read_committed' ? 1 : 0,
      maxWaitTime: 200
    })
    await take(stream, req.count, async (m) => {
      records.push(record(m))
      await m.commit()
    })
    const committed = await consumer.listCommittedOffsets({ topics: req.topics.map((topic) => ({ topic, partitions: partitionsOf(records, topic) })) })
    await stream.close()
    return { ok: true, records, committed: plain(committed) }
  } finally {
    await consumer.close(true)
  }
}

function partitionsOf (records, topic) {
  return [...new Set(records.filter((r) => r.topic === topic).map((r) => r.partition))]
}

async function pair () {
  const members = [0, 1].map(() => new Consumer({ ...common, groupId: req.group, sessionTimeout: 10000, heartbeatInterval: 300 }))
  const joins = members.map(() => null) // each member's latest join: {generationId, assigned}
  let balanced
  const bothJoined = new Promise((resolve) => { balanced = resolve })
  const seen = members.map(() => [])
  let total = 0
  let done
  const allRead = new Promise((resolve) => { done = resolve })
  try {
    const streams = []
    for (const [i, c] of members.entries()) {
      c.on('consumer:group:join', (e) => {
        joins[i] = { generationId: e.generationId, assigned: (e.assignments ?? []).flatMap((a) => a.partitions.map((p) => `${a.topic}/${p}`)).sort() }
        if (joins.every((j) => j && j.generationId === joins[0].generationId)) balanced()
      })
      const s = await c.consume({ topics: [req.topic], mode: 'earliest', autocommit: true, maxWaitTime: 200 })
      s.on('data', (m) => {
        seen[i].push(`${m.topic}/${m.partition}/${m.offset}`)
        if (++total === req.count) done()
      })
      streams.push(s)
    }
    await bothJoined // one generation with both members: only now is there data to read
    const producer = new Producer(common)
    try {
      const messages = []
      for (let k = 0; k < req.count; k++) messages.push({ topic: req.topic, partition: k % req.partitions, value: Buffer.from(`p${k}`) })
      await producer.send({ acks: -1, messages })
    } finally {
      await producer.close()
    }
    await allRead
    for (const s of streams) await s.close()
    return { ok: true, members: joins.map((j, i) => ({ generationId: j.generationId, assigned: j.assigned, records: seen[i] })) }
  } finally {
    for (const c of members) await c.close(true)
  }
}

// Resolves once cond() holds, checked after every heartbeat answer of `members`.
function whenAssigned (members, cond) {
  return new Promise((resolve) => {
    const check = () => {
      if (cond()) {
        for (const c of members) c.off('consumer:heartbeat:end', check)
        resolve()
      }
    }
    for (const c of members) c.on('consumer:heartbeat:end', check)
    check()
  })
}

async function kip848 () {
  const options = {
    ...common,
    groupId: req.group,
    groupProtocol: 'consumer',
    ...(req.assignor ? { groupRemoteAssignor: req.assignor } : {})
  }
  const members = [new Consumer(options), new Consumer(options)]
  const owned = (c) => (c.assignments ?? []).flatMap((a) => a.partitions.map((p) => `${a.topic}/${p}`)).sort()
  const errors = []
  const reads = [[], []]
  const streams = []
  let want = 0
  let wake = () => {}
  const consume = async (i) => {
    members[i].on('error', (e) => errors.push(String(e)))
    const s = await members[i].consume({ topics: [req.topic], mode: 'earliest', autocommit: true, maxWaitTime: 200 })
    s.on('error', (e) => errors.push(String(e)))
    s.on('data', (m) => {
      reads[i].push(`${m.topic}/${m.partition}/${m.offset}`)
      wake()
    })
    streams[i] = s
  }
  const readAll = (i) => new Promise((resolve) => {
    wake = () => { if (reads[0].length + reads[1].length >= want) resolve() }
    wake()
  })
  const produce = async (from) => {
    const producer = new Producer(common)
    try {
      const messages = []
      for (let k = from; k < from + req.count; k++) messages.push({ topic: req.topic, partition: k % req.partitions, value: Buffer.from(`p${k}`) })
      await producer.send({ acks: -1, messages })
    } finally {
      await producer.close()
    }
  }
  try {
    await consume(0)
    await whenAssigned(members, () => owned(members[0]).length === req.partitions)
    const alone = owned(members[0])
    await consume(1)
    await whenAssigned(members, () => {
      const a = owned(members[0])
      const b = owned(members[1])
      return a.length > 0 && b.length > 0 && a.length + b.length === req.partitions && !a.some((x) => b.includes(x))
    })
    const shared = [owned(members[0]), owned(members[1])]
    want = req.count
    await produce(0)
    await readAll()
    const shareReads = [reads[0].slice(), reads[1].slice()]
    await streams[1].close()
    await members[1].close(true)
    await whenAssigned([members[0]], () => owned(members[0]).length === req.partitions)
    const after = owned(members[0])
    const before = reads[0].length
    want = reads[0].length + reads[1].length + req.count
    await produce(req.count)
    await readAll()
    const tail = reads[0].slice(before)
    await streams[0].close()
    return { ok: true, alone, shared, reads: shareReads, after, tail, errors }
  } finally {
    for (const c of members) await c.close(true)
  }
}

async function txn () {
  const producer = new Producer({ ...common, idempotent: true, transactionalId: req.transactionalId })
  try {
    const first = await producer.beginTransaction()
    await first.send({ messages: req.commit.map((x) => message(req.topic, x)) })
    await first.commit()
    const second = await producer.beginTransaction()
    await second.send({ messages: req.abort.map((x) => message(req.topic, x)) })
    await second.abort()
    return { ok: true, producerId: plain(producer.producerId ?? null) }
  } finally {
    await producer.close()
  }
}

async function eos () {
  const consumer = new Consumer({ ...common, groupId: req.group, sessionTimeout: 10000, heartbeatInterval: 500 })
  const producer = new Producer({ ...common, idempotent: true, transactionalId: req.transactionalId })
  try {
    const stream = await consumer.consume({ topics: [req.from], mode: 'earliest', autocommit: false, maxWaitTime: 200 })
    const t = await producer.beginTransaction()
    await t.addConsumer(consumer)
    let copied = 0
    await take(stream, req.count, async (m) => {
      await t.send({ messages: [{ topic: req.to, partition: m.partition, key: m.key, value: m.value }] })
      await t.addOffset(m)
      copied++
    })
    await t.commit()
    await stream.close()
    return { ok: true, copied }
  } finally {
    await producer.close()
    await consumer.close(true)
  }
}

// Each step runs even when an earlier one failed; its result or its error is reported.
async function admin () {
  const a = new Admin(common)
  const steps = {}
  const step = async (name, fn) => {
    try {
      steps[name] = plain(await fn())
    } catch (e) {
      steps[name] = { error: errorOf(e) }
    }
  }
  const topic = req.topic
  try {
    await step('createTopics', () => a.createTopics({ topics: [topic], partitions: 2, replicas: 1, configs: [{ name: 'retention.ms', value: '3600000' }] }))
    await step('listTopics', () => a.listTopics())
    await step('metadata', async () => {
      const m = await a.metadata({ topics: [topic] })
      const t = m.topics.get(topic)
      return { id: t.id, partitions: t.partitionsCount, leaders: t.partitions.map((p) => p.leader) }
    })
    await step('createPartitions', () => a.createPartitions({ topics: [{ name: topic, count: 3 }] }))
    await step('metadataAfter', async () => (await a.metadata({ topics: [topic], forceUpdate: true })).topics.get(topic).partitionsCount)
    await step('describeConfigs', async () => {
      const r = await a.describeConfigs({ resources: [{ resourceType: 2, resourceName: topic, configurationKeys: ['retention.ms', 'cleanup.policy'] }] })
      return Object.fromEntries(r[0].configs.map((c) => [c.name, c.value]))
    })
    await step('incrementalAlterConfigs', () => a.incrementalAlterConfigs({ resources: [{ resourceType: 2, resourceName: topic, configs: [{ name: 'retention.ms', configOperation: 0, value: '7200000' }] }] }))
    await step('alterConfigs', () => a.alterConfigs({ resources: [{ resourceType: 2, resourceName: topic, configs: [{ name: 'retention.ms', value: '5400000' }] }] }))
    await step('describeConfigsAfter', async () => {
      const r = await a.describeConfigs({ resources: [{ resourceType: 2, resourceName: topic, configurationKeys: ['retention.ms'] }] })
      return r[0].configs.map((c) => c.value)
    })
    await step('produce', async () => {
      const p = new Producer(common)
      try {
        const messages = []
        for (let i = 0; i < 6; i++) messages.push({ topic, partition: i % 3, value: Buffer.from(`v${i}`) })
        return (await p.send({ acks: -1, messages })).offsets
      } finally {
        await p.close()
      }
    })
    await step('listOffsets', async () => {
      const r = await a.listOffsets({ topics: [{ name: topic, partitions: [0, 1, 2].map((p) => ({ partitionIndex: p, timestamp: -1n })) }] })
      return r[0].partitions.map((p) => [p.partitionIndex, p.offset])
    })
    await step('deleteRecords', async () => {
      const r = await a.deleteRecords({ topics: [{ name: topic, partitions: [{ partition: 0, offset: 1n }] }] })
      return r[0].partitions.map((p) => [p.partition, p.lowWatermark])
    })
    await step('describeLogDirs', async () => {
      const r = await a.describeLogDirs({ topics: [{ name: topic, partitions: [0, 1, 2] }] })
      return r.map((b) => ({ broker: b.broker, topics: b.results.flatMap((d) => d.topics.map((t) => t.name)) }))
    })
    await step('alterConsumerGroupOffsets', () => a.alterConsumerGroupOffsets({ groupId: req.group, topics: [{ name: topic, partitionOffsets: [{ partition: 0, offset: 1n }, { partition: 1, offset: 2n }] }] }))
    await step('listConsumerGroupOffsets', async () => {
      const r = await a.listConsumerGroupOffsets({ groups: [req.group] })
      return r[0].topics.flatMap((t) => t.partitions.map((p) => [t.name, p.partitionIndex, p.committedOffset])).sort()
    })
    await step('listGroups', async () => [...(await a.listGroups()).keys()])
    await step('describeGroups', async () => {
      const g = (await a.describeGroups({ groups: [req.group] })).get(req.group)
      return { state: g.state, members: g.members.size }
    })
    await step('deleteConsumerGroupOffsets', () => a.deleteConsumerGroupOffsets({ groupId: req.group, topics: [{ name: topic, partitionIndexes: [1] }] }))
    await step('listConsumerGroupOffsetsAfter', async () => {
      const r = await a.listConsumerGroupOffsets({ groups: [req.group] })
      return r[0].topics.flatMap((t) => t.partitions.filter((p) => p.committedOffset >= 0n).map((p) => [t.name, p.partitionIndex, p.committedOffset])).sort()
    })
    await step('deleteGroups', () => a.deleteGroups({ groups: [req.group] }))
    await step('listGroupsAfter', async () => [...(await a.listGroups()).keys()])
    await step('describeClientQuotas', () => a.describeClientQuotas({ components: [{ entityType: 'client-id', matchType: 0, match: 'kaffa-q' }] }))
    await step('alterClientQuotas', () => a.alterClientQuotas({ entries: [{ entities: [{ entityType: 'client-id', entityName: 'kaffa-q' }], ops: [{ key: 'producer_byte_rate', value: 1048576, remove: false }] }] }))
    await step('describeClientQuotasAfter', async () => {
      const r = await a.describeClientQuotas({ components: [{ entityType: 'client-id', matchType: 0, match: 'kaffa-q' }] })
      return r.flatMap((e) => e.values.map((v) => [v.key, v.value]))
    })
    await step('deleteTopics', () => a.deleteTopics({ topics: [topic] }))
    await step('listTopicsAfter', () => a.listTopics())
  } finally {
    await a.close()
  }
  return { ok: true, steps }
}

// The client's errors nest (MultipleErrors > ResponseError > ProtocolError, and causes): all of
// it, down to what the tests look at.
async function acls () {
  const a = new Admin(common)
  try {
    await a.createAcls({ creations: req.create })
    const flat = (resources) => resources.flatMap((r) => r.acls.map((x) => ({
      resourceType: r.resourceType, resourceName: r.resourceName, resourcePatternType: r.resourcePatternType, ...x
    })))
    const described = flat(await a.describeAcls({ filter: req.filter }))
    const deleted = await a.deleteAcls({ filters: [req.filter] })
    const after = flat(await a.describeAcls({ filter: req.filter }))
    return { ok: true, described, deleted: plain(deleted), after }
  } finally {
    await a.close()
  }
}

function errorOf (e) {
  return {
    message: e.message,
    code: e.code,
    apiId: e.apiId,
    serverMessage: e.serverErrorMessage,
    errors: (e.errors ?? []).map(errorOf),
    ...(e.cause ? { cause: errorOf(e.cause) } : {})
  }
}

const ops = { produce, consume, pair, kip848, txn, eos, admin, acls }
let out
try {
  out = await ops[req.op]()
} catch (e) {
  out = { ok: false, error: errorOf(e) }
}
// Exit once the answer is flushed (a pipe takes it asynchronously): the clients' timers would
// keep the process alive.
process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0))
