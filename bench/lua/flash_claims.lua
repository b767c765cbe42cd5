-- wrk script: the flash-sale burst. Buyers claim in turn, over and over for the run's duration
-- (each request with its own Idempotency-Key), so every buyer claims more than once.
-- A winner answered 202 (its order is still in the server's line) polls its claim about once a
-- second (or when the answer's retry_after_ms says) until the order is there, as the
-- mini-program does; polls are counted apart.
-- args: <tokens file: "token address_id" per line> <session_id> <item_id>
local buyers = {}
local session_id, item_id
local index = 0
local polls = {}      -- min-heap by due of { key = request id, token = ..., due = request count }

-- The poll queue is a binary heap: a thousand winners each waiting for their order would make
-- a sort on every insert cost the client (not the server) seconds of CPU in the burst's
-- first second, and a starved client inflates every request's measured latency.
local function heap_push(item)
  local i = #polls + 1
  polls[i] = item
  while i > 1 do
    local parent = math.floor(i / 2)
    if polls[parent].due <= item.due then break end
    polls[i], polls[parent] = polls[parent], item
    i = parent
  end
end

local function heap_pop()
  local top, n = polls[1], #polls
  local last = polls[n]
  polls[n] = nil
  n = n - 1
  if n > 0 then
    local i = 1
    while true do
      local child = i * 2
      if child > n then break end
      if child < n and polls[child + 1].due < polls[child].due then child = child + 1 end
      if last.due <= polls[child].due then break end
      polls[i] = polls[child]
      i = child
    end
    polls[i] = last
  end
  return top
end
-- wrk's Lua has only whole-second wall time: a poll "a second later" is due after as many
-- requests as this thread sent in the last whole second (else every poll would fall on the
-- same instant, which no crowd of phones does).
local sent, second, sent_at_second, per_second = 0, nil, 0, 1000

function init(args)
  for line in io.lines(args[1]) do
    local token, address = line:match("^(%S+)%s+(%d+)$")
    if token then buyers[#buyers + 1] = { token = token, address = address } end
  end
  session_id, item_id = args[2], args[3]
end

function request()
  sent = sent + 1
  local now = os.time()
  if second ~= now then
    if second then per_second = math.max(1, sent - sent_at_second) end
    second, sent_at_second = now, sent
  end
  local head = polls[1]
  if head and head.due <= sent then
    heap_pop()
    return wrk.format("GET", "/api/v1/flash-sales/claims/state?session_id=" .. session_id .. "&request_id=" .. head.key,
      { ["Authorization"] = "Bearer " .. head.token })
  end
  index = index + 1
  local buyer = buyers[((index - 1) % #buyers) + 1]
  local key = "fs-" .. index
  local body = '{"session_id":' .. session_id .. ',"item_id":' .. item_id .. ',"quantity":1,"delivery_mode":"express","address_id":' .. buyer.address .. '}'
  return wrk.format("POST", "/api/v1/flash-sales/claims", {
    ["Authorization"] = "Bearer " .. buyer.token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = key,
  }, body)
end

-- Status counts, printed at the end (the bench reads them back from wrk's output).
local threads = {}
function setup(thread) threads[#threads + 1] = thread end
c201, c202, c409, c4xx, c5xx, p_queued, p_ordered, p_other = 0, 0, 0, 0, 0, 0, 0, 0
local function poll_later(key, body)
  -- the key names its claim's buyer: "fs-<n>" was sent by buyer n (round robin); the answer
  -- says when to look again (retry_after_ms), as the mini-program follows it
  local n = tonumber(key:match("^fs%-(%d+)$"))
  local after = tonumber(body:match('"retry_after_ms":(%d+)') or "1000")
  heap_push({ key = key, token = buyers[((n - 1) % #buyers) + 1].token,
              due = sent + math.floor(per_second * after / 1000) })
end
function response(status, headers, body)
  local polled = body:match('"status":"(%a+)"')
  if status == 200 and polled then
    local key = body:match('"request_id":"([^"]+)"')
    if polled == "queued" then p_queued = p_queued + 1; poll_later(key, body)
    elseif polled == "ordered" then p_ordered = p_ordered + 1
    else p_other = p_other + 1 end
  elseif status == 201 then c201 = c201 + 1
  elseif status == 202 then
    c202 = c202 + 1
    poll_later(body:match('"request_id":"([^"]+)"'), body)
  elseif status == 409 then
    c409 = c409 + 1
    local code = body:match('"error":"([%w_]+)"') or "?"
    _G["e_" .. code] = (_G["e_" .. code] or 0) + 1
    codes = (codes or "")
    if not codes:find(code, 1, true) then codes = codes .. code .. " " end
  elseif status >= 500 then c5xx = c5xx + 1
  else c4xx = c4xx + 1 end
end
function done(summary, latency, requests)
  local a, q, b, c, d, pq, po, px = 0, 0, 0, 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("c201"); q = q + t:get("c202"); b = b + t:get("c409"); c = c + t:get("c4xx"); d = d + t:get("c5xx")
    pq = pq + t:get("p_queued"); po = po + t:get("p_ordered"); px = px + t:get("p_other")
  end
  local detail = ""
  for _, t in ipairs(threads) do
    for code in (t:get("codes") or ""):gmatch("%S+") do
      detail = detail .. " " .. code .. "=" .. tostring(t:get("e_" .. code))
    end
  end
  io.write(string.format("STATUS 201=%d 202=%d 409=%d other4xx=%d 5xx=%d;%s\n", a, q, b, c, d, detail))
  io.write(string.format("POLLS queued=%d ordered=%d other=%d\n", pq, po, px))
end
