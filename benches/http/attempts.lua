-- wrk script: check-and-record a letter for one of 1,000 accounts (L-0 … L-999) at
-- random (or of ACCOUNTS accounts PREFIX0 …, see below). Letters meet no cap in the
-- shipped packs for these accounts (Pennsylvania, see setup.py), so every request is a
-- durable write.
-- Needs DUNNER_KEY (a token with the `record` scope) in the environment.
local key = os.getenv("DUNNER_KEY")
-- The seeded variant (attempts.sh with HISTORY_ACCOUNTS) posts to ACCOUNTS accounts PREFIX0 ….
local accounts = tonumber(os.getenv("ACCOUNTS") or "1000")
local prefix = os.getenv("PREFIX") or "L-"
math.randomseed(os.time())

request = function()
  local path = "/v1/accounts/" .. prefix .. math.random(0, accounts - 1) .. "/attempts"
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }, '{"channel":"letter","at":"2026-04-07T15:00:00Z"}')
end

local recorded = 0
response = function(status)
  if status == 201 then recorded = recorded + 1 end
end
