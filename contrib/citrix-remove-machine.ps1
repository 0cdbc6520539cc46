<#
citrix-remove-machine.ps1 - remove Citrix machines (Remove-BrokerMachine) only
when kmsgate says the KMS host keeps enough activations (go / no-go).

  1. Looks the machines up (Get-BrokerMachine) for their DNS names.
  2. Asks POST /v1/gate with decommission {desktops: [...]}, reserve: true and an
     Idempotency-Key (the machine list + date: a retry or a re-run the same
     day gets the same answer and the same plan instead of a second one).
  3. No-go: prints the reasons and the largest safe decommission; changes nothing.
  4. Go: for each machine: maintenance mode, shut down (power-managed machines;
     a machine that keeps running keeps renewing its KMS activation), remove
     from its delivery group, remove from its catalog.
  5. Then POST /v1/plans/{id}/commit (the desktops become decommissioned in
     kmsgate), or /release if a removal failed; machines already removed are
     then recorded with DELETE /v1/desktops/{hostname}.

Removing a machine from its catalog deletes only the broker's record: for MCS
catalogs delete the VM and its AD account afterwards (Remove-ProvVM,
Remove-AcctADAccount), as Studio's "Delete" does. Run it where the Citrix
Broker PowerShell SDK is installed (a Delivery Controller, Studio, or the DaaS
Remote PowerShell SDK), with Windows PowerShell 5.1:

  .\citrix-remove-machine.ps1 -MachineName 'CORP\VDI-P1-001','CORP\VDI-P1-002'
  Get-Content retire.txt | .\citrix-remove-machine.ps1 -AdminAddress ddc01.corp.example
  .\citrix-remove-machine.ps1 -MachineName 'CORP\VDI-P1-001' -WhatIf      # ask only

Parameters:
  -MachineName    machines as Citrix names them (DOMAIN\NAME); also from the pipeline
  -AdminAddress   Delivery Controller (default: the local one / the SDK's default)
  -KmsHost        the KMS host (default: kmsgate's record of the first machine)
  -Url            kmsgate base URL; -TokenFile holds a token of role "hook"
                  (readable by the account that runs this script only)
  -TtlMinutes     how long the reservation holds (default 60)
  -ShutdownMinutes  how long to wait for the machines to power off (default 15)
  -Force          remove from the delivery group even with sessions still on it
  -IdempotencyKey to override the default key (e.g. to ask afresh the same day)
  -WhatIf         ask the gate without reserving or changing anything

All machines must use one KMS host (one gate question). Exit codes:
  0  go, the machines are removed and kmsgate records it (or -WhatIf and go, or already done)
  1  error: bad parameters, unknown machine, token or request refused
     (401/403/404/422), or a removal failed (the plan is released)
  2  no-go: nothing changed; the reasons are printed
  3  kmsgate unavailable (503, 5xx or no answer after retries): nothing changed (fail closed)
  4  conflict (409): a machine is held by another reserved plan; nothing changed, retry later
  5  machines were (partly) removed but kmsgate could not record it: run the printed commands
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
  [Parameter(Mandatory = $true, ValueFromPipeline = $true)][string[]]$MachineName,
  [string]$AdminAddress,
  [string]$KmsHost,
  [string]$Url = 'https://kmsgate.corp.example',
  [string]$TokenFile = 'C:\kmsgate\token',
  [ValidateRange(1, 1440)][int]$TtlMinutes = 60,
  [ValidateRange(1, 1440)][int]$ShutdownMinutes = 15,
  [switch]$Force,
  [string]$IdempotencyKey
)
begin { $names = @() }
process { $names += $MachineName }
end {
$ErrorActionPreference = 'Stop'
# Windows PowerShell 5.1 may not offer TLS 1.2 by default.
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
$Url = $Url.TrimEnd('/')
$token = (Get-Content -Raw $TokenFile).Trim()
$dryRun = [bool]$WhatIfPreference
$ddc = @{}
if ($AdminAddress) { $ddc.AdminAddress = $AdminAddress }

# ---------------------------------------------------------------- kmsgate calls

# One request; never throws. Status 0 means no answer (network, timeout).
function Invoke-Kmsgate([string]$Method, [string]$Path, $Body = $null, [string]$Key = $null) {
  $headers = @{ Authorization = "Bearer $token"; Accept = 'application/json' }
  if ($Key) { $headers['Idempotency-Key'] = $Key }
  $request = @{ Method = $Method; Uri = "$Url$Path"; Headers = $headers; UseBasicParsing = $true; TimeoutSec = 60 }
  if ($null -ne $Body) {
    $request.ContentType = 'application/json; charset=utf-8'
    $request.Body = [System.Text.Encoding]::UTF8.GetBytes((ConvertTo-Json -InputObject $Body -Depth 8 -Compress))
  }
  $status = 0
  $text = $null
  try {
    $response = Invoke-WebRequest @request
    $status = [int]$response.StatusCode
    $text = [System.Text.Encoding]::UTF8.GetString($response.RawContentStream.ToArray())
  } catch {
    $failure = $_
    if ($null -ne $failure.Exception.Response) {
      $status = [int]$failure.Exception.Response.StatusCode
      $text = $failure.ErrorDetails.Message
    } else {
      $text = $failure.Exception.Message
    }
  }
  $json = $null
  if ($text) { try { $json = $text | ConvertFrom-Json } catch { $json = $null } }
  return [pscustomobject]@{ Status = $status; Body = $json; Text = $text }
}

# Retries what may pass on a second try: no answer and 5xx (503 carries Retry-After).
# Safe for the gate (Idempotency-Key), commit, release and DELETE (all idempotent).
function Invoke-KmsgateRetry([string]$Method, [string]$Path, $Body = $null, [string]$Key = $null) {
  for ($attempt = 1; ; $attempt++) {
    $r = Invoke-Kmsgate $Method $Path $Body $Key
    if (($r.Status -ne 0 -and $r.Status -lt 500) -or $attempt -ge 4) { return $r }
    Start-Sleep -Seconds (5 * $attempt)
  }
}

function Get-Problem($r) {
  if ($null -eq $r.Body) { return "HTTP $($r.Status): $($r.Text)" }
  $lines = @("HTTP $($r.Status): $($r.Body.title) $($r.Body.detail)".TrimEnd())
  foreach ($e in @($r.Body.errors)) { if ($e) { $lines += "  $($e.field): $($e.message)" } }
  return ($lines -join [Environment]::NewLine)
}

function Exit-Script([int]$Code, [string]$Message) {
  if ($Message) { [Console]::Error.WriteLine("kmsgate: $Message") }
  exit $Code
}

# The answer of a call that must succeed, or the script's exit for its failure.
function Assert-Answer($r, [string]$What) {
  if ($r.Status -ge 200 -and $r.Status -lt 300) { return }
  if ($r.Status -eq 0 -or $r.Status -ge 500) { Exit-Script 3 "$What`: kmsgate unavailable, nothing changed (fail closed). $(Get-Problem $r)" }
  Exit-Script 1 "$What refused. $(Get-Problem $r)"
}

function Write-Decision($g) {
  Write-Output ("kmsgate: {0} on {1}: count {2}, floor {3}, projected minimum {4} (at {5}), first breach {6}, max_decommission {7}" -f `
    $g.decision, $g.kms_host, $g.current_count, $g.floor, $g.projected_min, $g.projected_min_at, `
    $(if ($g.first_breach_at) { $g.first_breach_at } else { 'none' }), $g.max_decommission)
  foreach ($reason in @($g.reasons)) { if ($reason) { Write-Output "  - $reason" } }
}

# After a failed or partial change, or a plan that expired meanwhile: give the
# reservation back, then record the desktops that are gone (their CMIDs lapse
# whatever we say). Exits with $Code, or 5 when kmsgate could not be updated.
function Undo-Plan([string]$PlanId, [string[]]$Gone, [string]$Why, [int]$Code) {
  $r = Invoke-KmsgateRetry 'POST' "/v1/plans/$PlanId/release"
  $manual = @()
  if ($r.Status -ne 200) { $manual += "POST $Url/v1/plans/$PlanId/release" }
  foreach ($d in $Gone) {
    $r = Invoke-KmsgateRetry 'DELETE' "/v1/desktops/$([uri]::EscapeDataString($d))"
    if ($r.Status -lt 200 -or $r.Status -ge 300) { $manual += "DELETE $Url/v1/desktops/$d" }
  }
  if ($manual.Count -gt 0) {
    Exit-Script 5 ("$Why; kmsgate could not be updated, run (role hook):" + [Environment]::NewLine + ($manual -join [Environment]::NewLine))
  }
  Exit-Script $Code "$Why; plan $PlanId released, $($Gone.Count) desktop(s) that are gone recorded as decommissioned"
}

# ---------------------------------------------------------------- Citrix

if (-not (Get-Command Get-BrokerMachine -ErrorAction SilentlyContinue)) {
  Add-PSSnapin Citrix.Broker.Admin.V2
}
if ($names.Count -eq 0) { Exit-Script 1 'no machines given' }

# kmsgate hostname (DNS name, lower case) -> broker machine
$machines = [ordered]@{}
foreach ($n in $names) {
  $bm = @(Get-BrokerMachine -MachineName $n @ddc -ErrorAction SilentlyContinue)
  if ($bm.Count -ne 1) { Exit-Script 1 "no single Citrix machine named $n (check the name, DOMAIN\NAME, and -AdminAddress)" }
  $bm = $bm[0]
  if (-not $bm.DNSName) { Exit-Script 1 "Citrix machine $n has no DNS name to match in kmsgate" }
  $machines[$bm.DNSName.ToLowerInvariant()] = $bm
}
$hostnames = @($machines.Keys)

# ---------------------------------------------------------------- the gate

if (-not $KmsHost) {
  $first = Invoke-KmsgateRetry 'GET' "/v1/desktops/$([uri]::EscapeDataString($hostnames[0]))"
  Assert-Answer $first "reading desktop $($hostnames[0])"
  $KmsHost = $first.Body.kms_host
}
if (-not $IdempotencyKey) {
  $sha = [System.Security.Cryptography.SHA256]::Create()
  $digest = $sha.ComputeHash([System.Text.Encoding]::UTF8.GetBytes((($hostnames | Sort-Object) -join ',')))
  $IdempotencyKey = 'citrix-remove/{0}/{1}' -f (-join ($digest | ForEach-Object { $_.ToString('x2') })),
    (Get-Date).ToUniversalTime().ToString('yyyy-MM-dd')
}

$request = @{ kms_host = $KmsHost; decommission = @{ desktops = $hostnames }
              reserve = (-not $dryRun); ttl_minutes = $TtlMinutes }
if ($dryRun) { $gate = Invoke-KmsgateRetry 'POST' '/v1/gate' $request }
else { $gate = Invoke-KmsgateRetry 'POST' '/v1/gate' $request $IdempotencyKey }

if ($gate.Status -eq 409) {
  Exit-Script 4 "conflict: $(Get-Problem $gate) (desktop $($gate.Body.desktop) in plan $($gate.Body.plan_id)); nothing changed, retry when that plan is committed, released or expired"
}
Assert-Answer $gate 'the gate'
Write-Decision $gate.Body
if ($gate.Body.decision -ne 'go') {
  Exit-Script 2 "no-go for removing $($hostnames.Count) machine(s) (at most $($gate.Body.max_decommission) now); nothing changed"
}
if ($dryRun) { Write-Output 'kmsgate: go (-WhatIf: nothing reserved, nothing changed)'; Exit-Script 0 }

$planId = $gate.Body.plan_id
if (-not $planId) { Exit-Script 1 'the gate answered go without a plan_id' }
# A replayed answer (same Idempotency-Key) names a plan that may be done already.
$plan = Invoke-KmsgateRetry 'GET' "/v1/plans/$planId"
Assert-Answer $plan "reading plan $planId"
switch ($plan.Body.state) {
  'reserved' { }
  'committed' { Write-Output "kmsgate: plan $planId was committed before: the change is done"; Exit-Script 0 }
  default { Exit-Script 1 "plan $planId is $($plan.Body.state): run again with a new -IdempotencyKey" }
}
Write-Output "kmsgate: plan $planId reserved until $($gate.Body.expires_at)"

# ---------------------------------------------------------------- the change

$removed = @()
$failure = $null
try {
  foreach ($hostname in $hostnames) {
    $bm = $machines[$hostname]
    Set-BrokerMachine -InputObject $bm -InMaintenanceMode $true @ddc
    if ($bm.PowerState -ne 'Off' -and $bm.PowerState -ne 'Unmanaged') {
      New-BrokerHostingPowerAction -MachineName $bm.MachineName -Action Shutdown @ddc | Out-Null
    }
  }
  # Wait for the power-managed ones to be off (sessions end with the shutdown).
  $deadline = (Get-Date).AddMinutes($ShutdownMinutes)
  foreach ($hostname in $hostnames) {
    $bm = $machines[$hostname]
    while ($bm.PowerState -ne 'Off' -and $bm.PowerState -ne 'Unmanaged') {
      if ((Get-Date) -gt $deadline) { throw "$($bm.MachineName) did not power off within $ShutdownMinutes minutes" }
      Start-Sleep -Seconds 15
      $bm = Get-BrokerMachine -Uid $bm.Uid @ddc
    }
    if ($bm.PowerState -eq 'Unmanaged') {
      Write-Warning "$($bm.MachineName) is not power-managed: shut it down yourself, or it keeps renewing its KMS activation"
    }
  }
  foreach ($hostname in $hostnames) {
    $bm = Get-BrokerMachine -Uid $machines[$hostname].Uid @ddc
    if ($bm.DesktopGroupUid) {
      $group = Get-BrokerDesktopGroup -Uid $bm.DesktopGroupUid @ddc
      Remove-BrokerMachine -InputObject $bm -DesktopGroup $group -Force:$Force @ddc
    }
    Remove-BrokerMachine -InputObject $bm @ddc
    $removed += $hostname
  }
} catch {
  $failure = $_
}

if ($null -ne $failure) {
  Undo-Plan $planId $removed "removing the machines failed: $failure" 1
}

# ---------------------------------------------------------------- record it

$commit = Invoke-KmsgateRetry 'POST' "/v1/plans/$planId/commit"
if ($commit.Status -eq 200) {
  Write-Output "kmsgate: plan $planId committed: $($hostnames.Count) desktop(s) decommissioned"
  Exit-Script 0
}
if ($commit.Status -eq 409) {
  # Expired while the machines shut down: record the desktops one by one instead.
  Undo-Plan $planId $hostnames "the machines are removed; plan $planId could not be committed ($(Get-Problem $commit))" 0
}
Exit-Script 5 "the machines are removed but the commit failed ($(Get-Problem $commit)); run: POST $Url/v1/plans/$planId/commit"
}
