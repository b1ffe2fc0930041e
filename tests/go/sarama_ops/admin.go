package main

import (
	"fmt"
	"sort"

	"github.com/Shopify/sarama"
)

// admin runs sarama's ClusterAdmin calls on a topic and a group; each step's result or error is
// reported, and later steps run even when an earlier one failed.
func admin(req request) (any, error) {
	a, err := sarama.NewClusterAdmin([]string{req.Broker}, config())
	if err != nil {
		return nil, err
	}
	defer a.Close()
	steps := map[string]any{}
	step := func(name string, fn func() (any, error)) {
		v, err := fn()
		if err != nil {
			steps[name] = map[string]string{"error": err.Error()}
			return
		}
		steps[name] = v
	}
	topic := req.Topic
	retention := "3600000"
	step("createTopic", func() (any, error) {
		return nil, a.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1,
			ConfigEntries: map[string]*string{"retention.ms": &retention}}, false)
	})
	step("listTopics", func() (any, error) {
		all, err := a.ListTopics()
		if err != nil {
			return nil, err
		}
		d := all[topic]
		return map[string]any{"partitions": d.NumPartitions, "rf": d.ReplicationFactor}, nil
	})
	step("describeTopics", func() (any, error) {
		md, err := a.DescribeTopics([]string{topic})
		if err != nil {
			return nil, err
		}
		return map[string]any{"errorCode": int(md[0].Err), "partitions": len(md[0].Partitions)}, nil
	})
	step("createPartitions", func() (any, error) { return nil, a.CreatePartitions(topic, 3, nil, false) })
	step("describeConfig", func() (any, error) {
		entries, err := a.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic,
			ConfigNames: []string{"retention.ms"}})
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, e := range entries {
			out[e.Name] = e.Value
		}
		return out, nil
	})
	newRetention := "7200000"
	step("alterConfig", func() (any, error) {
		return nil, a.AlterConfig(sarama.TopicResource, topic,
			map[string]*string{"retention.ms": &newRetention}, false)
	})
	step("describeConfigAfter", func() (any, error) {
		entries, err := a.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic,
			ConfigNames: []string{"retention.ms"}})
		if err != nil || len(entries) == 0 {
			return nil, err
		}
		return entries[0].Value, nil
	})
	step("produce", func() (any, error) {
		var rs []record
		for i := 0; i < 6; i++ {
			v := b64([]byte(fmt.Sprintf("v%d", i)))
			rs = append(rs, record{Partition: int32(i % 3), Value: v})
		}
		return produce(request{Broker: req.Broker, Topic: topic, Codec: "none", Records: rs})
	})
	step("deleteRecords", func() (any, error) {
		return nil, a.DeleteRecords(topic, map[int32]int64{0: 1})
	})
	step("group", func() (any, error) {
		return group(request{Broker: req.Broker, Group: req.Group, Topics: []string{topic},
			Count: 5, Members: 1})
	})
	step("listConsumerGroups", func() (any, error) {
		groups, err := a.ListConsumerGroups()
		if err != nil {
			return nil, err
		}
		var names []string
		for g, protocol := range groups {
			names = append(names, g+":"+protocol)
		}
		sort.Strings(names)
		return names, nil
	})
	step("describeConsumerGroups", func() (any, error) {
		ds, err := a.DescribeConsumerGroups([]string{req.Group})
		if err != nil {
			return nil, err
		}
		return map[string]any{"errorCode": int(ds[0].Err), "state": ds[0].State,
			"protocolType": ds[0].ProtocolType, "members": len(ds[0].Members)}, nil
	})
	step("deleteTopic", func() (any, error) { return nil, a.DeleteTopic(topic) })
	step("listTopicsAfter", func() (any, error) {
		all, err := a.ListTopics()
		if err != nil {
			return nil, err
		}
		_, present := all[topic]
		return present, nil
	})
	return map[string]any{"ok": true, "steps": steps}, nil
}
