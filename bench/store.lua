-- wrk script of bench/store.sh: creates or refreshes sessions on sessionward-core over CDI (5.4).
--
-- Environment (read in every Lua state wrk makes):
--   STORE_MODE    "create" (POST /recipe/session; each new session's refresh token is appended to
--                 the pool file of the thread) or "refresh" (POST /recipe/session/refresh, each
--                 refresh token of a pool used once)
--   STORE_POOL    directory of the pool files, one per thread: tokens-<thread>.txt
--   STORE_API_KEY the core's api key
--   STORE_SECOND  127.0.0.1:<port> of a second instance: the even threads send there (the load
--                 split across two instances); empty: every thread sends to the URL given to wrk
--   STORE_THREADS how many threads wrk runs (its -t)
-- A refresh thread takes every STORE_THREADS-th token of all the pools, so with two instances
-- about half the sessions are refreshed on the instance that did not create them. done() prints one line: STORE ok=… failed=… exhausted=… duration_us=… p50_us=…
-- p99_us=… …; an answer other than a 200 with `"status":"OK"` counts as failed, and a refresh
-- thread that handed out its whole pool stops and counts as exhausted (its figures would be
-- too low).

local mode = os.getenv("STORE_MODE")
local pool = os.getenv("STORE_POOL")
local api_key = os.getenv("STORE_API_KEY")
local second = os.getenv("STORE_SECOND") or ""

local threads = {}
local count = 0

function setup(thread)
   count = count + 1
   thread:set("id", count)
   if second ~= "" and count % 2 == 0 then
      local host, port = second:match("^([%d.]+):(%d+)$")
      thread.addr = wrk.lookup(host, port)[1]
   end
   table.insert(threads, thread)
end

local headers = {
   ["api-key"] = api_key,
   ["cdi-version"] = "5.4",
   ["content-type"] = "application/json",
}
local out, tokens, next_token = nil, {}, 1
ok, failed, exhausted = 0, 0, 0

function init(args)
   if mode == "create" then
      out = assert(io.open(string.format("%s/tokens-%d.txt", pool, id), "a"))
      -- Line-buffered: wrk exits without closing the Lua states, so nothing may wait in a buffer.
      out:setvbuf("line")
   else
      -- Every n-th token of all the pools, so that the threads get equal shares however
      -- unequally the create threads filled them.
      local n, k = tonumber(os.getenv("STORE_THREADS")), 0
      for t = 1, n do
         local file = io.open(string.format("%s/tokens-%d.txt", pool, t))
         if file then
            for line in file:lines() do
               if k % n == id - 1 then tokens[#tokens + 1] = line end
               k = k + 1
            end
            file:close()
         end
      end
   end
end

local create_body = '{"userId":"bench","userDataInJWT":{},"userDataInDatabase":{},"enableAntiCsrf":false}'

function request()
   if mode == "create" then
      return wrk.format("POST", "/recipe/session", headers, create_body)
   end
   -- Past the end of the pool: a used token, refused, while the thread stops.
   local token = tokens[next_token] or tokens[1] or "none"
   next_token = next_token + 1
   return wrk.format("POST", "/recipe/session/refresh", headers,
      string.format('{"refreshToken":"%s","enableAntiCsrf":false,"useDynamicSigningKey":true}', token))
end

function response(status, _, body)
   if status == 200 and body:find('"status":"OK"', 1, true) then
      if mode == "create" then
         local token = body:match('"refreshToken":{[^}]-"token":"([^"]+)"')
         if token then
            ok = ok + 1
            out:write(token, "\n")
         else
            failed = failed + 1
         end
      else
         ok = ok + 1
      end
   else
      failed = failed + 1
   end
   if mode == "refresh" and next_token > #tokens and exhausted == 0 then
      exhausted = 1
      wrk.thread:stop()
   end
end

function done(summary, latency, _)
   local totals = { ok = 0, failed = 0, exhausted = 0 }
   for _, thread in ipairs(threads) do
      for name in pairs(totals) do
         totals[name] = totals[name] + (thread:get(name) or 0)
      end
   end
   io.write(string.format(
      "STORE ok=%d failed=%d exhausted=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
      totals.ok, totals.failed, totals.exhausted, summary.duration,
      latency:percentile(50), latency:percentile(99), summary.errors.status,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
