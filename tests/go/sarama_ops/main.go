// sarama_ops: Shopify/sarama (Debian's golang-github-shopify-sarama-dev, 1.22) operations for the
// system tests. Reads one JSON request on stdin, prints one JSON answer on stdout:
//
//	{"op": "produce", "broker", "topic", "codec": "none"|"gzip"|"snappy"|"lz4"|"zstd",
//	 "idempotent": bool, "records": [{"partition", "key", "value", "headers": [[NAME, B64]]}]}
//	  -> {"ok": true, "offsets": [[partition, offset], ...]}   one SyncProducer.SendMessages, acks=all
//	{"op": "consume", "broker", "partitions": [[topic, partition], ...]}
//	  -> {"ok": true, "records": [{topic, partition, offset, key, value, headers}]}
//	  Each partition from the oldest offset to the high watermark (a partition consumer each).
//	{"op": "group", "broker", "group", "topics": [T], "count": N, "members": M, "records": [...]}
//	  -> {"ok": true, "members": [{"generation", "claims": ["T/P"], "records": ["T/P/offset"]}],
//	      "committed": {"T/P": offset}}
//	  M members of one group (sarama's ConsumerGroup) join; once they all have a session of one
//	  generation, the records given (if any) are produced to the first topic; the members read
//	  N records between them from the oldest offsets, mark each, and leave; then the group's
//	  committed offsets.
//	{"op": "admin", "broker", "topic", "group"} -> {"ok": true, "steps": {NAME: RESULT | {"error"}}}
//
// Every request may carry "sasl": {"username", "password"} (SASL PLAIN) and "tls": {"ca": PEM
// path} for a SASL or TLS listener. Keys, values and header values are base64 or null. Every client is set to Kafka 2.1
// (sarama.V2_1_0_0): with sarama's default (0.8.2) it would produce with the legacy message
// format, which Kaffa answers with UNSUPPORTED_VERSION, as Kafka 4 does. On failure: {"ok":
// false, "error": "..."} and exit code 0 (the Python side asserts).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

type record struct {
	Topic     string      `json:"topic,omitempty"`
	Partition int32       `json:"partition"`
	Offset    int64       `json:"offset"`
	Key       *string     `json:"key"`
	Value     *string     `json:"value"`
	Headers   [][2]string `json:"headers"`
}

type request struct {
	Op         string   `json:"op"`
	Broker     string   `json:"broker"`
	Topic      string   `json:"topic"`
	Topics     []string `json:"topics"`
	Group      string   `json:"group"`
	Codec      string   `json:"codec"`
	Idempotent bool     `json:"idempotent"`
	Records    []record `json:"records"`
	Partitions [][2]any `json:"partitions"`
	Count      int      `json:"count"`
	Members    int      `json:"members"`
	SASL       *struct {
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"sasl"`
	TLS *struct {
		CA string `json:"ca"`
	} `json:"tls"`
}

// The connection settings of the request being run (main sets them once).
var security request

func b64(b []byte) *string {
	if b == nil {
		return nil
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s
}

func unb64(s *string) sarama.Encoder {
	if s == nil {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(*s)
	if err != nil {
		panic(err)
	}
	return sarama.ByteEncoder(b)
}

func config() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V2_1_0_0
	c.ClientID = "kaffa-systest-sarama"
	c.Metadata.Retry.Max = 5
	c.Metadata.Retry.Backoff = 200 * time.Millisecond
	if security.SASL != nil {
		c.Net.SASL.Enable = true
		c.Net.SASL.Mechanism = sarama.SASLTypePlaintext
		c.Net.SASL.Handshake = true
		c.Net.SASL.User = security.SASL.Username
		c.Net.SASL.Password = security.SASL.Password
	}
	if security.TLS != nil {
		pem, err := os.ReadFile(security.TLS.CA)
		if err != nil {
			panic(err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pem)
		c.Net.TLS.Enable = true
		c.Net.TLS.Config = &tls.Config{RootCAs: roots}
	}
	return c
}

var codecs = map[string]sarama.CompressionCodec{
	"none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP,
	"snappy": sarama.CompressionSnappy, "lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD,
}

func produce(req request) (any, error) {
	c := config()
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Return.Successes = true
	c.Producer.Partitioner = sarama.NewManualPartitioner
	codec, ok := codecs[req.Codec]
	if !ok {
		return nil, fmt.Errorf("unknown codec %q", req.Codec)
	}
	c.Producer.Compression = codec
	if req.Idempotent {
		c.Producer.Idempotent = true
		c.Net.MaxOpenRequests = 1
	}
	p, err := sarama.NewSyncProducer([]string{req.Broker}, c)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, 0, len(req.Records))
	for _, r := range req.Records {
		m := &sarama.ProducerMessage{Topic: req.Topic, Partition: r.Partition, Key: unb64(r.Key),
			Value: unb64(r.Value)}
		for _, h := range r.Headers {
			v, err := base64.StdEncoding.DecodeString(h[1])
			if err != nil {
				return nil, err
			}
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h[0]), Value: v})
		}
		msgs = append(msgs, m)
	}
	if err := p.SendMessages(msgs); err != nil {
		return nil, err
	}
	offsets := make([][2]int64, 0, len(msgs))
	for _, m := range msgs {
		offsets = append(offsets, [2]int64{int64(m.Partition), m.Offset})
	}
	return map[string]any{"ok": true, "offsets": offsets}, nil
}

func toRecord(m *sarama.ConsumerMessage) record {
	r := record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: b64(m.Key),
		Value: b64(m.Value), Headers: [][2]string{}}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, [2]string{string(h.Key), *b64(append([]byte{}, h.Value...))})
	}
	return r
}

func consume(req request) (any, error) {
	client, err := sarama.NewClient([]string{req.Broker}, config())
	if err != nil {
		return nil, err
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, err
	}
	defer consumer.Close()
	var out []record
	for _, tp := range req.Partitions {
		topic, partition := tp[0].(string), int32(tp[1].(float64))
		end, err := client.GetOffset(topic, partition, sarama.OffsetNewest)
		if err != nil {
			return nil, err
		}
		if end == 0 {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, partition, sarama.OffsetOldest)
		if err != nil {
			return nil, err
		}
		deadline := time.After(60 * time.Second)
	read:
		for {
			select {
			case m := <-pc.Messages():
				out = append(out, toRecord(m))
				if m.Offset+1 >= end {
					break read
				}
			case e := <-pc.Errors():
				pc.Close()
				return nil, e
			case <-deadline:
				pc.Close()
				return nil, fmt.Errorf("%s-%d: no end (%d) reached", topic, partition, end)
			}
		}
		pc.Close()
	}
	return map[string]any{"ok": true, "records": out}, nil
}

// One member of a group: records what it reads and the claims of its sessions.
type member struct {
	mu         *sync.Mutex
	total      *int
	want       int
	done       chan struct{}
	all        []*member     // the group's members, for joined
	joined     chan struct{} // closed once every member has a session of one generation
	generation int32
	claims     []string
	records    []string
}

func (m *member) Setup(s sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.generation = s.GenerationID()
	m.claims = m.claims[:0]
	for topic, ps := range s.Claims() {
		for _, p := range ps {
			m.claims = append(m.claims, fmt.Sprintf("%s/%d", topic, p))
		}
	}
	sort.Strings(m.claims)
	for _, o := range m.all {
		if o.generation != m.generation {
			return nil
		}
	}
	select {
	case <-m.joined:
	default:
		close(m.joined)
	}
	return nil
}

func (m *member) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (m *member) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for msg := range c.Messages() {
		s.MarkMessage(msg, "")
		m.mu.Lock()
		m.records = append(m.records, fmt.Sprintf("%s/%d/%d", msg.Topic, msg.Partition, msg.Offset))
		*m.total++
		if *m.total == m.want {
			close(m.done)
		}
		m.mu.Unlock()
	}
	return nil
}

func group(req request) (any, error) {
	c := config()
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Return.Errors = true
	c.Consumer.Group.Heartbeat.Interval = 300 * time.Millisecond
	var mu sync.Mutex
	total := 0
	done := make(chan struct{})
	joined := make(chan struct{})
	members := make([]*member, req.Members)
	for i := range members {
		members[i] = &member{mu: &mu, total: &total, want: req.Count, done: done, joined: joined,
			generation: -1}
	}
	groups := make([]sarama.ConsumerGroup, req.Members)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range members {
		members[i].all = members
		g, err := sarama.NewConsumerGroup([]string{req.Broker}, req.Group, c)
		if err != nil {
			return nil, err
		}
		groups[i] = g
		wg.Add(1)
		go func(m *member, g sarama.ConsumerGroup) {
			defer wg.Done()
			for { // Consume returns at every rebalance; it fails once the group is closed
				if err := g.Consume(context.Background(), req.Topics, m); err != nil {
					if err != sarama.ErrClosedConsumerGroup {
						errs <- err
					}
					return
				}
			}
		}(members[i], g)
		go func(g sarama.ConsumerGroup) {
			for err := range g.Errors() {
				errs <- err
			}
		}(g)
	}
	timeout := time.After(90 * time.Second)
	if len(req.Records) > 0 {
		select {
		case <-joined:
		case err := <-errs:
			return nil, err
		case <-timeout:
			return nil, fmt.Errorf("the %d members never shared a generation", req.Members)
		}
		if _, err := produce(request{Broker: req.Broker, Topic: req.Topics[0], Codec: "none",
			Records: req.Records}); err != nil {
			return nil, err
		}
	}
	select {
	case <-done:
	case err := <-errs:
		return nil, err
	case <-timeout:
		mu.Lock()
		defer mu.Unlock()
		return nil, fmt.Errorf("read %d of %d records", total, req.Count)
	}
	for _, g := range groups {
		g.Close() // commits the marked offsets and leaves the group
	}
	wg.Wait()
	out := make([]map[string]any, len(members))
	for i, m := range members {
		out[i] = map[string]any{"generation": m.generation, "claims": m.claims, "records": m.records}
	}
	committed, err := committedOffsets(req)
	if err != nil {
		return nil, err
	}
	return map[string]any{"ok": true, "members": out, "committed": committed}, nil
}

func committedOffsets(req request) (map[string]int64, error) {
	client, err := sarama.NewClient([]string{req.Broker}, config())
	if err != nil {
		return nil, err
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdmin([]string{req.Broker}, config())
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	// Named partitions: sarama asks OffsetFetch v1, where an empty list means none (not all).
	partitions := map[string][]int32{}
	for _, topic := range req.Topics {
		if partitions[topic], err = client.Partitions(topic); err != nil {
			return nil, err
		}
	}
	res, err := admin.ListConsumerGroupOffsets(req.Group, partitions)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for topic, ps := range res.Blocks {
		for p, b := range ps {
			if b.Err != sarama.ErrNoError {
				return nil, b.Err
			}
			if b.Offset >= 0 {
				out[fmt.Sprintf("%s/%d", topic, p)] = b.Offset
			}
		}
	}
	return out, nil
}

func main() {
	var req request
	out := map[string]any{}
	var result any
	err := json.NewDecoder(os.Stdin).Decode(&req)
	security = req
	if err == nil {
		switch req.Op {
		case "produce":
			result, err = produce(req)
		case "consume":
			result, err = consume(req)
		case "group":
			result, err = group(req)
		case "admin":
			result, err = admin(req)
		default:
			err = fmt.Errorf("unknown op %q", req.Op)
		}
	}
	if err != nil {
		out["ok"] = false
		out["error"] = err.Error()
		result = out
	}
	if err := json.NewEncoder(os.Stdout).Encode(result); err != nil {
		os.Exit(1)
	}
}
