-- The Lua side of case 6 of bench/twbench: the calls lua/tcptw.lua makes
-- on the first pass, from plain Lua 5.2 through the real shim, without
-- Wireshark (so without its pinfo and tree costs).
--   lua5.2 boundary.lua SHIM FRAMES RUNS
-- FRAMES holds, per frame, a line "framelen keylen sec nsec", the frame
-- and the key. Prints, per measurement, "name ns=MEDIAN runs=R1,R2,...":
--   tcptw: shim.run(OP_TCPTW, frame, "", sec, nsec, number, 1, sport, dport)
--          (the ports taken from the key once) and
--          shim.result(2), over every frame, the Go state reset first;
--   fetch: shim.run(OP_FETCH, "", "", OP_TCPTW, 0, 1), which finds
--          nothing: Lua to C to Go and back with the least work.
-- Times are CPU time (os.clock) per call.

local shim_path, frames_path, runs = arg[1], arg[2], tonumber(arg[3] or "5")
local open = assert(package.loadlib(shim_path, "luaopen_goshim"))
local shim = open()
local OP_TCPTW, OP_FETCH = 3, 7

local frames = {}
local f = assert(io.open(frames_path, "rb"))
while true do
    local line = f:read("*l")
    if not line then break end
    local fl, kl, sec, nsec = line:match("^(%d+) (%d+) (%d+) (%d+)$")
    assert(fl, "bad frames file")
    local frame, key = f:read(tonumber(fl)), f:read(tonumber(kl))
    local sport, dport = key:match(" (%d+)\n.* (%d+)$")
    assert(sport, "bad key")
    frames[#frames + 1] = { frame, tonumber(sport), tonumber(sec), tonumber(nsec), tonumber(dport) }
end
f:close()
assert(#frames > 0, "no frames")

local function tcptw()
    shim.reset()
    local run, result = shim.run, shim.result
    local t0 = os.clock()
    for i = 1, #frames do
        local fr = frames[i]
        local ok, msg = run(OP_TCPTW, fr[1], "", fr[3], fr[4], i, 1, fr[2], fr[5])
        if not ok then error("tcptw call failed: " .. tostring(msg)) end
        local r = result(2)
        if r[1] ~= 0 then error("frame " .. i .. " not decoded") end
    end
    return (os.clock() - t0) / #frames
end

local function fetch()
    local run = shim.run
    local t0 = os.clock()
    for _ = 1, #frames do
        if run(OP_FETCH, "", "", OP_TCPTW, 0, 1) ~= false then error("fetch found something") end
    end
    return (os.clock() - t0) / #frames
end

local function measure(name, fn)
    fn() -- warm-up
    local t = {}
    for i = 1, runs do t[i] = fn() * 1e9 end
    local s = {}
    for i = 1, #t do s[i] = t[i] end
    table.sort(s)
    local m = #s % 2 == 1 and s[(#s + 1) / 2] or (s[#s / 2] + s[#s / 2 + 1]) / 2
    local parts = {}
    for i = 1, #t do parts[i] = string.format("%.0f", t[i]) end
    print(string.format("%s ns=%.0f runs=%s", name, m, table.concat(parts, ",")))
end

measure("tcptw", tcptw)
measure("fetch", fetch)
shim.reset()
