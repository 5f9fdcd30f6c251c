package main

import "testing"

func TestRedisInfoParsing(t *testing.T) {
	stats := "# Commandstats\r\ncmdstat_evalsha:calls=12,usec=340,usec_per_call=28.33,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_hset:calls=7,usec=9,usec_per_call=1.29\r\ncmdstat_info:calls=3,usec=100\r\n"
	got := parseCommandStats(stats)
	if len(got) != 3 || got["evalsha"] != 12 || got["hset"] != 7 || got["info"] != 3 {
		t.Errorf("parseCommandStats = %v", got)
	}
	mem := "# Memory\r\nused_memory:1054720\r\nused_memory_human:1.01M\r\nused_memory_rss:7700480\r\n"
	if n, ok := infoInt(mem, "used_memory"); !ok || n != 1054720 {
		t.Errorf("used_memory = %d, %v", n, ok)
	}
	if _, ok := infoInt(mem, "used_memory_peak"); ok {
		t.Error("found a field that is not there")
	}
	if _, ok := infoInt(mem, "used_memory_human"); ok {
		t.Error("read 1.01M as an integer")
	}
}
