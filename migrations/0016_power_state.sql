-- A desktop's power state as its platform reports it (the pool sync, PUT
-- /v1/pools/{name}/desktops; kms-model.md section 3): a desktop reported
-- "off" renews nothing, so the forecast credits none of its future renewals
-- until a later report says "on". "unknown" (the default) leaves the model as
-- it was. platform_id is the platform's own id of the machine (Horizon machine
-- id, Citrix machine UID, Aria resource id), kept for the scripts.
--
-- The forecast reads power_state: the desktop triggers of 0010/0013 already
-- bump and log every UPDATE of desktops, whichever column it changes, so a
-- power change reaches every estate (in full or by changed rows) with no new
-- trigger. Writers change these columns only when the value changes, so a
-- sync that says nothing new bumps nothing.
ALTER TABLE desktops ADD COLUMN power_state text NOT NULL DEFAULT 'unknown'
  CHECK (power_state IN ('on', 'off', 'unknown'));
ALTER TABLE desktops ADD COLUMN platform_id text
  CHECK (length(platform_id) BETWEEN 1 AND 256);
