-- Argo CD health of logging.logplane.dev/LogOutput. A tenant destination.
-- Healthy: Ready is True for the current generation. Degraded: Ready is False
-- (reason: message). Progressing: no status yet, status.observedGeneration or
-- Ready's observedGeneration behind metadata.generation, or Ready Unknown.
local hs = {status = "Progressing", message = "Waiting for the operator to report status"}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
-- Until the operator has reported on the current spec, its conditions describe an
-- older one.
local generation = obj.metadata.generation
if generation ~= nil and (obj.status.observedGeneration == nil or obj.status.observedGeneration < generation) then
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end
local ready = nil
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then
    ready = c
  end
end
if ready == nil then
  hs.message = "Waiting for the Ready condition"
  return hs
end
if generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < generation then
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end
if ready.status == "False" then
  hs.status = "Degraded"
  hs.message = (ready.reason or "NotReady") .. ": " .. (ready.message or "")
  return hs
end
if ready.status ~= "True" then
  hs.message = ready.message or "Ready is Unknown"
  return hs
end
hs.status = "Healthy"
hs.message = ready.message or ""
local n = obj.status.pipelineCount or 0
hs.message = "Used by " .. n .. " pipeline(s)"
return hs
