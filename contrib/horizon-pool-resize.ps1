<#
horizon-pool-resize.ps1 - shrink or delete a VMware Horizon instant-clone pool
only when kmsgate says the KMS host keeps enough activations (go / no-go).

Targets Horizon 8 2103 to 2412 (Connection Server REST API, inventory v1:
machine list filters need 2103, bulk machine delete 2006), with PowerCLI
VMware.VimAutomation.HorizonView 12.x/13.x and VMware.Hv.Helper
(github.com/vmware/PowerCLI-Example-Scripts, Modules/VMware.Hv.Helper) for the
pool settings; Windows PowerShell 5.1 or PowerShell 7.

  1. Logs in to the Connection Server REST API (POST /rest/login) and to
     PowerCLI (Connect-HVServer -Credential) with -Credential or the
     credential saved in -CredentialFile. There is no pass-through login:
     without one the script refuses (a scheduled run would prompt or fail).
  2. Asks POST /v1/gate with decommission {pool, count}, reserve: true and an
     Idempotency-Key (pool + target size + date: a retry or a re-run the same
     day gets the same answer and the same plan instead of a second one).
     -WhatIf asks a dry run instead: nothing recorded, nothing reserved.
  3. No-go: prints the reasons and the largest safe decommission; changes nothing.
  4. Go: kmsgate has picked the desktops that cost the count least (its answer's
     "decommission" list). -TargetSize deletes exactly those machines
     (DELETE /rest/inventory/v1/machines) with provisioning stopped, then
     lowers the pool's maximum size, so Horizon neither replaces them nor
     deletes others; provisioning is started again only if it was on before.
     -DeletePool removes the pool (Remove-HVPool -DeleteFromDisk).
  5. Then POST /v1/plans/{id}/commit (the desktops become decommissioned in
     kmsgate), or /release if the Horizon change failed. Machines already gone
     after a failure are recorded with DELETE /v1/desktops/{hostname}.

Sessions: deleting a machine with a user session logs the user off only with
-LogoffSessions (force_logoff_session in the REST call, -TerminateSession for
Remove-HVPool). Without it, a picked machine that has a session (state
CONNECTED or DISCONNECTED) makes the script release the plan and stop before
changing anything: it does not delete some machines and leave the others.

VMware.Hv.Helper reports some failures with Write-Error followed by `break`,
which neither $ErrorActionPreference nor try/catch sees (the `break` ends the
caller's nearest loop, or the script). Each Hv.Helper call therefore runs
with -ErrorAction Stop inside a one-pass loop (Invoke-HvStep), and its effect
is read back: a call that did nothing is an error, never a silent success.

  .\horizon-pool-resize.ps1 -Pool finance -TargetSize 20 -HorizonServer cs01.corp.example -CredentialFile C:\kmsgate\horizon.cred
  .\horizon-pool-resize.ps1 -Pool poc-2025 -DeletePool -HorizonServer cs01.corp.example -Credential (Get-Credential)
  .\horizon-pool-resize.ps1 -Pool finance -TargetSize 20 -HorizonServer cs01 -CredentialFile C:\kmsgate\horizon.cred -WhatIf   # ask only

Save the credential once, as the account that runs the script (DPAPI: only
that account on that machine can read it):
  Get-Credential 'CORP\svc-horizon' | Export-Clixml C:\kmsgate\horizon.cred

Parameters:
  -Pool           the Horizon pool (desktop pool ID)
  -TargetSize     the new maximum number of machines (shrink), or
  -DeletePool     delete the pool and its machines (every active desktop of the pool)
  -HorizonServer  Connection Server (DNS name; its certificate must be trusted)
  -Credential     DOMAIN\user for Horizon, or -CredentialFile (Export-Clixml of one)
  -KmsgatePool    the pool's name in kmsgate (default: -Pool)
  -KmsHost        the KMS host (default: the pool's kms_host in kmsgate)
  -Url            kmsgate base URL; -TokenFile holds a token of role "hook"
                  (readable by the account that runs this script only)
  -Proxy          HTTP proxy for the kmsgate calls (default: none)
  -TtlMinutes     how long the reservation holds (default 120; deletion must finish in it)
  -WaitMinutes    how long to wait for Horizon to delete the machines (default 30)
  -IdempotencyKey to override the default key (e.g. to ask afresh the same day)
  -LogoffSessions log off users still on the machines deleted (default: refuse)
  -WhatIf         ask the gate (a dry run) without reserving or changing anything

Exit codes:
  0  go, the change is made and recorded (or -WhatIf and go, or already done, or nothing to do)
  1  error: bad parameters, no credential, token or request refused (401/403/404/422),
     a picked machine has a session, or the Horizon change failed (the plan is
     released; nothing is left reserved)
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
  [string]$CredentialFile,
  [string]$KmsgatePool = $Pool,
  [string]$KmsHost,
  [string]$Url = 'https://kmsgate.corp.example',
  [string]$TokenFile = 'C:\kmsgate\token',
  [string]$Proxy,
  [ValidateRange(1, 1440)][int]$TtlMinutes = 120,
  [ValidateRange(1, 1440)][int]$WaitMinutes = 30,
  [string]$IdempotencyKey,
  [switch]$LogoffSessions
)
$ErrorActionPreference = 'Stop'
$dryRun = [bool]$WhatIfPreference
$hv = $null
$hvRest = $null

function Exit-Script([int]$Code, [string]$Message) {
  if ($Message) { [Console]::Error.WriteLine("kmsgate: $Message") }
  if ($null -ne $hv) { try { Disconnect-HVServer -Server $hv -Confirm:$false | Out-Null } catch { } }
  if ($null -ne $hvRest) {
    try { Invoke-RestMethod -Method Post -Uri "$($hvRest.Base)/rest/logout" -ContentType 'application/json' `
            -Body (@{ refresh_token = $hvRest.Refresh } | ConvertTo-Json) | Out-Null } catch { }
  }
  exit $Code
}

. (Join-Path $PSScriptRoot 'kmsgate-common.ps1')

# ---------------------------------------------------------------- Horizon

if (-not $Credential -and $CredentialFile) { $Credential = Import-Clixml -LiteralPath $CredentialFile }
if (-not $Credential) {
  Exit-Script 1 'no Horizon credential: give -Credential or -CredentialFile (Horizon has no pass-through login; a scheduled run cannot prompt)'
}

# Horizon REST API: POST /rest/login {domain, username, password} -> access_token, refresh_token.
function Connect-HorizonRest {
  $user = $Credential.GetNetworkCredential()
  $domain = $user.Domain
  $name = $user.UserName
  if (-not $domain -and $name -like '*@*') { $domain = $name.Split('@')[1]; $name = $name.Split('@')[0] }
  $base = "https://$HorizonServer"
  $login = Invoke-RestMethod -Method Post -Uri "$base/rest/login" -ContentType 'application/json' `
    -Body (@{ domain = $domain; username = $name; password = $user.Password } | ConvertTo-Json)
  return [pscustomobject]@{ Base = $base; Refresh = $login.refresh_token
                            Headers = @{ Authorization = "Bearer $($login.access_token)" } }
}

# GET /rest/inventory/v1/machines?filter=...&page=&size= (pages while the
# answer carries the HAS_MORE_RECORDS header).
function Get-HorizonMachines([string]$PoolId) {
  $filter = [uri]::EscapeDataString((@{ type = 'Equals'; name = 'desktop_pool_id'; value = $PoolId } | ConvertTo-Json -Compress))
  $all = @()
  for ($page = 1; ; $page++) {
    $r = Invoke-WebRequest -UseBasicParsing -Headers $hvRest.Headers `
      -Uri "$($hvRest.Base)/rest/inventory/v1/machines?filter=$filter&page=$page&size=1000"
    $all += @($r.Content | ConvertFrom-Json)
    if (-not $r.Headers['HAS_MORE_RECORDS']) { return $all }
  }
}

# FQDN (lower case) -> the Horizon machine, for the machines of the pool now.
function Get-PoolMachines {
  $map = @{}
  foreach ($m in @(Get-HorizonMachines $hvPoolId)) {
    if ($m -and $m.dns_name) { $map[$m.dns_name.ToLowerInvariant()] = $m }
  }
  return $map
}

# One VMware.Hv.Helper call: -ErrorAction Stop makes its Write-Error throw; the
# one-pass loop catches a `break` that would otherwise end the script silently.
function Invoke-HvStep([string]$What, [scriptblock]$Step) {
  $finished = $false
  foreach ($once in 1) {
    $null = & $Step
    $finished = $true
  }
  if (-not $finished) { throw "$What stopped inside VMware.Hv.Helper (see its message above)" }
}

function Get-ProvisioningEnabled {
  $p = Get-HVPool -PoolName $Pool -HvServer $hv -ErrorAction Stop
  return [bool]$p.AutomatedDesktopData.VirtualCenterProvisioningSettings.EnableProvisioning
}

try {
  $hvRest = Connect-HorizonRest
  Import-Module VMware.VimAutomation.HorizonView
  Import-Module VMware.Hv.Helper
  $hv = Connect-HVServer -Server $HorizonServer -Credential $Credential
} catch {
  Exit-Script 1 "cannot log in to Horizon $HorizonServer`: $_"
}
$hvPool = Get-HVPool -PoolName $Pool -HvServer $hv -ErrorAction Stop
# The REST id of the pool: GET /rest/inventory/v1/desktop-pools filtered by name (the pool ID).
$poolFilter = [uri]::EscapeDataString((@{ type = 'Equals'; name = 'name'; value = $Pool } | ConvertTo-Json -Compress))
$restPool = @(Invoke-RestMethod -Headers $hvRest.Headers -Uri "$($hvRest.Base)/rest/inventory/v1/desktop-pools?filter=$poolFilter")
if (-not $hvPool -or $restPool.Count -ne 1) { Exit-Script 1 "Horizon pool $Pool not found" }
$hvPoolId = $restPool[0].id

# ---------------------------------------------------------------- the gate

$poolDoc = Invoke-KmsgateRetry 'GET' "/v1/pools/$([uri]::EscapeDataString($KmsgatePool))"
Assert-Answer $poolDoc "reading pool $KmsgatePool"
if (-not $KmsHost) { $KmsHost = $poolDoc.Body.kms_host }

$machines = Get-PoolMachines
if ($DeletePool) {
  $count = [int]$poolDoc.Body.desktops.active
  $keyText = "horizon-pool-delete/$Pool"
} else {
  $count = $machines.Count - $TargetSize
  $keyText = "horizon-pool-resize/$Pool/$TargetSize"
  if ($count -le 0) {
    Write-Output "kmsgate: pool $Pool has $($machines.Count) machines, target ${TargetSize}: nothing to decommission"
    Exit-Script 0
  }
}
if (-not $IdempotencyKey) { $IdempotencyKey = "$keyText/$((Get-Date).ToUniversalTime().ToString('yyyy-MM-dd'))" }

$gate = Invoke-Gate $KmsHost ([ordered]@{ pool = $KmsgatePool; count = $count }) $dryRun $TtlMinutes $IdempotencyKey
$planId = $gate.plan_id
$picked = @($gate.decommission | ForEach-Object { $_.ToLowerInvariant() })
Write-Output "kmsgate: plan $planId reserved until $($gate.expires_at) for: $($picked -join ', ')"

# ---------------------------------------------------------------- the change

$busy = @('CONNECTED', 'DISCONNECTED', 'UNASSIGNED_USER_CONNECTED', 'UNASSIGNED_USER_DISCONNECTED')
$targets = @()
foreach ($d in $picked) {
  if (-not $machines.ContainsKey($d)) {
    Undo-Plan $planId @() "kmsgate picked $d, which is not in Horizon pool ${Pool}: run horizon-pool-sync.ps1 (or DELETE /v1/desktops/$d) first" 1
  }
  $targets += $machines[$d]
}
if ($DeletePool) { $targets = @($machines.Values) }
$withSessions = @($targets | Where-Object { $busy -contains $_.state } | ForEach-Object { $_.dns_name })
if ($withSessions.Count -gt 0 -and -not $LogoffSessions) {
  Undo-Plan $planId @() "users are on $($withSessions -join ', '); nothing deleted (-LogoffSessions logs them off)" 1
}

$failure = $null
$touched = $false
$wasProvisioning = $false
$stopped = $false
try {
  if ($DeletePool) {
    $touched = $true
    Invoke-HvStep 'Remove-HVPool' { Remove-HVPool -PoolName $Pool -DeleteFromDisk -TerminateSession:$LogoffSessions -HvServer $hv -Confirm:$false -ErrorAction Stop }
    $deadline = (Get-Date).AddMinutes($WaitMinutes)
    while (Get-HVPool -PoolName $Pool -HvServer $hv -SuppressInfo $true) {
      if ((Get-Date) -gt $deadline) { throw "pool $Pool was not deleted within $WaitMinutes minutes" }
      Start-Sleep -Seconds 15
    }
  } else {
    # No replacement clones while the picked machines are deleted.
    $wasProvisioning = Get-ProvisioningEnabled
    if ($wasProvisioning) {
      Invoke-HvStep 'Set-HVPool -Stop' { Set-HVPool -PoolName $Pool -Stop -HvServer $hv -Confirm:$false -ErrorAction Stop }
      $stopped = $true
      if (Get-ProvisioningEnabled) { throw "Set-HVPool -Stop left provisioning of $Pool on" }
    }
    $touched = $true
    # DELETE /rest/inventory/v1/machines: force_logoff_session only when asked.
    $delete = @{ machine_ids = @($targets | ForEach-Object { $_.id })
                 machine_delete_data = @{ delete_from_disk = $true; force_logoff_session = [bool]$LogoffSessions
                                          allow_delete_from_multi_desktop_pools = $false; archive_persistent_disk = $false } }
    $results = Invoke-RestMethod -Method Delete -Uri "$($hvRest.Base)/rest/inventory/v1/machines" -Headers $hvRest.Headers `
      -ContentType 'application/json' -Body ($delete | ConvertTo-Json -Depth 4)
    $refused = @($results | Where-Object { $_.status_code -lt 200 -or $_.status_code -ge 300 })
    if ($refused.Count -gt 0) {
      throw "Horizon refused to delete: $(($refused | ForEach-Object { "$($_.id) ($($_.status_code) $($_.error_message))" }) -join '; ')"
    }
    $deadline = (Get-Date).AddMinutes($WaitMinutes)
    while ($true) {
      $now = Get-PoolMachines
      if (@($picked | Where-Object { $now.ContainsKey($_) }).Count -eq 0) { break }
      if ((Get-Date) -gt $deadline) { throw "the machines were not deleted within $WaitMinutes minutes" }
      Start-Sleep -Seconds 15
    }
    $key = 'automatedDesktopData.vmNamingSettings.patternNamingSettings'
    $settings = $hvPool.AutomatedDesktopData.VmNamingSettings.PatternNamingSettings
    if ($settings.MinNumberOfMachines -gt $TargetSize) {
      Invoke-HvStep 'Set-HVPool minNumberOfMachines' { Set-HVPool -PoolName $Pool -Key "$key.minNumberOfMachines" -Value $TargetSize -HvServer $hv -Confirm:$false -ErrorAction Stop }
    }
    Invoke-HvStep 'Set-HVPool maxNumberOfMachines' { Set-HVPool -PoolName $Pool -Key "$key.maxNumberOfMachines" -Value $TargetSize -HvServer $hv -Confirm:$false -ErrorAction Stop }
    $after = (Get-HVPool -PoolName $Pool -HvServer $hv -ErrorAction Stop).AutomatedDesktopData.VmNamingSettings.PatternNamingSettings
    if ($after.MaxNumberOfMachines -ne $TargetSize) { throw "the pool's maximum size is $($after.MaxNumberOfMachines), not $TargetSize" }
  }
} catch {
  $failure = $_
} finally {
  # Provisioning again only if it was on before this script stopped it.
  if ($stopped) {
    try {
      Invoke-HvStep 'Set-HVPool -Start' { Set-HVPool -PoolName $Pool -Start -HvServer $hv -Confirm:$false -ErrorAction Stop }
      if (-not (Get-ProvisioningEnabled)) { throw 'provisioning is still off' }
    } catch { [Console]::Error.WriteLine("kmsgate: could not restart provisioning of $Pool`: $_ (start it in the console)") }
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

Complete-Plan $planId $picked
