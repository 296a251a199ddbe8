-- wrk script of the deal-command bench: stage moves over HTTP. Each thread takes its own share
-- of the deals (one id a line in the file given as the first argument) and moves them round
-- after round through a cycle of open stages, so no request is a no-op move to the same stage
-- and a deal's next move comes only after every other deal of the thread had one.
-- Arguments after `--`: deals file, API key, number of threads.

local threads_started = 0

function setup(thread)
   thread:set("thread_index", threads_started)
   threads_started = threads_started + 1
end

local stages = { "qualified", "proposal", "invoice", "new" }
local mine = {}
local position = 1
local round = 0
local headers

function init(args)
   local threads = tonumber(args[3])
   local line_number = 0
   for line in io.lines(args[1]) do
      if line_number % threads == thread_index then
         table.insert(mine, line)
      end
      line_number = line_number + 1
   end
   headers = { ["Content-Type"] = "application/json", ["X-API-Key"] = args[2] }
end

function request()
   local deal = mine[position]
   local stage = stages[round % #stages + 1]
   position = position + 1
   if position > #mine then
      position = 1
      round = round + 1
   end
   local body = '{"stage":"' .. stage .. '"}'
   return wrk.format("POST", "/v1/deals/" .. deal .. "/stage", headers, body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRK_SUMMARY {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,'
         .. '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99)
   ))
end
