-- wrk script: check-and-record a letter for one of 1,000 accounts (L-0 … L-999) at
-- random. Letters meet no cap in the shipped packs for these accounts (Pennsylvania, see
-- setup.py), so every request is a durable write.
-- Needs DUNNER_KEY (a token with the `record` scope) in the environment.
local key = os.getenv("DUNNER_KEY")
math.randomseed(os.time())

request = function()
  local path = "/v1/accounts/L-" .. math.random(0, 999) .. "/attempts"
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }, '{"channel":"letter","at":"2026-04-07T15:00:00Z"}')
end

local recorded = 0
response = function(status)
  if status == 201 then recorded = recorded + 1 end
end
