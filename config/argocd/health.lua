-- Argo CD health for logplane resources: Healthy when Ready is True for the current
-- generation, Degraded when Ready is False, Progressing while the operator has not
-- yet reported on the latest spec.
local hs = {}
local generation = obj.metadata.generation
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end
if generation ~= nil and obj.status.observedGeneration ~= nil and obj.status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then
    if generation ~= nil and c.observedGeneration ~= nil and c.observedGeneration < generation then
      hs.status = "Progressing"
      hs.message = "Waiting for the operator to observe generation " .. generation
    elseif c.status == "True" then
      hs.status = "Healthy"
      hs.message = c.message
    elseif c.status == "False" then
      hs.status = "Degraded"
      hs.message = c.reason .. ": " .. c.message
    else
      hs.status = "Progressing"
      hs.message = c.message
    end
    return hs
  end
end
hs.status = "Progressing"
hs.message = "Waiting for the Ready condition"
return hs
