-- wrk script: a mixed load over random accounts of a ledger filled by fill_ledger.py
-- (A-0000000 … A-<N-1>):
--   20% POST /v1/accounts/{id}/attempts   a call to the account's mobile, or a letter
--   30% POST /v1/decisions                 "may I call?" (logged, records nothing)
--   25% GET  /v1/accounts/{id}/windows?channel=call&days=7
--   25% GET  /v1/accounts/{id}/events
-- Questions are asked on 2026-04-07 between 14:00 and 21:59 UTC, just after the filled
-- history (the 60 days before). Needs DUNNER_KEY (a token with the `admin` scope, or
-- `decide` + `record`); DUNNER_ACCOUNTS is the number of accounts (default 1,000,000).
local key = os.getenv("DUNNER_KEY")
local accounts = tonumber(os.getenv("DUNNER_ACCOUNTS") or "1000000")

-- The same table as fill_ledger.py: account i lives in STATES[i % 15] and its mobile is
-- +1 <area code (i // 15) % #codes> 555 <i % 10000>.
local codes = {
  {"212", "518", "716"}, {"617", "508", "413"}, {"206", "509", "253"},
  {"213", "415", "559", "916"}, {"214", "512", "713", "915"}, {"305", "407", "813"},
  {"312", "217"}, {"215", "412"}, {"216", "614"}, {"404", "912"}, {"704", "919"},
  {"313", "616"}, {"201", "609"}, {"602", "520"}, {"303", "719"},
}

local function phone(i)
  local state = codes[i % 15 + 1]
  local code = state[math.floor(i / 15) % #state + 1]
  return string.format("+1%s555%04d", code, i % 10000)
end

local function at()
  return string.format("2026-04-07T%02d:%02d:00Z", math.random(14, 21), math.random(0, 59))
end

local json = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key }
local auth = { ["Authorization"] = "Bearer " .. key }

local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init()
  math.randomseed(os.time() * 1000 + id)
  counts = { attempt = 0, decision = 0, windows = 0, events = 0, recorded = 0,
             refused = 0, errors = 0 }
end

request = function()
  local i = math.random(0, accounts - 1)
  local account = string.format("A-%07d", i)
  local r = math.random(100)
  if r <= 20 then
    counts.attempt = counts.attempt + 1
    local body
    if r <= 12 then
      body = string.format('{"channel":"call","contact_point":"%s","outcome":"no_answer","at":"%s"}',
                           phone(i), at())
    else
      body = string.format('{"channel":"letter","outcome":"sent","at":"%s"}', at())
    end
    return wrk.format("POST", "/v1/accounts/" .. account .. "/attempts", json, body)
  elseif r <= 50 then
    counts.decision = counts.decision + 1
    local body = string.format(
      '{"account_id":"%s","channel":"call","contact_point":"%s","at":"%s"}', account, phone(i), at())
    return wrk.format("POST", "/v1/decisions", json, body)
  elseif r <= 75 then
    counts.windows = counts.windows + 1
    return wrk.format("GET", "/v1/accounts/" .. account ..
                      "/windows?channel=call&days=7&from=2026-04-07T12:00:00Z", auth)
  else
    counts.events = counts.events + 1
    return wrk.format("GET", "/v1/accounts/" .. account .. "/events", auth)
  end
end

response = function(status)
  if status == 201 then
    counts.recorded = counts.recorded + 1
  elseif status == 409 then
    counts.refused = counts.refused + 1
  elseif status ~= 200 then
    counts.errors = counts.errors + 1
  end
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for k, v in pairs(c) do total[k] = (total[k] or 0) + v end
  end
  io.write(string.format(
    "sent: %d attempts, %d decisions, %d windows, %d event listings\n",
    total.attempt or 0, total.decision or 0, total.windows or 0, total.events or 0))
  io.write(string.format("attempts: %d recorded (201), %d refused (409); other errors: %d\n",
    total.recorded or 0, total.refused or 0, total.errors or 0))
end
