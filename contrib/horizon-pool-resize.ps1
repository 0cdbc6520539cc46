<#
horizon-pool-resize.ps1 - shrink or delete a VMware Horizon instant-clone pool
only when kmsgate says the KMS host keeps enough activations (go / no-go).

  1. Asks POST /v1/gate with decommission {pool, count}, reserve: true and an
     Idempotency-Key (pool + target size + date: a retry or a re-run the same
     day gets the same answer and the same plan instead of a second one).
  2. No-go: prints the reasons and the largest safe decommission; changes nothing.
  3. Go: kmsgate has picked the desktops that cost the count least (its answer's
     "decommission" list). -TargetSize deletes exactly those machines with
     provisioning stopped, then lowers the pool's maximum size, so Horizon
     neither replaces them nor deletes others. -DeletePool removes the pool.
  4. Then POST /v1/plans/{id}/commit (the desktops become decommissioned in
     kmsgate), or /release if the Horizon change failed. Machines already gone
     after a failure are recorded with DELETE /v1/desktops/{hostname}.

Run it where PowerCLI can reach the Connection Server (Windows PowerShell 5.1
or PowerShell 7), with VMware.VimAutomation.HorizonView and VMware.Hv.Helper
(github.com/vmware/PowerCLI-Example-Scripts) installed:

  .\horizon-pool-resize.ps1 -Pool finance -TargetSize 20 -HorizonServer cs01.corp.example
  .\horizon-pool-resize.ps1 -Pool poc-2025 -DeletePool -HorizonServer cs01.corp.example
  .\horizon-pool-resize.ps1 -Pool finance -TargetSize 20 -HorizonServer cs01 -WhatIf   # ask only

Parameters:
  -Pool           the Horizon pool (desktop pool ID)
  -TargetSize     the new maximum number of machines (shrink), or
  -DeletePool     delete the pool and its machines (every active desktop of the pool)
  -HorizonServer  Connection Server; -Credential for it (default: current user)
  -KmsgatePool    the pool's name in kmsgate (default: -Pool)
  -KmsHost        the KMS host (default: the pool's kms_host in kmsgate)
  -Url            kmsgate base URL; -TokenFile holds a token of role "hook"
                  (readable by the account that runs this script only)
  -TtlMinutes     how long the reservation holds (default 120; deletion must finish in it)
  -WaitMinutes    how long to wait for Horizon to delete the machines (default 30)
  -IdempotencyKey to override the default key (e.g. to ask afresh the same day)
  -TerminateSession  with -DeletePool: log off sessions still on the machines
  -WhatIf         ask the gate without reserving or changing anything

Exit codes:
  0  go, the change is made and recorded (or -WhatIf and go, or already done, or nothing to do)
  1  error: bad parameters, token or request refused (401/403/404/422), or the
     Horizon change failed (the plan is released; nothing is left reserved)
  2  no-go: nothing changed; the reasons are printed
  3  kmsgate unavailable (503, 5xx or no answer after retries): nothing changed (fail closed)
  4  conflict (409): a desktop is held by another reserved plan; nothing changed, retry later
  5  the change was (partly) made but kmsgate could not record it: run the printed commands
#>
[CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Shrink')]
param(
  [Parameter(Mandatory = $true)][string]$Pool,
  [Parameter(Mandatory = $true, ParameterSetName = 'Shrink')][ValidateRange(0, 100000)][int]$TargetSize,
  [Parameter(Mandatory = $true, ParameterSetName = 'Delete')][switch]$DeletePool,
  [Parameter(Mandatory = $true)][string]$HorizonServer,
  [System.Management.Automation.PSCredential]$Credential,
  [string]$KmsgatePool = $Pool,
  [string]$KmsHost,
  [string]$Url = 'https://kmsgate.corp.example',
  [string]$TokenFile = 'C:\kmsgate\token',
  [ValidateRange(1, 1440)][int]$TtlMinutes = 120,
  [ValidateRange(1, 1440)][int]$WaitMinutes = 30,
  [string]$IdempotencyKey,
  [switch]$TerminateSession
)
$ErrorActionPreference = 'Stop'
# Windows PowerShell 5.1 may not offer TLS 1.2 by default.
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
$Url = $Url.TrimEnd('/')
$token = (Get-Content -Raw $TokenFile).Trim()
$dryRun = [bool]$WhatIfPreference
$hv = $null

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
  if ($null -ne $hv) { try { Disconnect-HVServer -Server $hv -Confirm:$false | Out-Null } catch { } }
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

# ---------------------------------------------------------------- Horizon

Import-Module VMware.VimAutomation.HorizonView
Import-Module VMware.Hv.Helper
if ($Credential) { $hv = Connect-HVServer -Server $HorizonServer -Credential $Credential }
else { $hv = Connect-HVServer -Server $HorizonServer }

# FQDN (lower case) -> Horizon machine name, for the machines of the pool now.
function Get-PoolMachines {
  $map = @{}
  foreach ($m in @(Get-HVMachineSummary -PoolName $Pool -HvServer $hv -SuppressInfo $true)) {
    if ($m -and $m.Base.DnsName) { $map[$m.Base.DnsName.ToLowerInvariant()] = $m.Base.Name }
  }
  return $map
}

# ---------------------------------------------------------------- the gate

$poolDoc = Invoke-KmsgateRetry 'GET' "/v1/pools/$([uri]::EscapeDataString($KmsgatePool))"
Assert-Answer $poolDoc "reading pool $KmsgatePool"
if (-not $KmsHost) { $KmsHost = $poolDoc.Body.kms_host }

if ($DeletePool) {
  $count = [int]$poolDoc.Body.desktops.active
  $keyText = "horizon-pool-delete/$Pool"
} else {
  $hvPool = Get-HVPool -PoolName $Pool -HvServer $hv
  if (-not $hvPool) { Exit-Script 1 "Horizon pool $Pool not found" }
  $machines = Get-PoolMachines
  $count = $machines.Count - $TargetSize
  $keyText = "horizon-pool-resize/$Pool/$TargetSize"
  if ($count -le 0) {
    Write-Output "kmsgate: pool $Pool has $($machines.Count) machines, target ${TargetSize}: nothing to decommission"
    Exit-Script 0
  }
}
if (-not $IdempotencyKey) { $IdempotencyKey = "$keyText/$((Get-Date).ToUniversalTime().ToString('yyyy-MM-dd'))" }

$request = @{ kms_host = $KmsHost; decommission = @{ pool = $KmsgatePool; count = $count }
              reserve = (-not $dryRun); ttl_minutes = $TtlMinutes }
if ($dryRun) { $gate = Invoke-KmsgateRetry 'POST' '/v1/gate' $request }
else { $gate = Invoke-KmsgateRetry 'POST' '/v1/gate' $request $IdempotencyKey }

if ($gate.Status -eq 409) {
  Exit-Script 4 "conflict: $(Get-Problem $gate) (desktop $($gate.Body.desktop) in plan $($gate.Body.plan_id)); nothing changed, retry when that plan is committed, released or expired"
}
Assert-Answer $gate 'the gate'
Write-Decision $gate.Body
if ($gate.Body.decision -ne 'go') {
  Exit-Script 2 "no-go for decommissioning $count desktop(s) of $KmsgatePool (at most $($gate.Body.max_decommission) now); nothing changed"
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
$picked = @($gate.Body.decommission | ForEach-Object { $_.ToLowerInvariant() })
Write-Output "kmsgate: plan $planId reserved until $($gate.Body.expires_at) for: $($picked -join ', ')"

# ---------------------------------------------------------------- the change

$failure = $null
$touched = $false
if ($DeletePool) {
  try {
    $touched = $true
    Remove-HVPool -PoolName $Pool -DeleteFromDisk -TerminateSession:$TerminateSession -HvServer $hv -Confirm:$false
  } catch { $failure = $_ }
} else {
  $names = @()
  foreach ($d in $picked) {
    if (-not $machines.ContainsKey($d)) {
      Undo-Plan $planId @() "kmsgate picked $d, which is not in Horizon pool ${Pool}: reconcile kmsgate (DELETE /v1/desktops/$d) first" 1
    }
    $names += $machines[$d]
  }
  $settings = $hvPool.AutomatedDesktopData.VmNamingSettings.PatternNamingSettings
  $stopped = $false
  try {
    # No replacement clones while the picked machines are deleted.
    Set-HVPool -PoolName $Pool -Stop -HvServer $hv -Confirm:$false
    $stopped = $true
    $touched = $true
    Remove-HVMachine -MachineNames $names -DeleteFromDisk -HvServer $hv -Confirm:$false
    $deadline = (Get-Date).AddMinutes($WaitMinutes)
    while ($true) {
      $now = Get-PoolMachines
      if (@($picked | Where-Object { $now.ContainsKey($_) }).Count -eq 0) { break }
      if ((Get-Date) -gt $deadline) { throw "the machines were not deleted within $WaitMinutes minutes" }
      Start-Sleep -Seconds 15
    }
    if ($settings.MinNumberOfMachines -gt $TargetSize) {
      Set-HVPool -PoolName $Pool -Key 'automatedDesktopData.vmNamingSettings.patternNamingSettings.minNumberOfMachines' `
        -Value $TargetSize -HvServer $hv -Confirm:$false
    }
    Set-HVPool -PoolName $Pool -Key 'automatedDesktopData.vmNamingSettings.patternNamingSettings.maxNumberOfMachines' `
      -Value $TargetSize -HvServer $hv -Confirm:$false
  } catch {
    $failure = $_
  } finally {
    if ($stopped) {
      try { Set-HVPool -PoolName $Pool -Start -HvServer $hv -Confirm:$false }
      catch { [Console]::Error.WriteLine("kmsgate: could not restart provisioning of $Pool`: $_") }
    }
  }
}

if ($null -ne $failure) {
  [Console]::Error.WriteLine("kmsgate: the Horizon change failed: $failure")
  $gone = @()
  if ($touched) {
    try { $now = Get-PoolMachines; $gone = @($picked | Where-Object { -not $now.ContainsKey($_) }) }
    catch {
      Exit-Script 5 "cannot tell which machines are gone. Plan $planId stays reserved until it expires; then record each deleted one with DELETE $Url/v1/desktops/{hostname}, or POST $Url/v1/plans/$planId/commit if all of $($picked -join ', ') are gone"
    }
  }
  Undo-Plan $planId $gone 'the Horizon change failed' 1
}

# ---------------------------------------------------------------- record it

$commit = Invoke-KmsgateRetry 'POST' "/v1/plans/$planId/commit"
if ($commit.Status -eq 200) {
  Write-Output "kmsgate: plan $planId committed: $($picked.Count) desktop(s) decommissioned"
  Exit-Script 0
}
if ($commit.Status -eq 409) {
  # Expired while Horizon worked: record the desktops one by one instead.
  Undo-Plan $planId $picked "the change is done; plan $planId could not be committed ($(Get-Problem $commit))" 0
}
Exit-Script 5 "the change is done but the commit failed ($(Get-Problem $commit)); run: POST $Url/v1/plans/$planId/commit"
