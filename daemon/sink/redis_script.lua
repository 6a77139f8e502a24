-- brandmond's write of decided posts (docs/redis-schema.md, version 1).
--
-- Each ARGV[i] is one post: a JSON object built by
-- daemon/sink/redis_payload.c. Everything for a post happens here,
-- atomically, once: a marker key makes a second run of the same post (a
-- retry after a lost reply, a spool replayed after a crash) a no-op.
-- Alerts, throttles and escalations are written post by post, in order;
-- the counter increments of all the posts of one call are added up and
-- written once per key and field. Returns how many posts were written
-- (the others were there already).

local MINUTE_TTL, HOUR_TTL = 172800, 7776000
local DAY_TTL, SOV_DAY_TTL = 2592000, 34560000

-- Counter writes, gathered over the call: key -> field -> amount.
local H, HF, Z, PF, EXP = {}, {}, {}, {}, {}

local function slot(t, k)
  local v = t[k]
  if not v then
    v = {}
    t[k] = v
  end
  return v
end

local function hincr(k, f, n)
  local t = slot(H, k)
  t[f] = (t[f] or 0) + n
end

local function hincrf(k, f, x)
  local t = slot(HF, k)
  t[f] = (t[f] or 0) + x
end

local function zincr(k, member, n)
  local t = slot(Z, k)
  t[member] = (t[member] or 0) + n
end

local function pfadd(k, member)
  local t = slot(PF, k)
  t[#t + 1] = member
end

local m, P -- the post being written, and the key prefix

local function bucket_keys(brand)
  return P .. 'total:' .. brand,
         P .. 'minute:' .. brand .. ':' .. m.min,
         P .. 'hour:' .. brand .. ':' .. m.hour
end

local function bump(brand, field, n)
  local t, mk, hk = bucket_keys(brand)
  hincr(t, field, n)
  hincr(mk, field, n)
  hincr(hk, field, n)
end

local function alert(fields, json, brand)
  local alerts = P .. 'alerts'
  redis.call('XADD', alerts, 'MAXLEN', '~', m.maxlen, '*', unpack(fields))
  redis.call('PUBLISH', alerts .. ':' .. (brand ~= '' and brand or '_'), json)
end

-- Mentions, tones, sentiment, sources, authors, share of voice.
local function mentions()
  for _, b in ipairs(m.brands) do
    local t, mk, hk = bucket_keys(b.b)
    bump(b.b, 'mentions', 1)
    bump(b.b, b.tone, 1)
    bump(b.b, 'source:' .. m.src, 1)
    for _, k in ipairs({ t, mk, hk }) do
      hincrf(k, 'sentiment_sum', b.s)
    end
    EXP[mk] = MINUTE_TTL
    EXP[hk] = HOUR_TTL
    if m.author then
      local ak = P .. 'authors:' .. b.b .. ':' .. m.day
      local uk = P .. 'uniq:' .. b.b .. ':' .. m.day
      zincr(ak, m.author, 1)
      pfadd(uk, m.author)
      EXP[ak] = DAY_TTL
      EXP[uk] = DAY_TTL
    end
    local sm = P .. 'sov:minute:' .. m.min
    local sh = P .. 'sov:hour:' .. m.hour
    local sd = P .. 'sov:day:' .. m.day
    zincr(sm, b.b, 1)
    zincr(sh, b.b, 1)
    zincr(sd, b.b, 1)
    EXP[sm] = MINUTE_TTL
    EXP[sh] = HOUR_TTL
    EXP[sd] = SOV_DAY_TTL
  end
end

-- Rule matches: counted always, alerted unless throttled.
local function matches()
  for _, x in ipairs(m.matches) do
    local open = true
    if x.thr then
      open = redis.call('SET', x.thr, '1', 'NX', 'PX', x.px)
    end
    if x.b ~= '' then
      bump(x.b, x.kind, 1)
      bump(x.b, 'rule:' .. x.rule, 1)
      bump(x.b, open and 'alerts' or 'throttled', 1)
    end
    if open then
      alert(x.fields, x.json, x.b)
    end
  end
end

local function hsum(key, fields)
  local sum = 0
  for _, v in ipairs(redis.call('HMGET', key, unpack(fields))) do
    sum = sum + (tonumber(v) or 0)
  end
  return sum
end

-- Escalations: per-minute counts (written at once: the next post of the
-- same call must see them), window against baseline, cooldown.
local function escalations()
  local minute = math.floor(m.now / 60000)
  for _, e in ipairs(m.esc) do
    local ek = P .. 'esc:' .. e.id
    local keep = (e.win + e.base + 1) * 60000
    redis.call('HINCRBY', ek, minute, 1)
    redis.call('PEXPIRE', ek, keep)
    redis.call('LPUSH', ek .. ':samples', m.id)
    redis.call('LTRIM', ek .. ':samples', 0, 4)
    redis.call('PEXPIRE', ek .. ':samples', keep)
    local fields = {}
    for i = 0, e.win - 1 do fields[#fields + 1] = minute - i end
    local count = hsum(ek, fields)
    local baseline = 0
    if e.base > 0 then
      local sum, bf = 0, {}
      for i = e.win, e.win + e.base - 1 do
        bf[#bf + 1] = minute - i
        if #bf == 500 then
          sum = sum + hsum(ek, bf)
          bf = {}
        end
      end
      if #bf > 0 then sum = sum + hsum(ek, bf) end
      baseline = sum / (e.base / e.win)
    end
    if count >= e.cnt and (e.ratio == 0 or count >= e.ratio * baseline)
       and redis.call('SET', ek .. ':cooldown', '1', 'NX', 'PX', e.cool) then
      local samples = redis.call('LRANGE', ek .. ':samples', 0, 4)
      local base2 = math.floor(baseline * 100 + 0.5) / 100
      local msg = string.format('%s: %d %s matches for %s in %d min '
                                .. '(baseline %.2f)', e.id, count, e.kind,
                                e.name, e.win, base2)
      local f = { 'schema', '1', 'kind', 'escalation', 'rule', e.id,
                  'priority', e.prio, 'brand', e.b, 'count', tostring(count),
                  'baseline', tostring(base2), 'samples',
                  cjson.encode(samples), 'source', m.src, 'post_id', m.id,
                  'detected_at', m.at, 'instance', m.inst, 'message', msg }
      local j = { schema = 1, kind = 'escalation', rule = e.id,
                  priority = e.prio, brand = e.b, count = count,
                  baseline = base2, samples = samples, source = m.src,
                  post_id = m.id, detected_at = m.at, instance = m.inst,
                  message = msg }
      alert(f, cjson.encode(j), e.b)
      bump(e.b, 'escalations', 1)
    end
  end
end

local written = 0
for i = 1, #ARGV do
  m = cjson.decode(ARGV[i])
  P = m.p
  if redis.call('SET', P .. 'seen:' .. m.src .. ':' .. m.id, '1', 'NX',
                'EX', 86400) then
    mentions()
    matches()
    escalations()
    written = written + 1
  end
end

for k, t in pairs(H) do
  for f, n in pairs(t) do redis.call('HINCRBY', k, f, n) end
end
for k, t in pairs(HF) do
  for f, x in pairs(t) do redis.call('HINCRBYFLOAT', k, f, x) end
end
for k, t in pairs(Z) do
  for member, n in pairs(t) do redis.call('ZINCRBY', k, n, member) end
end
for k, t in pairs(PF) do redis.call('PFADD', k, unpack(t)) end
for k, ttl in pairs(EXP) do redis.call('EXPIRE', k, ttl) end
return written
