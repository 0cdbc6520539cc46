<#
horizon-pool-sync.ps1 - keep kmsgate's pools true to VMware Horizon: push each
pool's complete machine list, with each machine's power state, to
PUT /v1/pools/{name}/desktops. Run it on a schedule (every 15 to 60 minutes).

Targets Horizon 8 2103 to 2412: the Connection Server REST API
(POST /rest/login; GET /rest/inventory/v1/desktop-pools and
/rest/inventory/v1/machines with a JSON `filter`, `page` and `size`, paged
while the answer carries HAS_MORE_RECORDS; each machine's dns_name, id and
managed_machine_data.virtual_machine_power_state); Windows PowerShell 5.1 or
PowerShell 7. No PowerCLI needed.

kmsgate adds the machines it did not know (instant clones Horizon re-created,
machines built outside a hook), marks the ones Horizon no longer lists as
decommissioned, and keeps each machine's power state: a machine reported
powered off (POWERED_OFF or SUSPENDED in vCenter, e.g. by a power policy or a
holiday shutdown) renews nothing until a later sync reports it on.

What it refuses rather than half-does: a pool for which Horizon lists no
machine is not sent (an inventory call that failed must not look like an
empty pool); kmsgate refuses (409) a list that would decommission more than
half of a pool, unless -Force. A login that fails stops before any change.

  .\horizon-pool-sync.ps1 -HorizonServer cs01.corp.example -CredentialFile C:\kmsgate\horizon.cred -Pool finance,hr
  .\horizon-pool-sync.ps1 ... -PoolMap @{ finance = 'horizon-finance' }   # kmsgate names differ
  .\horizon-pool-sync.ps1 ... -WhatIf   # dry run: shows the difference, changes nothing

Scheduled task (as the account whose credential file it reads):
  $action  = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument `
    '-NoProfile -ExecutionPolicy Bypass -File C:\kmsgate\horizon-pool-sync.ps1 -HorizonServer cs01.corp.example -CredentialFile C:\kmsgate\horizon.cred -Pool finance,hr'
  $trigger = New-ScheduledTaskTrigger -Once -At (Get-Date) -RepetitionInterval (New-TimeSpan -Minutes 30)
  Register-ScheduledTask -TaskName 'kmsgate Horizon sync' -Action $action -Trigger $trigger -User 'CORP\svc-kmsgate'

Parameters:
  -HorizonServer  Connection Server (DNS name; its certificate must be trusted)
  -Credential     DOMAIN\user for Horizon (read-only administrator is enough),
                  or -CredentialFile (Get-Credential | Export-Clixml FILE, as the task's account)
  -Pool           Horizon pool IDs to sync (default: every pool Horizon lists)
  -PoolMap        Horizon pool ID -> kmsgate pool name, where they differ
  -Url            kmsgate base URL; -TokenFile holds a token of role "hook"
  -Proxy          HTTP proxy for the kmsgate calls (default: none)
  -Force          accept a list that decommissions more than half of a pool
  -WhatIf         dry run: kmsgate answers the difference and changes nothing

Exit codes: 0 every pool synced; 1 a pool refused or skipped, or Horizon
unreachable; 3 kmsgate unavailable.
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
  [Parameter(Mandatory = $true)][string]$HorizonServer,
  [System.Management.Automation.PSCredential]$Credential,
  [string]$CredentialFile,
  [string[]]$Pool,
  [hashtable]$PoolMap = @{},
  [string]$Url = 'https://kmsgate.corp.example',
  [string]$TokenFile = 'C:\kmsgate\token',
  [string]$Proxy,
  [switch]$Force
)
$ErrorActionPreference = 'Stop'
$dryRun = [bool]$WhatIfPreference

. (Join-Path $PSScriptRoot 'kmsgate-common.ps1')

if (-not $Credential -and $CredentialFile) { $Credential = Import-Clixml -LiteralPath $CredentialFile }
if (-not $Credential) { Exit-Script 1 'no Horizon credential: give -Credential or -CredentialFile (a scheduled run cannot prompt)' }

$base = "https://$HorizonServer"
try {
  $user = $Credential.GetNetworkCredential()
  $login = Invoke-RestMethod -Method Post -Uri "$base/rest/login" -ContentType 'application/json' `
    -Body (@{ domain = $user.Domain; username = $user.UserName; password = $user.Password } | ConvertTo-Json)
} catch {
  Exit-Script 1 "cannot log in to Horizon $HorizonServer`: $_"
}
$headers = @{ Authorization = "Bearer $($login.access_token)" }

# Every item of a paged inventory list.
function Get-Inventory([string]$Path, $Filter) {
  $query = ''
  if ($Filter) { $query = 'filter=' + [uri]::EscapeDataString(($Filter | ConvertTo-Json -Compress)) + '&' }
  $all = @()
  for ($page = 1; ; $page++) {
    $r = Invoke-WebRequest -UseBasicParsing -Headers $headers -Uri "$base$Path`?$($query)page=$page&size=1000"
    $all += @($r.Content | ConvertFrom-Json)
    if (-not $r.Headers['HAS_MORE_RECORDS']) { return $all }
  }
}

$failed = 0
$KmsgateDown = $false
try {
  $pools = @(Get-Inventory '/rest/inventory/v1/desktop-pools' $null)
} catch {
  Exit-Script 1 "listing the Horizon pools: $_"
}
if ($Pool) { $pools = @($pools | Where-Object { $Pool -contains $_.name }) }
foreach ($name in @($Pool | Where-Object { @($pools.name) -notcontains $_ })) {
  [Console]::Error.WriteLine("kmsgate: Horizon lists no pool $name")
  $failed++
}

foreach ($p in $pools) {
  $kmsgateName = if ($PoolMap.ContainsKey($p.name)) { $PoolMap[$p.name] } else { $p.name }
  try {
    $machines = @(Get-Inventory '/rest/inventory/v1/machines' @{ type = 'Equals'; name = 'desktop_pool_id'; value = $p.id })
  } catch {
    [Console]::Error.WriteLine("kmsgate: listing the machines of $($p.name): $_; pool not synced")
    $failed++
    continue
  }
  # Machines Horizon is deleting are gone already; the rest, with their power state.
  $desktops = @($machines | Where-Object { $_.dns_name -and $_.state -ne 'DELETING' } | ForEach-Object {
    [ordered]@{ hostname = $_.dns_name.ToLowerInvariant(); power_state = (ConvertTo-PowerState "$($_.managed_machine_data.virtual_machine_power_state)" @('POWERED_ON') @('POWERED_OFF', 'SUSPENDED')); platform_id = $_.id }
  })
  if (-not (Sync-Pool $kmsgateName $desktops $dryRun ([bool]$Force))) { $failed++ }
}
try { Invoke-RestMethod -Method Post -Uri "$base/rest/logout" -ContentType 'application/json' -Body (@{ refresh_token = $login.refresh_token } | ConvertTo-Json) | Out-Null } catch { }
if ($KmsgateDown) { Exit-Script 3 "kmsgate unavailable: $failed pool(s) not synced" }
if ($failed -gt 0) { Exit-Script 1 "$failed pool(s) not synced" }
exit 0
