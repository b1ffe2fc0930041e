#!/usr/bin/env node
// Writes request bodies encoded by kafkajs's own protocol encoders as cross-implementation vectors.
//
// Usage: node kafkajs_vectors.js OUTDIR
//
// kafkajs is taken from tests/js/node_modules (run `npm ci` in tests/js first), or from the
// directory in the KAFFA_JS_DIR environment variable. For every kafkajs request encoder
// (src/protocol/requests/<api>/v<N>/request.js) whose API key has a schema file in schema/api/
// and whose version lies within that file's `versions` line, several parameter sets are encoded
// and each body is written to OUTDIR/kafkajs/<key>_<version>_request_<n>.bin. kafkajs has no
// response encoders, so there are requests only.
'use strict'

const fs = require('fs')
const path = require('path')

const SCHEMA_API_DIR = path.resolve(__dirname, '..', '..', 'schema', 'api')
const JS_DIR = path.resolve(process.env.KAFFA_JS_DIR || path.join(__dirname, '..', 'js'))

function die(msg) {
  process.stderr.write(`kafkajs_vectors.js: ${msg}\n`)
  process.exit(1)
}

let KAFKAJS
try {
  KAFKAJS = path.dirname(require.resolve('kafkajs/package.json', { paths: [JS_DIR] }))
} catch (e) {
  die(`kafkajs is not installed under ${JS_DIR}/node_modules; run "npm ci" in ${JS_DIR}`)
}
const kafkajsVersion = require(path.join(KAFKAJS, 'package.json')).version
const REQUESTS_DIR = path.join(KAFKAJS, 'src', 'protocol', 'requests')
const Encoder = require(path.join(KAFKAJS, 'src', 'protocol', 'encoder'))

// {apiKey: [min, max, firstFlexible]} from the `versions` and `flexible N+` lines of each
// schema/api/NN_name.ks (firstFlexible Infinity: never flexible).
function schemaVersions() {
  const out = new Map()
  for (const name of fs.readdirSync(SCHEMA_API_DIR).sort()) {
    const m = /^(\d+)_.*\.ks$/.exec(name)
    if (!m) continue
    const text = fs.readFileSync(path.join(SCHEMA_API_DIR, name), 'utf8')
    const line = text
      .split('\n')
      .map(l => l.replace(/#.*/, '').trim())
      .find(l => l.startsWith('versions'))
    const v = line && /^versions\s+(\d+)(?:-(\d+))?$/.exec(line)
    if (!v) die(`${name}: no versions line`)
    const flexible = /^flexible\s+(\d+)\+/m.exec(text)
    out.set(Number(m[1]), [Number(v[1]), Number(v[2] === undefined ? v[1] : v[2]),
                           flexible ? Number(flexible[1]) : Infinity])
  }
  return out
}

// Deterministic value source (an LCG), so every field gets a different, stable value.
class Values {
  constructor(seed) {
    this.state = (seed * 2654435761 + 12345) >>> 0
  }
  next() {
    this.state = (Math.imul(this.state, 1103515245) + 12345) & 0x7fffffff
    return this.state >>> 8
  }
  int32() {
    const r = this.next()
    return [-1, 0, 2147483647, -2147483648][r % 8] ?? (r % 1000003) * (r & 1 ? 1 : -1)
  }
  int16() {
    const r = this.next()
    return [-1, 0, 32767, -32768][r % 8] ?? (r % 30011) * (r & 1 ? 1 : -1)
  }
  int8() {
    const r = this.next()
    return (r % 256) - 128
  }
  // int64 as a decimal string (Long.fromValue accepts it), extremes included.
  int64() {
    const r = this.next()
    const fixed = ['-1', '0', '9223372036854775807', '-9223372036854775808'][r % 8]
    return fixed ?? String(BigInt(r) * 4294967311n * (r & 1 ? 1n : -1n))
  }
  bool() {
    return (this.next() & 1) === 1
  }
  string(allowEmpty) {
    const words = ['topic-a', 'grp.1', 'x', 'kaffa_ü', 'member-7f3c', 'é€😀', 'z'.repeat(40)]
    const r = this.next()
    if (allowEmpty && r % 4 === 0) return ''
    return words[r % words.length] + (r % 3 ? '' : String(r % 1000))
  }
  bytes(allowEmpty) {
    const r = this.next()
    const n = allowEmpty ? r % 6 : 1 + (r % 6)
    return Buffer.from(Array.from({ length: n }, (_, i) => ((r >> i % 16) ^ (i * 37)) & 0xff))
  }
  // Arrays: variant 0 has two elements, variant 1 one, variant 2 none (where that is legal).
  count(variant, min = 0) {
    return Math.max(min, [2, 1, 0][variant])
  }
  list(variant, make, min = 0) {
    return Array.from({ length: this.count(variant, min) }, (_, i) => make(i))
  }
}

const VARIANTS = 3

const aclFilter = (v, n) => ({
  resourceType: v.int8(),
  resourceName: n === 2 ? null : v.string(n !== 0),
  resourcePatternType: v.int8(),
  principal: n === 2 ? null : v.string(n !== 0),
  host: n === 2 ? null : v.string(n !== 0),
  operation: v.int8(),
  permissionType: v.int8(),
})

// Parameter sets per kafkajs request directory: (values, variant, version) -> arguments of the
// request function. Variant 2 uses null wherever kafkajs lets a nullable field be null.
const PARAMS = {
  produce: (v, n) => ({
    acks: v.int16(),
    timeout: v.int32(),
    transactionalId: n === 2 ? null : v.string(false),
    producerId: v.int64(),
    producerEpoch: v.int16(),
    topicData: v.list(n, () => ({
      topic: v.string(n !== 0),
      // kafkajs builds a message set / record batch per partition; at least one message each.
      partitions: v.list(n, () => ({
        partition: v.int32(),
        messages: v.list(n, i => ({
          key: i === 1 ? null : v.bytes(true),
          value: v.bytes(n !== 0),
          timestamp: 1700000000000 + i * 17 + n,
          headers: i === 0 ? { h: 'v' } : {},
        }), 1),
      })),
    })),
  }),
  fetch: (v, n) => ({
    replicaId: -1,
    maxWaitTime: v.int32(),
    minBytes: v.int32(),
    maxBytes: v.int32(),
    isolationLevel: v.int8(),
    sessionId: v.int32(),
    sessionEpoch: v.int32(),
    rackId: v.string(n !== 0),
    topics: v.list(n, () => ({
      topic: v.string(n !== 0),
      partitions: v.list(n, () => ({
        partition: v.int32(),
        currentLeaderEpoch: v.int32(),
        fetchOffset: v.int64(),
        logStartOffset: v.int64(),
        maxBytes: v.int32(),
      })),
    })),
    forgottenTopics: v.list(n, () => ({
      topic: v.string(true),
      partitions: v.list(n, () => v.int32()),
    })),
  }),
  listOffsets: (v, n) => ({
    replicaId: v.int32(),
    isolationLevel: v.int8(),
    topics: v.list(n, () => ({
      topic: v.string(n !== 0),
      partitions: v.list(n, () => ({
        partition: v.int32(),
        timestamp: v.int64(),
        maxNumOffsets: v.int32(),
      })),
    })),
  }),
  // v1+: kafkajs encodes an empty topic list as a null array (all topics); nullable from v1.
  metadata: (v, n) => ({
    topics: v.list(n, () => v.string(n !== 0)),
    allowAutoTopicCreation: v.bool(),
  }),
  offsetCommit: (v, n) => ({
    groupId: v.string(n !== 0),
    groupGenerationId: v.int32(),
    memberId: v.string(n !== 0),
    retentionTime: v.int64(),
    topics: v.list(n, () => ({
      topic: v.string(n !== 0),
      partitions: v.list(n, i => ({
        partition: v.int32(),
        offset: v.int64(),
        timestamp: v.int64(),
        metadata: i === 1 || n === 1 ? null : v.string(n !== 0),
      })),
    })),
  }),
  // v3+: an empty topic list is encoded as null (all topics); nullable from v2 in Kafka.
  offsetFetch: (v, n) => ({
    groupId: v.string(n !== 0),
    topics: v.list(n, () => ({
      topic: v.string(n !== 0),
      partitions: v.list(n, () => ({ partition: v.int32() })),
    })),
  }),
  findCoordinator: (v, n) => ({
    groupId: v.string(n !== 0),
    coordinatorKey: v.string(n !== 0),
    coordinatorType: v.int8(),
  }),
  joinGroup: (v, n) => ({
    groupId: v.string(n !== 0),
    sessionTimeout: v.int32(),
    rebalanceTimeout: v.int32(),
    memberId: v.string(n !== 0),
    groupInstanceId: n === 2 ? null : v.string(n !== 0),
    protocolType: v.string(n !== 0),
    groupProtocols: v.list(n, () => ({ name: v.string(n !== 0), metadata: v.bytes(n !== 0) })),
  }),
  heartbeat: (v, n) => ({
    groupId: v.string(n !== 0),
    groupGenerationId: v.int32(),
    memberId: v.string(n !== 0),
    groupInstanceId: n === 2 ? null : v.string(n !== 0),
  }),
  leaveGroup: (v, n) => ({
    groupId: v.string(n !== 0),
    memberId: v.string(n !== 0),
    members: v.list(n, i => ({
      memberId: v.string(n !== 0),
      groupInstanceId: i === 1 ? null : v.string(n !== 0),
    })),
  }),
  syncGroup: (v, n) => ({
    groupId: v.string(n !== 0),
    generationId: v.int32(),
    memberId: v.string(n !== 0),
    groupInstanceId: n === 2 ? null : v.string(n !== 0),
    groupAssignment: v.list(n, () => ({
      memberId: v.string(n !== 0),
      memberAssignment: v.bytes(n !== 0),
    })),
  }),
  describeGroups: (v, n) => ({ groupIds: v.list(n, () => v.string(n !== 0)) }),
  listGroups: () => undefined,
  saslHandshake: (v, n) => ({ mechanism: v.string(n !== 0) }),
  apiVersions: () => undefined,
  createTopics: (v, n) => ({
    timeout: v.int32(),
    validateOnly: v.bool(),
    topics: v.list(n, () => ({
      topic: v.string(n !== 0),
      numPartitions: v.int32(),
      replicationFactor: v.int16(),
      replicaAssignment: v.list(n, () => ({
        partition: v.int32(),
        replicas: v.list(n, () => v.int32()),
      })),
      configEntries: v.list(n, i => ({
        name: v.string(n !== 0),
        value: i === 1 ? null : v.string(n !== 0),
      })),
    })),
  }),
  deleteTopics: (v, n) => ({ topics: v.list(n, () => v.string(n !== 0)), timeout: v.int32() }),
  deleteRecords: (v, n) => ({
    timeout: v.int32(),
    topics: v.list(n, () => ({
      topic: v.string(n !== 0),
      partitions: v.list(n, () => ({ partition: v.int32(), offset: v.int64() })),
    })),
  }),
  initProducerId: (v, n) => ({
    transactionalId: n === 2 ? null : v.string(n !== 0),
    transactionTimeout: v.int32(),
  }),
  addPartitionsToTxn: (v, n) => ({
    transactionalId: v.string(n !== 0),
    producerId: v.int64(),
    producerEpoch: v.int16(),
    topics: v.list(n, () => ({ topic: v.string(n !== 0), partitions: v.list(n, () => v.int32()) })),
  }),
  addOffsetsToTxn: (v, n) => ({
    transactionalId: v.string(n !== 0),
    producerId: v.int64(),
    producerEpoch: v.int16(),
    groupId: v.string(n !== 0),
  }),
  endTxn: (v, n) => ({
    transactionalId: v.string(n !== 0),
    producerId: v.int64(),
    producerEpoch: v.int16(),
    transactionResult: v.bool(),
  }),
  txnOffsetCommit: (v, n) => ({
    transactionalId: v.string(n !== 0),
    groupId: v.string(n !== 0),
    producerId: v.int64(),
    producerEpoch: v.int16(),
    topics: v.list(n, () => ({
      topic: v.string(n !== 0),
      partitions: v.list(n, i => ({
        partition: v.int32(),
        offset: v.int64(),
        metadata: i === 1 || n === 1 ? null : v.string(n !== 0),
      })),
    })),
  }),
  // An empty configNames list is encoded as null (all configs); nullable in Kafka.
  describeConfigs: (v, n) => ({
    includeSynonyms: v.bool(),
    resources: v.list(n, () => ({
      type: v.int8(),
      name: v.string(n !== 0),
      configNames: v.list(n, () => v.string(n !== 0)),
    })),
  }),
  alterConfigs: (v, n) => ({
    validateOnly: v.bool(),
    resources: v.list(n, () => ({
      type: v.int8(),
      name: v.string(n !== 0),
      configEntries: v.list(n, i => ({
        name: v.string(n !== 0),
        value: i === 1 ? null : v.string(n !== 0),
      })),
    })),
  }),
  // kafkajs's SaslAuthenticate encoder writes authBytes raw: its SASL mechanisms hand it bytes
  // that already carry the INT32 length (Encoder.writeBytes), so do the same here.
  saslAuthenticate: (v, n) => ({ authBytes: new Encoder().writeBytes(v.bytes(n !== 0)).buffer }),
  createPartitions: (v, n) => ({
    timeout: v.int32(),
    validateOnly: v.bool(),
    topicPartitions: v.list(n, () => ({
      topic: v.string(n !== 0),
      count: v.int32(),
      // Empty assignments become a null array (nullable in Kafka). Each assignment's broker id
      // list goes through writeNullableArray too, but BrokerIds is not nullable in Kafka, so
      // keep those non-empty (kafkajs itself never sends an empty one).
      assignments: v.list(n, () => v.list(n, () => v.int32(), 1)),
    })),
  }),
  deleteGroups: (v, n) => v.list(n, () => v.string(n !== 0)),
  alterPartitionReassignments: (v, n) => ({
    timeout: v.int32(),
    topics: v.list(n, () => ({
      topic: v.string(n !== 0),
      partitionAssignment: v.list(n, () => ({ partition: v.int32(), replicas: v.list(n, () => v.int32()) })),
    })),
  }),
  // Variant 2: null topics (every partition).
  listPartitionReassignments: (v, n) => ({
    timeout: v.int32(),
    topics: n === 2 ? null : v.list(n, () => ({ topic: v.string(n !== 0), partitions: v.list(n, () => v.int32()) })),
  }),
  // ACL filters: variant 2 uses null for every nullable name (null matches anything).
  describeAcls: (v, n) => aclFilter(v, n),
  createAcls: (v, n) => ({
    creations: v.list(n, () => ({
      resourceType: v.int8(),
      resourceName: v.string(n !== 0),
      resourcePatternType: v.int8(),
      principal: v.string(n !== 0),
      host: v.string(n !== 0),
      operation: v.int8(),
      permissionType: v.int8(),
    })),
  }),
  deleteAcls: (v, n) => ({ filters: v.list(n, () => aclFilter(v, n)) }),
}

async function main() {
  if (process.argv.length !== 3) die('usage: kafkajs_vectors.js OUTDIR')
  const out = path.join(process.argv[2], 'kafkajs')
  fs.mkdirSync(out, { recursive: true })
  const ranges = schemaVersions()
  let written = 0
  let outside = 0
  for (const api of fs.readdirSync(REQUESTS_DIR).sort()) {
    const apiDir = path.join(REQUESTS_DIR, api)
    if (!fs.statSync(apiDir).isDirectory()) continue
    const versions = fs
      .readdirSync(apiDir)
      .filter(d => /^v\d+$/.test(d))
      .map(d => Number(d.slice(1)))
      .sort((a, b) => a - b)
    for (const version of versions) {
      const makeRequest = require(path.join(apiDir, `v${version}`, 'request.js'))
      for (let n = 0; n < VARIANTS; n++) {
        const factory = PARAMS[api]
        const seed = version * 100 + n * 7 + api.length * 1000
        // Without a factory, probe with no arguments only to learn the API key.
        const request = factory ? makeRequest(factory(new Values(seed), n, version)) : makeRequest({})
        if (request.apiVersion !== version) {
          die(`${api}/v${version}: encoder says apiVersion ${request.apiVersion}`)
        }
        const range = ranges.get(request.apiKey)
        if (range === undefined) break // API without a Kaffa schema file
        if (version < range[0] || version > range[1]) {
          outside++
          break
        }
        if (!factory) die(`${api} (key ${request.apiKey}) has a schema file but no parameters here`)
        let body = (await request.encode()).buffer
        if (version >= range[2]) {
          // kafkajs writes a classic (v1) request header, so its flexible encoders begin the
          // body with the v2 header's empty tagged fields: that byte belongs to the header.
          if (body[0] !== 0) die(`${api}/v${version}: no empty header tag buffer first`)
          body = body.subarray(1)
        }
        const file = path.join(out, `${request.apiKey}_${version}_request_${n}.bin`)
        fs.writeFileSync(file, body)
        written++
      }
    }
  }
  console.log(
    `kafkajs ${kafkajsVersion}: wrote ${written} vectors to ${out} ` +
      `(${outside} encoder versions outside schema ranges)`
  )
}

main().catch(e => die(e.stack || String(e)))
