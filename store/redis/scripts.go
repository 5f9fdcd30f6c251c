package redisstore

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The Lua scripts. Each Store method runs one of them (or one plain
// command), so each call is one round trip and one atomic step on the
// server. Every script is the core (coreLua), the pieces of the library
// (libLua) it uses, then its body (see script).
//
// KEYS are always, in this order, the route's keys seq, log, n, exp,
// nodes, nep and, for session scripts, the session's keys rec, q, v (see
// keys in redis.go). ARGV[1] is the key TTL backstop in milliseconds; for
// session scripts ARGV[2] is the session id; for the others ARGV[2] is the
// route's key base. A node's set of holds (h:<node>) is named inside the
// scripts: it shares the route's hash tag, hence its slot. Times are milliseconds of the Redis
// server's clock (TIME), durations are milliseconds.
//
// Numbers are written back with I (%d): Lua 5.1's tostring keeps 14
// significant digits only, fewer than a microsecond timestamp needs, and
// %d (formatted as a 64-bit integer) costs Redis a third of what %.0f
// (a double) does. Every number the scripts write is an integer.

// coreLua starts every script: keys, clock, number formatting.
const coreLua = `
local KSEQ, KLOG, KN, KEXP, KNODES, KNE, KR, KQ, KV
local BASE, keyTTL, t, now
-- HELD is the deadline of a held session (ex, and its expiry index
-- score): it expires only once the hold ends.
local HELD = 1e15

local function I(n) return string.format('%d', n) end

-- clock reads the server's clock (TIME) once per call, when first needed:
-- now, in milliseconds, and t, TIME's answer. Every call reads it in begin
-- except Push, which needs it only to keep a held session's keys alive.
local function clock()
  if not now then
    t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now
end

-- The meta (the stored opening request) is kept in the record in pieces
-- of at most 64 bytes: mt, then m2 ... m<mn>, mn being written only when
-- there is more than one piece. A hash whose values all fit in 64 bytes
-- stays a listpack (hash-max-listpack-value), several times smaller than
-- the hashtable one longer value would turn the record into.
local META = 64
`

// coreInit starts every call (see begin): keys, clock.
const coreInit = `
  KSEQ, KLOG, KN, KEXP = K[1], K[2], K[3], K[4]
  KNODES, KNE = K[5], K[6]
  KR, KQ, KV = K[7], K[8], K[9]
  BASE = string.sub(KSEQ, 1, -4)
  keyTTL = tonumber(A[1])
  t, now = nil, nil
  if not lazyClock then clock() end
`

// luaPart is a piece of the scripts' library (a few local definitions)
// with the pieces it uses. init, when set, resets the piece's state at
// the start of every call (inside begin, whose arguments are K and A, the
// call's KEYS and ARGV): the definitions run once per library load when
// the server has functions, so no state may live in them.
type luaPart struct {
	name  string
	needs []string
	src   string
	init  string
}

// libLua is the library, in the order its pieces are defined in a script
// (a piece comes after those it uses).
//
// The record piece is the session scripts' base: the record r (its
// fields as strings); the pieces after it are the operations of the memory
// store on it.
//
// Record fields: st state (1 open, 2 closed), cc/cr close code and reason,
// rc receiver, hn its node (the holder), ep the holder's epoch when it took
// the hold, id idle, ex expiry deadline (HELD while held), nd node, cu
// cursor (last sequence number delivered or skipped), cs route sequence at
// close, kt keys' TTL horizon, mt meta (its first 64 bytes; m2 ... m<mn>
// the rest, see metaFields), ct created (microseconds), qb, qn and qt the
// queue's message bytes, length and last sequence number. The
// expiry index holds each session that is not held once, scored by a
// lower bound of ex: moving ex later writes nothing there (Reap re-scores
// it when it comes due), moving it earlier re-scores it. A held open
// session is in its holder's set h:<node> instead, which the node's lapse
// (or the session's release or close) hands back to the index.
var libLua = []luaPart{
	{"nodeEntry", []string{}, `
-- nodeEntry splits a node's entry in nep, "<epoch>:<lease end>", into
-- the epoch (a string) and the lease end (a number); nil, nil for none.
-- The lease end is also the node's score in nodes, which Reap scans for
-- lapsed leases; nep has it so that one HGET tells whether a node is live.
local function nodeEntry(v)
  if not v then return nil, nil end
  local i = string.find(v, ':', 1, true)
  return string.sub(v, 1, i - 1), tonumber(string.sub(v, i + 1))
end
`, ""},
	{"nodeLive", []string{"nodeEntry"}, `
-- nodeLive returns node's epoch and lease end when its lease is live.
-- Answers are kept for the script's run: a script asks about the same
-- node more than once.
local liveMemo
local function nodeLive(node)
  local m = liveMemo[node]
  if m then return m[1], m[2] end
  local ep, u = nodeEntry(redis.call('HGET', KNE, node))
  if not u or u <= now then ep, u = nil, nil end
  liveMemo[node] = {ep, u}
  return ep, u
end
`, `
  liveMemo = {}
`},
	{"lapseHolds", []string{}, `
-- lapseHolds ends the holds of node's epoch ep, whose lease ended at
-- upto: each open session it held expires its idle duration later. Up to
-- max sessions (0: all); it reports whether the node's set is empty.
local function lapseHolds(node, ep, upto, max)
  local kh = BASE .. 'h:' .. node
  local ids
  if max > 0 then ids = redis.call('SPOP', kh, max) else
    ids = redis.call('SMEMBERS', kh)
    redis.call('DEL', kh)
  end
  for _, sid in ipairs(ids) do
    local kr = BASE .. 's:' .. sid
    local v = redis.call('HMGET', kr, 'hn', 'ep', 'st', 'id')
    if v[1] == node and v[2] == ep and v[3] == '1' then
      local ex = upto + tonumber(v[4])
      redis.call('HSET', kr, 'ex', I(ex))
      redis.call('ZADD', KEXP, I(ex), sid)
    end
  end
  return max <= 0 or redis.call('SCARD', kh) == 0
end
`, ""},
	{"metaFields", []string{}, `
-- metaFields appends the fields holding meta to args.
local function metaFields(args, meta)
  args[#args + 1] = 'mt'
  args[#args + 1] = string.sub(meta, 1, META)
  local n = math.ceil(#meta / META)
  if n > 1 then
    for i = 2, n do
      args[#args + 1] = 'm' .. i
      args[#args + 1] = string.sub(meta, (i - 1) * META + 1, i * META)
    end
    args[#args + 1] = 'mn'
    args[#args + 1] = n
  end
end
`, ""},
	{"metaOf", []string{}, `
-- metaOf rebuilds the meta of record kr from its first piece and count.
local function metaOf(kr, first, n)
  first = first or ''
  n = tonumber(n)
  if not n or n < 2 then return first end
  local f = {}
  for i = 2, n do f[#f + 1] = 'm' .. i end
  return first .. table.concat(redis.call('HMGET', kr, unpack(f)))
end
`, ""},
	{"parse", []string{}, `
-- parse splits "<seq>:<rest>" (queue and log entries).
local function parse(e)
  local i = string.find(e, ':', 1, true)
  return tonumber(string.sub(e, 1, i - 1)), string.sub(e, i + 1)
end
`, ""},
	{"ensure", []string{}, `
-- ensure keeps key k (when it exists) alive upto at least E. When the TTL
-- has to move it moves to E + keyTTL, so that the renewals of the next
-- keyTTL cost no write.
local function ensure(k, E)
  clock()
  local p = redis.call('PTTL', k)
  if p == -1 or (p >= 0 and now + p < E) then
    redis.call('PEXPIREAT', k, I(E + keyTTL))
  end
end
`, ""},
	{"ensureRoute", []string{"ensure"}, `
-- ensureRoute keeps the route's keys alive upto at least E and at least as
-- long as its expiry index (the longest lived: a key created now, such as
-- the sequence on the first Push, inherits the route's horizon).
local function ensureRoute(E)
  clock()
  local pe = redis.call('PTTL', KEXP)
  if pe >= 0 and now + pe > E then E = now + pe end
  ensure(KSEQ, E); ensure(KLOG, E); ensure(KN, E); ensure(KEXP, E)
  ensure(BASE .. 'lb', E)
end
`, ""},
	{"record", []string{"ensureRoute"}, `
local id
` + fieldSetsLua() + `
local r
local dirty
-- tail: fields finish writes after the dirty ones (a new record's meta,
-- so that the fields scripts read and write come first in the listpack,
-- which HMGET and HSET scan from its head).
local tail
-- fresh: r is a record this script creates (in no index yet).
local fresh
-- missed is set when take met the log's trim mark past the cursor: some
-- broadcasts the session should have had were trimmed first.
local missed

-- read adds the record's fields fs to r.
local function read(fs)
  local v = redis.call('HMGET', KR, unpack(fs))
  for i, f in ipairs(fs) do r[f] = v[i] or DEF[f] or '' end
end

-- load reads the record's fields of set fs (HOT when nil; 'st' first),
-- and all of CLOSED too when the session is closed. Fields not read are
-- nil in r.
local function load(fs)
  fs = fs or HOT
  local v = redis.call('HMGET', KR, unpack(fs))
  if not v[1] then return false end
  r = fs.new(v)
  if r.st == '2' and not r.cs then read(CLOSED) end
  return true
end

local function put(f, v)
  r[f] = v
  dirty[#dirty + 1] = f
end

-- finish writes the changed fields and keeps the keys alive: the session's
-- keys upto ex + keyTTL at least, the route's keys as long as any
-- session's. kt records the horizon the session's keys (and so the route's)
-- were last given: while ex + keyTTL stays within it, no TTL is read or
-- written. When it has to move it moves to ex + 2*keyTTL, so a busy session
-- touches TTLs once per keyTTL. Keys created later (the queue, the values)
-- are given kt by the script that creates them.
local function finish()
  local ex = tonumber(r.ex)
  if ex >= HELD then ex = clock() end
  local E = ex + keyTTL
  local moved = E > (tonumber(r.kt) or 0)
  if moved then put('kt', I(E + keyTTL)) end
  if #dirty > 0 then
    local args, seen = {}, {}
    for _, f in ipairs(dirty) do
      if not seen[f] then
        seen[f] = true
        args[#args + 1] = f
        args[#args + 1] = r[f]
      end
    end
    if tail then
      for _, v in ipairs(tail) do args[#args + 1] = v end
    end
    redis.call('HSET', KR, unpack(args))
  end
  if moved then
    redis.call('PEXPIREAT', KR, r.kt)
    redis.call('PEXPIREAT', KQ, r.kt)
    redis.call('PEXPIREAT', KV, r.kt)
    ensureRoute(E + keyTTL)
  end
end
`, `
  id = A[2]; r = nil; dirty = {}; tail = nil; fresh = false; missed = 0
`},
	{"leased", []string{"record", "nodeLive"}, `
-- leased reports whether the hold is live: its node's lease is live, in
-- the epoch the hold was taken in, and a bounded hold has not ended.
local function leased()
  if r.rc == '' then return false end
  if r.he ~= '' and tonumber(r.he) <= now then return false end
  local ep = nodeLive(r.hn)
  return ep ~= nil and ep == r.ep
end
`, ""},
	{"unhold", []string{"record"}, `
-- unhold takes the session out of its holder's set (a bounded hold, he
-- set, is in none).
local function unhold()
  if r.rc ~= '' and r.he == '' then redis.call('SREM', BASE .. 'h:' .. r.hn, id) end
end
`, ""},
	{"setDeadline", []string{"record"}, `
local function setDeadline(at)
  local old = tonumber(r.ex)
  if at == old then return end
  put('ex', I(at))
  if old >= HELD then
    redis.call('ZADD', KEXP, I(at), id)
  elseif at < old then
    local sc = redis.call('ZSCORE', KEXP, id)
    if not sc or at < tonumber(sc) then redis.call('ZADD', KEXP, I(at), id) end
  end
end
`, ""},
	{"hold", []string{"unhold", "setDeadline"}, `
-- hold gives the session to receiver of node holder in epoch ep, for
-- holdFor milliseconds when positive (a bounded hold: it ends by itself,
-- at he, and the session stays in the expiry index, due idle after he),
-- or until released or lost (in the holder's set h:<node> instead).
local function hold(receiver, holder, ep, holdFor)
  unhold()
  put('rc', receiver); put('hn', holder); put('ep', ep)
  if holdFor > 0 then
    local he = now + holdFor
    put('he', I(he))
    if r.st == '1' then setDeadline(he + tonumber(r.id)) end
    return
  end
  if r.he ~= '' then put('he', '') end
  redis.call('SADD', BASE .. 'h:' .. holder, id)
  if r.st == '1' and tonumber(r.ex) < HELD then
    -- The holder's set stands for the expiry index while the hold lasts.
    if not fresh then redis.call('ZREM', KEXP, id) end
    put('ex', I(HELD))
  end
end
`, ""},
	{"release", []string{"unhold", "setDeadline"}, `
-- release drops the lease; an open session then expires after idle (0: its
-- own) from now. A closed one keeps the deadline the close set.
local function release(idle)
  unhold()
  put('rc', ''); put('hn', ''); put('ep', '0')
  if r.he ~= '' then put('he', '') end
  if r.st ~= '1' then return end
  if idle > 0 then put('id', I(idle)) end
  setDeadline(now + tonumber(r.id))
end
`, ""},
	{"unqueued", []string{"record"}, `
-- take removes and returns up to max (0: all) pending messages in sequence
-- order: the queue merged with the log entries past the cursor and, for a
-- closed session, not past the close. Node-bound sessions have neither.
-- msgBytes is the size of a queue entry's message ("<seq>:<message>").
local function msgBytes(e)
  return #e - string.find(e, ':', 1, true)
end

-- unqueued counts k messages of n bytes out of the queue.
local function unqueued(n, k)
  local qb = tonumber(r.qb) - n
  if qb < 0 then qb = 0 end
  put('qb', I(qb))
  put('qn', I(math.max(tonumber(r.qn) - k, 0)))
end
`, ""},
	{"take", []string{"parse", "unqueued"}, `
local function take(max)
  if r.nd ~= '' then return {} end
  local limit
  if r.st == '2' then
    limit = tonumber(r.cs)
  else
    limit = tonumber(redis.call('GET', KSEQ) or '0')
  end
  local cursor = tonumber(r.cu)
  local q, lg = {}, {}
  if r.qn == '0' then
    -- The queue is empty: nothing to read.
  elseif max > 0 then
    q = redis.call('LRANGE', KQ, 0, max - 1)
  else
    q = redis.call('LRANGE', KQ, 0, -1)
  end
  if cursor < limit then
    if max > 0 then
      lg = redis.call('ZRANGEBYSCORE', KLOG, '(' .. I(cursor), I(limit), 'LIMIT', 0, max)
    else
      lg = redis.call('ZRANGEBYSCORE', KLOG, '(' .. I(cursor), I(limit))
    end
  end
  local out, qi, li = {}, 1, 1
  local qs, qm, ls, lm
  local function nextQ()
    qs = nil
    if q[qi] then qs, qm = parse(q[qi]) end
  end
  local function nextL()
    ls = nil
    if lg[li] then
      local rest
      ls, rest = parse(lg[li])
      local k = string.find(rest, ':', 1, true)
      if not k then
        -- The trim mark ("<seq>:x"): broadcasts up to it are gone.
        missed = 1
        li = li + 1
        return nextL()
      end
      lm = string.sub(rest, k + 1)
    end
  end
  nextQ(); nextL()
  -- Queued messages at or behind the cursor were acknowledged: drop them.
  while qs and qs <= cursor do qi = qi + 1; nextQ() end
  while max <= 0 or #out < max do
    if qs and (not ls or qs < ls) then
      out[#out + 1] = qm; cursor = qs; qi = qi + 1; nextQ()
    elseif ls then
      out[#out + 1] = lm; cursor = ls; li = li + 1; nextL()
    else
      -- Nothing left: everything up to limit has been seen.
      if cursor < limit then cursor = limit end
      break
    end
  end
  if qi > 1 then
    redis.call('LTRIM', KQ, qi - 1, -1)
    local gone = 0
    for j = 1, qi - 1 do gone = gone + msgBytes(q[j]) end
    unqueued(gone, qi - 1)
  end
  if cursor ~= tonumber(r.cu) then put('cu', I(cursor)) end
  return out
end
`, ""},
	{"dropAcked", []string{"parse", "unqueued"}, `
-- dropAcked drops queued messages at or behind the cursor (acknowledged
-- ones): all of them when the queue's last one is (qt), without reading
-- them; otherwise up to 128 per call, take drops the rest.
local function dropAcked()
  if r.qn == '0' then return end
  local cu = tonumber(r.cu)
  if tonumber(r.qt) <= cu then
    redis.call('DEL', KQ)
    put('qb', '0'); put('qn', '0')
    return
  end
  local k, gone = 0, 0
  for _, e in ipairs(redis.call('LRANGE', KQ, 0, 127)) do
    if parse(e) > cu then break end
    k = k + 1
    gone = gone + msgBytes(e)
  end
  if k > 0 then
    redis.call('LTRIM', KQ, k, -1)
    unqueued(gone, k)
  end
end
`, ""},
	{"snapshot", []string{"leased", "metaOf"}, `
-- snapshot is the session as the Go side reads it:
-- {state, code, reason, live receiver, node, meta, created, values...}.
local function snapshot(lean)
  local rc, hn = '', ''
  if leased() then rc, hn = r.rc, r.hn end
  if lean then return {r.st, r.cc or '0', r.cr or '', rc, r.nd, '', '0', {}, '', hn} end
  local x = redis.call('HMGET', KR, 'mt', 'ct', 'ow', 'mn')
  return {r.st, r.cc or '0', r.cr or '', rc, r.nd, metaOf(KR, x[1], x[4]), x[2] or '0', redis.call('HGETALL', KV), x[3] or '', hn}
end
`, ""},
}

// luaScript is one of the store's scripts: its body runs after begin,
// which sets the core's and the pieces' state for the call. It runs as a
// function of the store's library (FCALL) where the server has functions
// (Redis 7 and later), and as a script (EVALSHA) elsewhere.
type luaScript struct {
	name string // its function's name in the library, after the library's name
	// flags are the function's flags: "allow-oom" for the scripts that
	// must work when Redis is out of memory (they free memory, or keep
	// leases alive), "no-writes" for a script that only reads.
	flags []string
	needs []string
	body  string
	eval  *redis.Script // the script on its own, for servers without functions
	fn    string        // the function's name: <library>_<name>
	// lazyClock: the call reads the server's clock only when it needs it
	// (clock), not in begin.
	lazyClock bool
}

// fieldSets are the lists of record fields that the scripts read at once
// (HMGET costs Redis about 0.4 µs per field of a listpack, so a call reads
// no field it does not need), 'st' first. Each becomes a Lua list and a
// constructor of the record table r from HMGET's answer, with absent
// fields at their defaults: a table built in one step costs Redis about
// 2 µs less than one filled field by field.
var fieldSets = []struct {
	name, doc string
	fields    []string
}{
	{"HOT", "what most calls need", []string{"st", "rc", "hn", "ep", "he", "id", "ex", "nd", "cu", "kt", "qb", "qn", "qt"}},
	{"OWNED", "HOT and the owner identity, for Open", []string{"st", "rc", "hn", "ep", "he", "id", "ex", "nd", "cu", "kt", "qb", "qn", "qt", "ow"}},
	{"PUSHING", "Push's", []string{"st", "rc", "nd", "cu", "qb", "qn", "qt", "ex", "kt"}},
	{"RELEASING", "Release's", []string{"st", "rc", "hn", "ep", "he", "id", "ex", "kt"}},
	{"GETTING", "Get's", []string{"st", "cc", "cr", "rc", "hn", "ep", "he", "nd"}},
}

// fieldDefaults are the values of fields that are absent from a record
// (new records leave fields at their default out); the empty string for
// the others.
var fieldDefaults = map[string]string{"cc": "0", "ep": "0", "cu": "0", "cs": "0", "kt": "0", "qb": "0", "qn": "0", "qt": "0"}

// fieldSetsLua defines the field sets in Lua, CLOSED (the fields only a
// closed session has set) and DEF (fieldDefaults).
func fieldSetsLua() string {
	var b strings.Builder
	b.WriteString("-- The field sets (see fieldSets in scripts.go); CLOSED are read when\n-- st says the session is closed.\n")
	b.WriteString("local CLOSED = {'cc', 'cr', 'cs'}\nlocal DEF = {")
	keys := make([]string, 0, len(fieldDefaults))
	for k := range fieldDefaults {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = '%s'", k, fieldDefaults[k])
	}
	b.WriteString("}\n")
	for _, fs := range fieldSets {
		fmt.Fprintf(&b, "-- %s: %s.\nlocal %s = {'%s'}\n", fs.name, fs.doc, fs.name, strings.Join(fs.fields, "', '"))
		fmt.Fprintf(&b, "%s.new = function(v) return {", fs.name)
		for i, f := range fs.fields {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s = v[%d] or '%s'", f, i+1, fieldDefaults[f])
		}
		b.WriteString("} end\n")
	}
	return b.String()
}

// script composes a script: the core, the library pieces body uses (and
// those they use), begin, then body. Each EVALSHA runs the whole chunk,
// so every function a script defines costs it, called or not; a function
// of the library (see library) defines them once, when it is loaded.
func script(name string, flags []string, body string, needs ...string) *luaScript {
	sc := &luaScript{name: name, flags: flags, needs: needs, body: body}
	sc.eval = redis.NewScript(coreLua + libSource(pieces(needs)) + sc.begin() + body)
	return sc
}

// withLazyClock makes sc read the server's clock only when it needs it.
func (sc *luaScript) withLazyClock() *luaScript {
	sc.lazyClock = true
	sc.eval = redis.NewScript(coreLua + libSource(pieces(sc.needs)) + sc.begin() + sc.body)
	return sc
}

// begin is the call of begin that starts sc's body.
func (sc *luaScript) begin() string {
	if sc.lazyClock {
		return "begin(KEYS, ARGV, true)\n"
	}
	return "begin(KEYS, ARGV)\n"
}

// pieces returns which library pieces needs asks for, with those they use.
func pieces(needs []string) map[string]bool {
	want := map[string]bool{}
	var add func(string)
	add = func(name string) {
		if want[name] {
			return
		}
		want[name] = true
		for _, p := range libLua {
			if p.name == name {
				for _, n := range p.needs {
					add(n)
				}
				return
			}
		}
		panic("redisstore: no library piece " + name)
	}
	for _, n := range needs {
		add(n)
	}
	return want
}

// libSource is the library pieces in want, in order, and begin, which
// resets their state (and the core's) at the start of a call.
func libSource(want map[string]bool) string {
	var src, init strings.Builder
	init.WriteString(coreInit)
	for _, p := range libLua {
		if want[p.name] {
			src.WriteString(p.src)
			init.WriteString(p.init)
		}
	}
	return src.String() + "\nlocal function begin(K, A, lazyClock)" + init.String() + "end\n"
}

// libraryName starts the name of the library and of its functions; the
// library's own name adds a digest of its source, so that nodes running
// different versions of the store (during a rolling upgrade) each call
// their own, side by side in one server.
const libraryName = "sockjs"

// newLibrary composes the library of scripts, each as a function, sets
// their function names, and returns the library's source for FUNCTION
// LOAD.
func newLibrary(scripts ...*luaScript) string {
	all := map[string]bool{}
	for _, p := range libLua {
		all[p.name] = true
	}
	// The functions' names start with the library's, which is known only
	// once the source is: a placeholder stands for it meanwhile.
	const self = "@LIBRARY@"
	var body strings.Builder
	body.WriteString(coreLua + libSource(all))
	for _, sc := range scripts {
		flags := make([]string, len(sc.flags))
		for i, f := range sc.flags {
			flags[i] = "'" + f + "'"
		}
		fmt.Fprintf(&body, "\nredis.register_function{function_name = '%s_%s', flags = {%s},\ncallback = function(KEYS, ARGV)\n%s%s\nend}\n",
			self, sc.name, strings.Join(flags, ", "), sc.begin(), sc.body)
	}
	sum := sha1.Sum([]byte(body.String()))
	name := libraryName + "_" + hex.EncodeToString(sum[:8])
	for _, sc := range scripts {
		sc.fn = name + "_" + sc.name
	}
	return "#!lua name=" + name + "\n" + strings.ReplaceAll(body.String(), self, name)
}

// openLua: ARGV 3 create, 4 meta, 5 node, 6 idle, 7 receiver, 8 holder,
// 9 pull, 10 releaseIfData, 11 owner, 12 lean, 13 holdFor (milliseconds;
// 0: until released).
// Reply: {'nf'} | {'nl'} | {'busy', snapshot} | {'ok', created, attached, snapshot, messages, cursor}.
const openLua = `
local created = false
local idle, receiver, holder = tonumber(ARGV[6]), ARGV[7], ARGV[8]
local holdFor = tonumber(ARGV[13])
local hep
if receiver ~= '' then
  hep = nodeLive(holder)
  if not hep then return {'nl'} end
end
if load(OWNED) then
  -- A session bound to another identity looks absent.
  if r.ow ~= ARGV[11] then return {'nf'} end
else
  if ARGV[3] ~= '1' then return {'nf'} end
  r = {st = '1', cc = '0', cr = '', rc = '', hn = '', ep = '0', he = '', id = ARGV[6],
       ex = I(now + tonumber(ARGV[6])), nd = ARGV[5],
       cu = redis.call('GET', KSEQ) or '0', cs = '0', kt = '0',
       qb = '0', qn = '0', qt = '0',
       ct = t[1] .. string.format('%06d', tonumber(t[2])), ow = ARGV[11]}
  -- The record is written by finish: st, id, ex, cu, then the fields
  -- this call sets (the hold's, kt), ct, nd and ow, then the meta.
  put('st', r.st); put('id', r.id); put('ex', r.ex); put('cu', r.cu)
  fresh = receiver ~= '' and holdFor == 0
  tail = {'ct', r.ct}
  if r.nd ~= '' then tail[#tail + 1] = 'nd'; tail[#tail + 1] = r.nd end
  if r.ow ~= '' then tail[#tail + 1] = 'ow'; tail[#tail + 1] = r.ow end
  if ARGV[4] ~= '' then metaFields(tail, ARGV[4]) end
  redis.call('INCR', KN)
  -- A session created held is in no expiry index entry (see hold).
  if not fresh then redis.call('ZADD', KEXP, r.ex, id) end
  created = true
end
local attached, msgs = 0, {}
if receiver ~= '' and r.st == '1' then
  if r.rc ~= receiver and leased() then
    return {'busy', snapshot(ARGV[12] == '1')}
  end
  if idle > 0 then put('id', I(idle)) end
  hold(receiver, holder, hep, holdFor)
  attached = 1
  if ARGV[9] == '1' then
    msgs = take(0)
    if ARGV[10] == '1' and #msgs > 0 then release(0) end
  end
elseif receiver ~= '' and ARGV[9] == '1' and r.st == '2' then
  -- What was sent before the close is still the client's.
  msgs = take(0)
end
finish()
local c = 0
if created then c = 1 end
return {'ok', c, attached, snapshot(ARGV[12] == '1'), msgs, r.cu, missed}
`

// pullLua: ARGV 3 receiver, 4 (unused), 5 idle, 6 release, 7 releaseIfData,
// 8 max (negative: take nothing), 9 ack.
// Reply: {'nf'} | {'nr'} | {'ok', messages, state, code, reason, released, cursor}.
const pullLua = `
if not load() then return {'nf'} end
local receiver = ARGV[3]
if receiver == '' or r.rc ~= receiver or not leased() then return {'nr'} end
local idle = tonumber(ARGV[5])
if idle > 0 then put('id', I(idle)) end
local ack = tonumber(ARGV[9])
if ack > tonumber(r.cu) then put('cu', I(ack)) end
local max, msgs = tonumber(ARGV[8]), {}
if max >= 0 then msgs = take(max) else dropAcked() end
local released = 0
if ARGV[6] == '1' or (ARGV[7] == '1' and #msgs > 0) then
  release(0)
  released = 1
end
finish()
return {'ok', msgs, r.st, r.cc or '0', r.cr or '', released, r.cu, missed}
`

// releaseLua: ARGV 3 receiver, 4 idle. Reply: 0.
const releaseLua = `
if not load(RELEASING) then return 0 end
local receiver = ARGV[3]
if receiver ~= '' and r.rc == receiver and leased() then
  release(tonumber(ARGV[4]))
  finish()
end
return 0
`

// pushLua: ARGV 3 max queue (messages), 4 max queue bytes, 5... messages.
// Reply: {'nf'} | {'closed'} | {'full', unread} | {'ok', receiver, node, first, prev}.
const pushLua = `
if not load(PUSHING) then return {'nf'} end
if r.st ~= '1' then return {'closed'} end
local receiver = r.rc
if r.nd ~= '' then return {'ok', receiver, r.nd, '0', '0'} end
local n = #ARGV - 4
local first, prev = 0, 0
if n > 0 then
  local have = tonumber(r.qn)
  if have + n > tonumber(ARGV[3]) then return {'full', have} end
  local size = tonumber(r.qb)
  for i = 1, n do size = size + #ARGV[4 + i] end
  if size > tonumber(ARGV[4]) then return {'full', have} end
  put('qb', I(size))
  -- prev: the highest sequence number the session was given so far.
  prev = tonumber(r.cu)
  if have > 0 then prev = math.max(prev, tonumber(r.qt)) end
  local lt = redis.call('ZRANGE', KLOG, -1, -1, 'WITHSCORES')
  if lt[2] then prev = math.max(prev, tonumber(lt[2])) end
  first = redis.call('INCRBY', KSEQ, n) - n
  local batch = {}
  for i = 1, n do
    batch[#batch + 1] = I(first + i) .. ':' .. ARGV[4 + i]
    if #batch == 1000 then
      redis.call('RPUSH', KQ, unpack(batch))
      batch = {}
    end
  end
  if #batch > 0 then redis.call('RPUSH', KQ, unpack(batch)) end
  put('qn', I(have + n)); put('qt', I(first + n))
  finish()
  -- New keys live as long as the record (finish has set kt).
  if have == 0 then redis.call('PEXPIREAT', KQ, r.kt) end
  if first == 0 then ensureRoute(tonumber(r.kt)) end
  first = first + 1
end
return {'ok', receiver, '', I(first), I(prev)}
`

// closeLua: ARGV 3 code, 4 reason, 5 idle.
// Reply: {'nf'} | {'ok', closed, snapshot}.
const closeLua = `
if not load() then return {'nf'} end
if r.st ~= '1' then return {'ok', 0, snapshot()} end
local idle = tonumber(ARGV[5])
if idle <= 0 then idle = tonumber(r.id) end
put('st', '2'); put('cc', ARGV[3]); put('cr', ARGV[4])
put('cs', redis.call('GET', KSEQ) or '0')
-- The close's own sequence number: no later broadcast directly follows
-- a message of the session.
local fresh = redis.call('INCR', KSEQ) == 1
redis.call('DECR', KN)
setDeadline(now + idle)
finish()
if fresh then ensureRoute(tonumber(r.kt)) end
return {'ok', 1, snapshot()}
`

// getLua: Reply: {'nf'} | {'ok', snapshot}.
const getLua = `
if not load(GETTING) then return {'nf'} end
return {'ok', snapshot()}
`

// setValueLua: ARGV 3 key, 4 value ("" deletes). Reply: 'nf' | 'ok'.
const setValueLua = `
local v = redis.call('HMGET', KR, 'ex', 'kt')
if not v[1] then return 'nf' end
if ARGV[4] == '' then
  redis.call('HDEL', KV, ARGV[3])
else
  redis.call('HSET', KV, ARGV[3], ARGV[4])
  local kt = tonumber(v[2]) or 0
  if kt >= tonumber(v[1]) + keyTTL then
    redis.call('PEXPIREAT', KV, I(kt))
  else
    -- A record written before kt existed.
    ensure(KV, tonumber(v[1]) + keyTTL)
  end
end
return 'ok'
`

// publishLua: ARGV 2 message, 3 retention, 4 max log length, 5 max log
// bytes. Reply: the message's sequence number, '0' when nothing was logged:
// a route without open sessions logs nothing (and writes nothing), no
// session could ever receive the message.
//
// The log is trimmed, oldest first, by age, count and bytes (its message
// bytes are kept in P:{T}:lb). Where it was trimmed, a mark "<seq>:x"
// takes the place of the last entry trimmed, so that a session whose
// cursor is behind it learns that it missed broadcasts (take sets missed).
const publishLua = `
if (tonumber(redis.call('GET', KN)) or 0) <= 0 then return '0' end
local KLB = BASE .. 'lb'
local seq = redis.call('INCR', KSEQ)
redis.call('ZADD', KLOG, I(seq), I(seq) .. ':' .. I(now) .. ':' .. ARGV[2])
local bytes = redis.call('INCRBY', KLB, #ARGV[2])
local maxLen, maxBytes = tonumber(ARGV[4]), tonumber(ARGV[5])
local cutoff = now - tonumber(ARGV[3])
local mark, trimmed = nil, 0
while true do
  local head = redis.call('ZRANGE', KLOG, 0, 1)
  local first, hs, rest = 1, nil, nil
  if head[1] then hs, rest = parse(head[1]) end
  if rest and not string.find(rest, ':', 1, true) then
    -- The old mark: the oldest message follows it.
    first, hs, rest = 2, nil, nil
    if head[2] then hs, rest = parse(head[2]) end
  end
  -- The message just published stays, whatever its size.
  if not hs or hs == seq then break end
  local k = string.find(rest, ':', 1, true)
  local n = redis.call('ZCARD', KLOG) - (first - 1)
  if n <= maxLen and bytes <= maxBytes and tonumber(string.sub(rest, 1, k - 1)) > cutoff then break end
  local size = #rest - k
  bytes, trimmed = bytes - size, trimmed + size
  redis.call('ZREMRANGEBYRANK', KLOG, 0, first - 1)
  mark = hs
end
if mark then
  redis.call('ZADD', KLOG, I(mark), I(mark) .. ':x')
  redis.call('DECRBY', KLB, trimmed)
end
ensureRoute(now)
return I(seq)
`

// reapLua: ARGV 2 the route's key base ("<prefix>:{<tag>}:"), 3 max.
// Reply: {{id, snapshot fields...}, ...}.
//
// It first ends the holds of nodes whose lease lapsed (up to 1000
// sessions per call), handing their sessions back to the expiry index, and
// forgets such nodes once done. Then it takes due entries from the expiry
// index, re-checks each record's own
// deadline (an entry scored before a renewal is re-scored, not reaped; at
// most 1000 such per call),
// deletes the due sessions' keys and returns their snapshots. The session
// keys are built here, not passed in KEYS: they share the route's hash tag,
// hence its slot, which Redis Cluster allows. When the route's last session
// is gone the route's keys go too.
const reapLua = `
local base, max = ARGV[2], tonumber(ARGV[3])
local out = {}
local removed = false -- a session went: the route's keys may have to go too
local lapsed = redis.call('ZRANGEBYSCORE', KNODES, '-inf', I(now), 'WITHSCORES', 'LIMIT', 0, 16)
for i = 1, #lapsed, 2 do
  local node, upto = lapsed[i], tonumber(lapsed[i + 1])
  local ep = nodeEntry(redis.call('HGET', KNE, node)) or ''
  if lapseHolds(node, ep, upto, 1000) then
    redis.call('ZREM', KNODES, node)
    redis.call('HDEL', KNE, node)
  end
end
local function live(node, ep)
  local e, u = nodeEntry(redis.call('HGET', KNE, node))
  return e ~= nil and e == ep and u > now
end
-- Entries examined per call, re-scored ones included: bounds the time the
-- script holds the server when many renewed sessions come due together.
local budget = max + 1000
while #out < max and budget > 0 do
  local due = redis.call('ZRANGEBYSCORE', KEXP, '-inf', I(now), 'LIMIT', 0, math.min(max - #out, budget))
  if #due == 0 then break end
  budget = budget - #due
  for _, sid in ipairs(due) do
    local kr, kq, kv = base .. 's:' .. sid, base .. 'q:' .. sid, base .. 'v:' .. sid
    local v = redis.call('HMGET', kr, 'ex', 'st', 'cc', 'cr', 'rc', 'hn', 'nd', 'mt', 'ct', 'ow', 'ep', 'mn', 'he')
    if not v[1] then
      -- The record is gone (only its TTL backstop removes one): drop the
      -- rest. Whether it was open is unknown: the count keeps it until the
      -- route has no session left (below).
      redis.call('ZREM', KEXP, sid)
      redis.call('DEL', kq, kv)
      removed = true
    elseif tonumber(v[1]) > now then
      redis.call('ZADD', KEXP, v[1], sid)
    else
      local rc, hn = '', ''
      local bounded = v[13] and v[13] ~= ''
      if v[5] and v[5] ~= '' and not (bounded and tonumber(v[13]) <= now) and live(v[6], v[11] or '') then rc, hn = v[5], v[6] end
      out[#out + 1] = {sid, v[2], v[3] or '0', v[4] or '', rc, v[7] or '', metaOf(kr, v[8], v[12]), v[9] or '0',
        redis.call('HGETALL', kv), v[10] or '', hn}
      if v[6] and v[6] ~= '' and not bounded then redis.call('SREM', base .. 'h:' .. v[6], sid) end
      redis.call('DEL', kr, kq, kv)
      removed = true
      redis.call('ZREM', KEXP, sid)
      if v[2] == '1' then redis.call('DECR', KN) end
    end
  end
end
if removed and redis.call('ZCARD', KEXP) == 0 then
  -- No session waits in the expiry index. When no node holds one either,
  -- the route has none left (a count above zero then only counts records
  -- the TTL backstop removed) and nobody can read its sequence or log.
  local left = (tonumber(redis.call('GET', KN)) or 0) > 0
  if left then
    left = false
    for _, node in ipairs(redis.call('ZRANGE', KNODES, 0, -1)) do
      for _, sid in ipairs(redis.call('SRANDMEMBER', base .. 'h:' .. node, 2)) do
        if sid ~= '' then left = true end
      end
      if left then break end
    end
  end
  if not left then redis.call('DEL', KSEQ, KLOG, KN, KEXP, base .. 'lb') end
end
return out
`

// idsLua: Reply: the ids of the route's open sessions.
//
// Every session is in the expiry index or in its holder's set h:<node>
// (a node stays in nodes while its set has sessions), so the ids are
// those of both whose records say open. It costs O(sessions of the
// route), in one call: IDs is for administration.
const idsLua = `
local out, seen = {}, {}
local function consider(sid)
  if sid ~= '' and not seen[sid] then
    seen[sid] = true
    if redis.call('HGET', BASE .. 's:' .. sid, 'st') == '1' then out[#out + 1] = sid end
  end
end
for _, sid in ipairs(redis.call('ZRANGE', KEXP, 0, -1)) do consider(sid) end
for _, node in ipairs(redis.call('ZRANGE', KNODES, 0, -1)) do
  for _, sid in ipairs(redis.call('SMEMBERS', BASE .. 'h:' .. node)) do consider(sid) end
end
return out
`

// renewNodeLua: ARGV 2 the route's key base, 3 node, 4 lease, 5 fresh,
// 6 the TTL refresh pass's cursor (empty for none), 7 how many holds to
// refresh at most.
// Reply: {epoch, renewed, cursor}.
//
// A live lease keeps its epoch; otherwise (or when fresh) the holds of the
// old epoch end (their sessions are handed to the expiry index) and a new
// epoch begins: the server's time in milliseconds, or one more than the
// node's last epoch if that is not later.
//
// Held sessions write nothing while held, so their keys' TTLs are
// refreshed here, a few per renewal, in passes over the node's holds that
// the Store starts every KeyTTL/2 (cursor '0'): each key gets 2*KeyTTL, so
// a hold's keys outlive a pass however long the node holds it. The node's
// own keys (its entries in nodes and nep, its set of holds) get the same
// when a pass or an epoch starts; a renewal in between writes no TTL.
const renewNodeLua = `
local node, lease, cursor = ARGV[3], tonumber(ARGV[4]), ARGV[6]
local kh = BASE .. 'h:' .. node
local ep, u = nodeEntry(redis.call('HGET', KNE, node))
local renewed = 0
if ep and u > now and ARGV[5] ~= '1' then
  renewed = 1
else
  local e = now
  if ep then
    local upto = now
    if u < now then upto = u end
    lapseHolds(node, ep, upto, 0)
    if tonumber(ep) >= e then e = tonumber(ep) + 1 end
  end
  ep = I(e)
  -- The set of holds always exists while the node does (so that it has
  -- its TTL): '' is no session id.
  redis.call('SADD', kh, '')
end
redis.call('ZADD', KNODES, I(now + lease), node)
redis.call('HSET', KNE, node, ep .. ':' .. I(now + lease))
if renewed == 0 or cursor == '0' then
  local horizon = I(now + lease + 2 * keyTTL)
  redis.call('PEXPIREAT', KNODES, horizon); redis.call('PEXPIREAT', KNE, horizon)
  redis.call('PEXPIREAT', kh, horizon)
  -- The route's keys too: sessions held for long write nothing.
  ensureRoute(now + lease + keyTTL)
end
local next = ''
if cursor ~= '' then
  local res = redis.call('SSCAN', kh, cursor, 'COUNT', tonumber(ARGV[7]))
  local at = I(now + 2 * keyTTL)
  for _, sid in ipairs(res[2]) do
    if sid ~= '' then
      redis.call('PEXPIREAT', BASE .. 's:' .. sid, at)
      redis.call('PEXPIREAT', BASE .. 'q:' .. sid, at)
      redis.call('PEXPIREAT', BASE .. 'v:' .. sid, at)
    end
  end
  next = res[1]
end
return {ep, renewed, next}
`

// The flags of functions that must run when Redis is out of memory, and
// of those that only read.
var (
	allowOOM = []string{"allow-oom"}
	noWrites = []string{"no-writes"}
)

var (
	scriptRenewNode = script("renew_node", allowOOM, renewNodeLua, "nodeEntry", "lapseHolds", "ensureRoute")
	scriptOpen      = script("open", nil, openLua, "leased", "hold", "release", "take", "snapshot", "metaFields")
	scriptPull      = script("pull", allowOOM, pullLua, "leased", "take", "dropAcked", "release")
	scriptRelease   = script("release", allowOOM, releaseLua, "leased", "release")
	scriptPush      = script("push", nil, pushLua, "record", "parse").withLazyClock()
	scriptClose     = script("close", allowOOM, closeLua, "setDeadline", "snapshot")
	scriptGet       = script("get", noWrites, getLua, "snapshot")
	scriptSetValue  = script("set_value", nil, setValueLua, "ensure")
	scriptPublish   = script("publish", nil, publishLua, "parse", "ensureRoute")
	scriptReap      = script("reap", allowOOM, reapLua, "nodeEntry", "lapseHolds", "metaOf")
	scriptIDs       = script("ids", noWrites, idsLua).withLazyClock()

	// library is every script as a function, for FUNCTION LOAD.
	library = newLibrary(scriptRenewNode, scriptOpen, scriptPull, scriptRelease, scriptPush,
		scriptClose, scriptGet, scriptSetValue, scriptPublish, scriptReap, scriptIDs)
)
