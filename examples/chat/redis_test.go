package main

// The same in examples/chat and examples/testserver, as redis.go is.

import (
	"flag"
	"reflect"
	"strings"
	"testing"
)

func TestRedisFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		check   func(t *testing.T, s redisSetup)
		wantErr string // a substring of the error; empty: no error
	}{
		{
			name: "none means memory",
			check: func(t *testing.T, s redisSetup) {
				if s.enabled() || s.client() != nil {
					t.Errorf("setup %v is not in memory", s)
				}
			},
		},
		{
			name: "standalone",
			args: []string{"-redis", "redis://user:secret@10.0.0.1:6380/2"},
			check: func(t *testing.T, s redisSetup) {
				o := s.standalone
				if o == nil || o.Addr != "10.0.0.1:6380" || o.DB != 2 || o.Username != "user" || o.Password != "secret" {
					t.Fatalf("options %+v", o)
				}
				if o.DialTimeout != redisTimeout || o.ReadTimeout != redisTimeout || o.WriteTimeout != redisTimeout {
					t.Errorf("timeouts %v %v %v", o.DialTimeout, o.ReadTimeout, o.WriteTimeout)
				}
			},
		},
		{
			name: "cluster",
			args: []string{"-redis-cluster", "10.0.0.1:7000, 10.0.0.2:7001,node3:7002"},
			check: func(t *testing.T, s redisSetup) {
				if s.cluster == nil || !reflect.DeepEqual(s.cluster.Addrs, []string{"10.0.0.1:7000", "10.0.0.2:7001", "node3:7002"}) {
					t.Fatalf("cluster options %+v", s.cluster)
				}
				if s.cluster.ReadTimeout != redisTimeout {
					t.Errorf("read timeout %v", s.cluster.ReadTimeout)
				}
			},
		},
		{
			name: "sentinel",
			args: []string{"-redis-sentinel", "10.0.0.1:26379,10.0.0.2:26379", "-redis-master", "mymaster"},
			check: func(t *testing.T, s redisSetup) {
				f := s.failover
				if f == nil || f.MasterName != "mymaster" || !reflect.DeepEqual(f.SentinelAddrs, []string{"10.0.0.1:26379", "10.0.0.2:26379"}) {
					t.Fatalf("failover options %+v", f)
				}
				if f.DialTimeout != redisTimeout {
					t.Errorf("dial timeout %v", f.DialTimeout)
				}
			},
		},
		{name: "redis and cluster", args: []string{"-redis", "redis://a:6379", "-redis-cluster", "b:7000"}, wantErr: "flags -redis and -redis-cluster conflict"},
		{name: "redis and sentinel", args: []string{"-redis", "redis://a:6379", "-redis-sentinel", "b:26379", "-redis-master", "m"}, wantErr: "flags -redis and -redis-sentinel conflict"},
		{name: "cluster and sentinel", args: []string{"-redis-cluster", "a:7000", "-redis-sentinel", "b:26379"}, wantErr: "flags -redis-cluster and -redis-sentinel conflict"},
		{name: "master alone", args: []string{"-redis", "redis://a:6379", "-redis-master", "m"}, wantErr: "-redis-master needs -redis-sentinel"},
		{name: "sentinel without master", args: []string{"-redis-sentinel", "b:26379"}, wantErr: "-redis-sentinel needs -redis-master"},
		{name: "bad URL", args: []string{"-redis", "http://a:6379"}, wantErr: "flag -redis"},
		{name: "address without port", args: []string{"-redis-cluster", "a:7000,b"}, wantErr: `"b" is not host:port`},
		{name: "empty address", args: []string{"-redis-sentinel", "a:1,", "-redis-master", "m"}, wantErr: `"" is not host:port`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			var rf redisFlags
			rf.register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			s, err := rf.parse()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

// TestRedisClientKinds checks which go-redis client each setup builds,
// without connecting (go-redis dials lazily).
func TestRedisClientKinds(t *testing.T) {
	for _, tc := range []struct {
		flags redisFlags
		kind  string
	}{
		{redisFlags{url: "redis://127.0.0.1:1/0"}, "*redis.Client"},
		{redisFlags{cluster: "127.0.0.1:1"}, "*redis.ClusterClient"},
		{redisFlags{sentinels: "127.0.0.1:1", master: "m"}, "*redis.Client"}, // go-redis's failover client
	} {
		s, err := tc.flags.parse()
		if err != nil {
			t.Fatal(err)
		}
		c := s.client()
		if got := reflect.TypeOf(c).String(); got != tc.kind {
			t.Errorf("%v: client %s, want %s", s, got, tc.kind)
		}
		_ = c.Close()
	}
}
