// kafkajs 2.2.4 admin operations against a broker; prints one JSON document on stdout.
//
//   node admin_ops.mjs HOST:PORT        topic admin steps
//   node admin_ops.mjs HOST:PORT acl    ACL steps (createAcls, describeAcls, deleteAcls)
//   node admin_ops.mjs HOST:PORT reassign JSON
//                                       alterPartitionReassignments with JSON's topics
//                                       ([{topic, partitionAssignment: [{partition, replicas}]}]),
//                                       then listPartitionReassignments of every partition
//
// kafkajs is loaded from tests/js/node_modules (installed by `npm ci` in tests/js), found relative
// to this script, or from $KAFFA_JS_DIR when set. Every step's result (or error) is recorded, so
// that the Python test can assert on each; the script exits 0 unless it cannot run at all.
import { createRequire } from 'node:module'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const jsDir = process.env.KAFFA_JS_DIR ? resolve(process.env.KAFFA_JS_DIR) : resolve(here, '../../js')
if (!existsSync(join(jsDir, 'node_modules', 'kafkajs'))) {
  console.error(`kafkajs is not installed: ${join(jsDir, 'node_modules', 'kafkajs')} is missing; run \`npm ci\` in ${jsDir}`)
  process.exit(3)
}
const require = createRequire(join(jsDir, 'package.json'))
const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes,
        ResourcePatternTypes } = require('kafkajs')

const broker = process.argv[2]
if (!broker) {
  console.error('usage: node admin_ops.mjs HOST:PORT')
  process.exit(2)
}

const kafka = new Kafka({
  clientId: 'kaffa-systest-kafkajs',
  brokers: [broker],
  logLevel: process.env.KAFFA_TEST_DEBUG ? logLevel.DEBUG : logLevel.NOTHING,
  // stdout carries the JSON result: logs go to stderr
  logCreator: () => ({ namespace, level, label, log }) => {
    const { message, ...extra } = log
    process.stderr.write(`[${label}] ${namespace}: ${message} ${JSON.stringify(extra)}\n`)
  },
  retry: { retries: 2 },
  connectionTimeout: 30000,
  requestTimeout: 30000,
})
const admin = kafka.admin()
const results = {}

function describeError(e) {
  return { name: e.name, type: e.type ?? null, code: e.code ?? null, message: e.message,
           errors: (e.errors ?? []).map((x) => ({ name: x.name, type: x.type ?? null, code: x.code ?? null })) }
}

async function step(name, fn) {
  try {
    results[name] = { ok: true, value: await fn() }
  } catch (e) {
    results[name] = { ok: false, error: describeError(e) }
  }
}

const summarize = (md) => md.topics.map((t) => ({
  name: t.name,
  partitions: t.partitions.map((p) => ({ id: p.partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr, error: p.partitionErrorCode }))
    .sort((a, b) => a.id - b.id),
}))

async function aclSteps() {
  const R = AclResourceTypes, O = AclOperationTypes, P = AclPermissionTypes, T = ResourcePatternTypes
  const read = { resourceType: R.TOPIC, resourceName: 'kjs-acl', resourcePatternType: T.LITERAL,
                 principal: 'User:alice', host: '*', operation: O.READ, permissionType: P.ALLOW }
  const deny = { resourceType: R.GROUP, resourceName: 'kjs-', resourcePatternType: T.PREFIXED,
                 principal: 'User:bob', host: '*', operation: O.ALL, permissionType: P.DENY }
  const any = { resourceType: R.ANY, resourcePatternType: T.ANY, operation: O.ANY, permissionType: P.ANY }
  await step('acl_create', () => admin.createAcls({ acl: [read, deny] }))
  await step('acl_describe', () => admin.describeAcls(any))
  await step('acl_describe_match', () => admin.describeAcls(
    { ...any, resourceType: R.GROUP, resourceName: 'kjs-x', resourcePatternType: T.MATCH }))
  await step('acl_delete', () => admin.deleteAcls({ filters: [{ ...any, principal: 'User:bob' }] }))
  await step('acl_describe_after', () => admin.describeAcls(any))
}

try {
  await step('connect', () => admin.connect().then(() => null))
  if (process.argv[3] === 'acl') {
    await aclSteps()
  } else if (process.argv[3] === 'reassign') {
    const topics = JSON.parse(process.argv[4])
    await step('alter', () => admin.alterPartitionReassignments({ topics, timeout: 30000 }).then(() => null))
    await step('list', () => admin.listPartitionReassignments({ timeout: 30000 }))
  } else {
    await step('create', () => admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: 'kjs-three', numPartitions: 3, replicationFactor: 1 },
        { topic: 'kjs-config', numPartitions: 1, replicationFactor: 1,
          configEntries: [{ name: 'retention.ms', value: '3600000' }] },
      ],
    }))
    await step('create_existing', () => admin.createTopics({ topics: [{ topic: 'kjs-three', numPartitions: 1 }] }))
    await step('create_bad_rf', () => admin.createTopics({ topics: [{ topic: 'kjs-rf', numPartitions: 1, replicationFactor: 3 }] }))
    await step('create_validate_only', () => admin.createTopics({ validateOnly: true, waitForLeaders: false, topics: [{ topic: 'kjs-dry', numPartitions: 2 }] }))
    await step('list', () => admin.listTopics().then((l) => l.sort()))
    await step('metadata', () => admin.fetchTopicMetadata({ topics: ['kjs-three', 'kjs-config'] }).then(summarize))
    await step('cluster', () => admin.describeCluster())
    await step('delete', () => admin.deleteTopics({ topics: ['kjs-three'] }).then(() => null))
    await step('list_after_delete', () => admin.listTopics().then((l) => l.sort()))
    await step('delete_unknown', () => admin.deleteTopics({ topics: ['kjs-never'] }).then(() => null))
  }
} finally {
  await admin.disconnect().catch(() => {})
}
process.stdout.write(JSON.stringify(results) + '\n')
