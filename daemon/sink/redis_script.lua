-- brandmond's write of one decided post (docs/redis-schema.md, version 1).
--
-- ARGV[1] is a JSON object built by daemon/sink/redis_payload.c. Everything
-- for the post happens here, atomically, once: the marker key makes a
-- second run of the same post (a retry after a lost reply, a spool replayed
-- after a crash) a no-op that returns 0.
local m = cjson.decode(ARGV[1])
local P = m.p
local marker = P .. 'seen:' .. m.src .. ':' .. m.id
if not redis.call('SET', marker, '1', 'NX', 'EX', 86400) then
  return 0
end

local MINUTE_TTL, HOUR_TTL = 172800, 7776000
local DAY_TTL, SOV_DAY_TTL = 2592000, 34560000

local function bucket_keys(brand)
  return P .. 'total:' .. brand,
         P .. 'minute:' .. brand .. ':' .. m.min,
         P .. 'hour:' .. brand .. ':' .. m.hour
end

local function bump(brand, field, n)
  local t, mk, hk = bucket_keys(brand)
  redis.call('HINCRBY', t, field, n)
  redis.call('HINCRBY', mk, field, n)
  redis.call('HINCRBY', hk, field, n)
end

-- Mentions, tones, sentiment, sources, authors, share of voice.
for _, b in ipairs(m.brands) do
  local t, mk, hk = bucket_keys(b.b)
  bump(b.b, 'mentions', 1)
  bump(b.b, b.tone, 1)
  bump(b.b, 'source:' .. m.src, 1)
  for _, k in ipairs({ t, mk, hk }) do
    redis.call('HINCRBYFLOAT', k, 'sentiment_sum', b.s)
  end
  redis.call('EXPIRE', mk, MINUTE_TTL)
  redis.call('EXPIRE', hk, HOUR_TTL)
  if m.author then
    local ak = P .. 'authors:' .. b.b .. ':' .. m.day
    local uk = P .. 'uniq:' .. b.b .. ':' .. m.day
    redis.call('ZINCRBY', ak, 1, m.author)
    redis.call('EXPIRE', ak, DAY_TTL)
    redis.call('PFADD', uk, m.author)
    redis.call('EXPIRE', uk, DAY_TTL)
  end
  local sm = P .. 'sov:minute:' .. m.min
  local sh = P .. 'sov:hour:' .. m.hour
  local sd = P .. 'sov:day:' .. m.day
  redis.call('ZINCRBY', sm, 1, b.b)
  redis.call('EXPIRE', sm, MINUTE_TTL)
  redis.call('ZINCRBY', sh, 1, b.b)
  redis.call('EXPIRE', sh, HOUR_TTL)
  redis.call('ZINCRBY', sd, 1, b.b)
  redis.call('EXPIRE', sd, SOV_DAY_TTL)
end

local alerts = P .. 'alerts'

local function alert(fields, json, brand)
  redis.call('XADD', alerts, 'MAXLEN', '~', m.maxlen, '*', unpack(fields))
  redis.call('PUBLISH', alerts .. ':' .. (brand ~= '' and brand or '_'), json)
end

-- Rule matches: counted always, alerted unless throttled.
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

-- Escalations: per-minute counts, window against baseline, cooldown.
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
  local count = 0
  for _, v in ipairs(redis.call('HMGET', ek, unpack(fields))) do
    count = count + (tonumber(v) or 0)
  end
  local baseline = 0
  if e.base > 0 then
    local sum, bf = 0, {}
    for i = e.win, e.win + e.base - 1 do
      bf[#bf + 1] = minute - i
      if #bf == 500 then
        for _, v in ipairs(redis.call('HMGET', ek, unpack(bf))) do
          sum = sum + (tonumber(v) or 0)
        end
        bf = {}
      end
    end
    if #bf > 0 then
      for _, v in ipairs(redis.call('HMGET', ek, unpack(bf))) do
        sum = sum + (tonumber(v) or 0)
      end
    end
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
                'baseline', tostring(base2), 'samples', cjson.encode(samples),
                'source', m.src, 'post_id', m.id, 'detected_at', m.at,
                'instance', m.inst, 'message', msg }
    local j = { schema = 1, kind = 'escalation', rule = e.id,
                priority = e.prio, brand = e.b, count = count,
                baseline = base2, samples = samples, source = m.src,
                post_id = m.id, detected_at = m.at, instance = m.inst,
                message = msg }
    alert(f, cjson.encode(j), e.b)
    bump(e.b, 'escalations', 1)
  end
end
return 1
