<#
kmsgate-common.ps1 - the kmsgate calls shared by the PowerShell recipes in
contrib/ (dot-sourced: keep it next to them). Windows PowerShell 5.1 or
PowerShell 7.x. Needs $Url and $TokenFile set by the calling script; defines
$KmsgateToken. A script that cleans up before it exits defines its own
Exit-Script before dot-sourcing this file.
#>

# Messages go to the host (Write-Host), not the output stream: several of
# these functions return a value that the caller assigns.

if (-not (Get-Command Exit-Script -CommandType Function -ErrorAction Ignore)) {
  function Exit-Script([int]$Code, [string]$Message) {
    if ($Message) { [Console]::Error.WriteLine("kmsgate: $Message") }
    exit $Code
  }
}

# Windows PowerShell 5.1 on .NET Framework before 4.7 offers TLS 1.0/1.1 only
# unless asked: opt in to TLS 1.2 (kept alongside what the system allows).
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12

if (-not (Test-Path -LiteralPath $TokenFile)) {
  [Console]::Error.WriteLine("kmsgate: token file $TokenFile not found")
  exit 1
}
$KmsgateToken = (Get-Content -Raw -LiteralPath $TokenFile).Trim()
$Url = $Url.TrimEnd('/')

# One request; never throws. Status 0 means no answer (network, timeout).
# Headers in this order: Authorization, Accept, Idempotency-Key (when given);
# a body is sent as UTF-8 JSON, or as given when it is bytes with its
# $ContentType. $Proxy (a script parameter) is used when set.
function Invoke-Kmsgate([string]$Method, [string]$Path, $Body = $null, [string]$Key = $null, [string]$ContentType = $null) {
  $headers = [ordered]@{ Authorization = "Bearer $KmsgateToken"; Accept = 'application/json' }
  if ($Key) { $headers['Idempotency-Key'] = $Key }
  $request = @{ Method = $Method; Uri = "$Url$Path"; Headers = $headers; UseBasicParsing = $true; TimeoutSec = 60 }
  if ($Proxy) { $request.Proxy = $Proxy; $request.ProxyUseDefaultCredentials = $true }
  if ($Body -is [byte[]]) {
    $request.ContentType = $ContentType
    $request.Body = $Body
  } elseif ($null -ne $Body) {
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
# Safe for the gate (Idempotency-Key), commit, release, DELETE and the pool
# sync (a PUT of the whole list): all idempotent.
function Invoke-KmsgateRetry([string]$Method, [string]$Path, $Body = $null, [string]$Key = $null, [string]$ContentType = $null) {
  for ($attempt = 1; ; $attempt++) {
    $r = Invoke-Kmsgate $Method $Path $Body $Key $ContentType
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

# The answer of a call that must succeed, or the script's exit for its failure.
function Assert-Answer($r, [string]$What) {
  if ($r.Status -ge 200 -and $r.Status -lt 300) { return }
  if ($r.Status -eq 0 -or $r.Status -ge 500) { Exit-Script 3 "$What`: kmsgate unavailable, nothing changed (fail closed). $(Get-Problem $r)" }
  Exit-Script 1 "$What refused. $(Get-Problem $r)"
}

function Write-Decision($g) {
  Write-Host ("kmsgate: {0} on {1}: count {2}, floor {3}, projected minimum {4} (at {5}), first breach {6}, max_decommission {7}" -f `
    $g.decision, $g.kms_host, $g.current_count, $g.floor, $g.projected_min, $g.projected_min_at, `
    $(if ($g.first_breach_at) { $g.first_breach_at } else { 'none' }), $g.max_decommission)
  foreach ($reason in @($g.reasons)) { if ($reason) { Write-Host "  - $reason" } }
}

# The gate for a decommission: -WhatIf asks a dry run (nothing recorded,
# nothing reserved, no key); otherwise a reservation under $Key. Handles the
# answers every recipe handles alike and returns the go.
function Invoke-Gate([string]$KmsHost, $Decommission, [bool]$DryRun, [int]$Ttl, [string]$Key) {
  # kms_host only when known: a pool that discovers its hosts is evaluated on each of them.
  $request = [ordered]@{}
  if ($KmsHost) { $request.kms_host = $KmsHost }
  $request.decommission = $Decommission
  if ($DryRun) {
    $request.reserve = $false; $request.dry_run = $true
    $gate = Invoke-KmsgateRetry 'POST' '/v1/gate' $request
  } else {
    $request.reserve = $true; $request.ttl_minutes = $Ttl
    $gate = Invoke-KmsgateRetry 'POST' '/v1/gate' $request $Key
  }
  if ($gate.Status -eq 409 -and $null -eq $gate.Body.decision) {
    Exit-Script 4 "conflict: $(Get-Problem $gate) (desktop $($gate.Body.desktop) in plan $($gate.Body.plan_id)); nothing changed, retry when that plan is committed, released or expired"
  }
  Assert-Answer $gate 'the gate'
  Write-Decision $gate.Body
  if ($gate.Body.decision -ne 'go') {
    Exit-Script 2 "no-go (at most $($gate.Body.max_decommission) desktop(s) now); nothing changed"
  }
  if ($DryRun) { Write-Host 'kmsgate: go (-WhatIf: a dry run; nothing recorded, reserved or changed)'; Exit-Script 0 }
  if (-not $gate.Body.plan_id) { Exit-Script 1 'the gate answered go without a plan_id' }
  # A replayed answer (same Idempotency-Key) names a plan that may be done already.
  $plan = Invoke-KmsgateRetry 'GET' "/v1/plans/$($gate.Body.plan_id)"
  Assert-Answer $plan "reading plan $($gate.Body.plan_id)"
  switch ($plan.Body.state) {
    'reserved' { }
    'committed' { Write-Host "kmsgate: plan $($gate.Body.plan_id) was committed before: the change is done"; Exit-Script 0 }
    default { Exit-Script 1 "plan $($gate.Body.plan_id) is $($plan.Body.state): run again with a new -IdempotencyKey" }
  }
  return $gate.Body
}

# After a failed or partial change, or a plan that expired meanwhile: give the
# reservation back, then record the desktops that are gone (their CMIDs lapse
# whatever we say). Exits with $Code, or 5 when kmsgate could not be updated.
function Undo-Plan([string]$PlanId, [string[]]$Gone, [string]$Why, [int]$Code) {
  $r = Invoke-KmsgateRetry 'POST' "/v1/plans/$PlanId/release"
  $manual = @()
  if ($r.Status -ne 200 -and -not ($r.Status -eq 409 -and $r.Body.state -in @('released', 'expired'))) {
    $manual += "POST $Url/v1/plans/$PlanId/release"
  }
  foreach ($d in $Gone) {
    $r = Invoke-KmsgateRetry 'DELETE' "/v1/desktops/$([uri]::EscapeDataString($d))"
    if ($r.Status -lt 200 -or $r.Status -ge 300) { $manual += "DELETE $Url/v1/desktops/$d" }
  }
  if ($manual.Count -gt 0) {
    Exit-Script 5 ("$Why; kmsgate could not be updated, run (role hook):" + [Environment]::NewLine + ($manual -join [Environment]::NewLine))
  }
  Exit-Script $Code "$Why; plan $PlanId released, $(@($Gone).Count) desktop(s) that are gone recorded as decommissioned"
}

# Records a finished change: commit, or (the plan expired while the platform
# worked) one DELETE per desktop that is gone.
function Complete-Plan([string]$PlanId, [string[]]$Gone) {
  $commit = Invoke-KmsgateRetry 'POST' "/v1/plans/$PlanId/commit"
  if ($commit.Status -eq 200) {
    Write-Host "kmsgate: plan $PlanId committed: $(@($Gone).Count) desktop(s) decommissioned"
    Exit-Script 0
  }
  if ($commit.Status -eq 409) {
    Undo-Plan $PlanId $Gone "the change is done; plan $PlanId could not be committed ($(Get-Problem $commit))" 0
  }
  Exit-Script 5 "the change is done but the commit failed ($(Get-Problem $commit)); run: POST $Url/v1/plans/$PlanId/commit"
}

# The pool sync: PUT /v1/pools/{name}/desktops with the platform's complete
# list. Refuses an empty list outright (a failing inventory call must not
# look like an empty pool); kmsgate refuses (409) a list that would
# decommission more than half of the pool unless -Force. Sets
# $KmsgateDown when kmsgate did not answer.
function Sync-Pool([string]$Name, $Desktops, [bool]$DryRun, [bool]$ForceDrop) {
  $list = @($Desktops)
  if ($list.Count -eq 0) {
    [Console]::Error.WriteLine("kmsgate: the platform lists no machine for pool $Name; not sent (an empty list would decommission the whole pool)")
    return $false
  }
  $body = [ordered]@{ desktops = $list; dry_run = $DryRun; force = $ForceDrop }
  $r = Invoke-KmsgateRetry 'PUT' "/v1/pools/$([uri]::EscapeDataString($Name))/desktops" $body
  if ($r.Status -ne 200) {
    if ($r.Status -eq 0 -or $r.Status -ge 500) { $script:KmsgateDown = $true }
    [Console]::Error.WriteLine("kmsgate: sync of pool $Name refused. $(Get-Problem $r)")
    return $false
  }
  Write-Host ("kmsgate: pool {0}{1}: {2} added, {3} decommissioned, {4} unchanged" -f $Name,
    $(if ($DryRun) { ' (dry run)' } else { '' }), @($r.Body.added).Count, @($r.Body.decommissioned).Count, $r.Body.unchanged)
  foreach ($d in @($r.Body.added)) { if ($d) { Write-Host "  + $d" } }
  foreach ($d in @($r.Body.decommissioned)) { if ($d) { Write-Host "  - $d" } }
  return $true
}

# A platform's power state as the pool sync takes it: on, off or unknown
# (unknown leaves kmsgate's model as it was).
function ConvertTo-PowerState([string]$State, [string[]]$On, [string[]]$Off) {
  if ($On -contains $State) { return 'on' }
  if ($Off -contains $State) { return 'off' }
  return 'unknown'
}

# The Citrix SDK loaded and authenticated: the snap-ins of a Delivery
# Controller or Studio install when registered, then, for Citrix DaaS,
# Get-XDAuthentication with the stored Secure Client profile. The Remote SDK
# without a profile would prompt for credentials, so that is refused.
function Connect-Citrix([string[]]$Snapins, [string]$CloudProfile, [string]$AdminAddress) {
  foreach ($snapin in $Snapins) {
    if (-not (Get-PSSnapin $snapin -ErrorAction Ignore) -and (Get-PSSnapin -Registered $snapin -ErrorAction Ignore)) {
      Add-PSSnapin $snapin
    }
  }
  if (-not (Get-Command Get-BrokerMachine -ErrorAction Ignore)) {
    Exit-Script 1 'the Citrix Broker SDK is not installed here (Remote PowerShell SDK, Studio or a Delivery Controller)'
  }
  $remoteSdk = [bool](Get-Command Get-XDAuthentication -ErrorAction Ignore)
  if ($CloudProfile) {
    if (-not $remoteSdk) { Exit-Script 1 '-CloudProfile needs the Citrix DaaS Remote PowerShell SDK' }
    try { Get-XDAuthentication -ProfileName $CloudProfile | Out-Null }
    catch { Exit-Script 1 "Citrix Cloud authentication with profile $CloudProfile failed: $_" }
  } elseif ($remoteSdk -and -not $AdminAddress) {
    Exit-Script 1 'the Remote PowerShell SDK needs -CloudProfile (Set-XDCredentials -StoreAs) for an unattended run, or -AdminAddress for an on-premises site'
  }
}
