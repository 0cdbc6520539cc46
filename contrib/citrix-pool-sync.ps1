<#
citrix-pool-sync.ps1 - keep kmsgate's pools true to Citrix: push each machine
catalog's complete machine list, with each machine's power state, to
PUT /v1/pools/{name}/desktops. Run it on a schedule (every 15 to 60 minutes).

Targets Citrix DaaS with the Remote PowerShell SDK (a Secure Client profile:
Get-XDAuthentication -ProfileName), and Citrix Virtual Apps and Desktops 7
LTSR 1912 to 2402 and current releases to 2411 on a Delivery Controller or
Studio machine (-AdminAddress); Windows PowerShell 5.1. Calls:
Get-BrokerCatalog and Get-BrokerMachine -CatalogName -MaxRecordCount (the
Broker SDK returns 250 records unless told otherwise; a truncated list would
read as machines gone), each machine's DNSName, SID and PowerState.

kmsgate adds the machines it did not know (MCS machines re-created, machines
added outside a hook), marks the ones Citrix no longer lists as
decommissioned, and keeps each machine's power state: PowerState Off or
Suspended (power management, a holiday shutdown) renews nothing until a later
sync reports it On; Unmanaged and the transitional states are sent as
"unknown" (the model keeps what it had).

What it refuses rather than half-does: a catalog with no machine listed is
not sent; a catalog whose list reached -MaxRecordCount is not sent (it may be
truncated); kmsgate refuses (409) a list that would decommission more than
half of a pool, unless -Force. An authentication that fails stops before any
change.

  .\citrix-pool-sync.ps1 -CloudProfile kmsgate -Catalog 'Finance Win11','HR Win11'
  .\citrix-pool-sync.ps1 -AdminAddress ddc01.corp.example -CatalogMap @{ 'Finance Win11' = 'citrix-finance' }
  .\citrix-pool-sync.ps1 -AdminAddress ddc01 -WhatIf     # dry run: the difference, nothing changed

Parameters:
  -CloudProfile   DaaS: the Remote SDK credential profile (Set-XDCredentials
                  -SecureClientFile ... -ProfileType CloudApi -StoreAs NAME)
  -AdminAddress   on-premises: the Delivery Controller
  -Catalog        catalogs to sync (default: every catalog with machines)
  -CatalogMap     catalog name -> kmsgate pool name, where they differ
  -MaxRecordCount the largest catalog expected (default 100000)
  -Url            kmsgate base URL; -TokenFile holds a token of role "hook"
  -Proxy          HTTP proxy for the kmsgate calls (default: none)
  -Force          accept a list that decommissions more than half of a pool
  -WhatIf         dry run: kmsgate answers the difference and changes nothing

Exit codes: 0 every catalog synced; 1 a catalog refused or skipped, or
Citrix unreachable; 3 kmsgate unavailable.
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
  [string]$CloudProfile,
  [string]$AdminAddress,
  [string[]]$Catalog,
  [hashtable]$CatalogMap = @{},
  [ValidateRange(1, 10000000)][int]$MaxRecordCount = 100000,
  [string]$Url = 'https://kmsgate.corp.example',
  [string]$TokenFile = 'C:\kmsgate\token',
  [string]$Proxy,
  [switch]$Force
)
$ErrorActionPreference = 'Stop'
$dryRun = [bool]$WhatIfPreference
$ddc = @{}
if ($AdminAddress) { $ddc.AdminAddress = $AdminAddress }

. (Join-Path $PSScriptRoot 'kmsgate-common.ps1')

Connect-Citrix @('Citrix.Broker.Admin.V2') $CloudProfile $AdminAddress

$failed = 0
$KmsgateDown = $false
try {
  $catalogs = @(Get-BrokerCatalog -MaxRecordCount $MaxRecordCount @ddc)
} catch {
  Exit-Script 1 "listing the catalogs: $_"
}
if ($Catalog) {
  foreach ($name in @($Catalog | Where-Object { @($catalogs.Name) -notcontains $_ })) {
    [Console]::Error.WriteLine("kmsgate: Citrix lists no catalog $name")
    $failed++
  }
  $catalogs = @($catalogs | Where-Object { $Catalog -contains $_.Name })
}

foreach ($c in $catalogs) {
  $pool = if ($CatalogMap.ContainsKey($c.Name)) { $CatalogMap[$c.Name] } else { $c.Name }
  try {
    $machines = @(Get-BrokerMachine -CatalogName $c.Name -MaxRecordCount $MaxRecordCount @ddc)
  } catch {
    [Console]::Error.WriteLine("kmsgate: listing the machines of $($c.Name): $_; not synced")
    $failed++
    continue
  }
  if ($machines.Count -ge $MaxRecordCount) {
    [Console]::Error.WriteLine("kmsgate: catalog $($c.Name) lists $MaxRecordCount machines or more: possibly truncated, not synced (raise -MaxRecordCount)")
    $failed++
    continue
  }
  if ($machines.Count -eq 0 -and -not $Catalog) { continue }
  $desktops = @($machines | Where-Object { $_.DNSName } | ForEach-Object {
    [ordered]@{ hostname = $_.DNSName.ToLowerInvariant(); power_state = (ConvertTo-PowerState "$($_.PowerState)" @('On') @('Off', 'Suspended')); platform_id = "$($_.SID)" }
  })
  if (-not (Sync-Pool $pool $desktops $dryRun ([bool]$Force))) { $failed++ }
}
if ($KmsgateDown) { Exit-Script 3 "kmsgate unavailable: $failed catalog(s) not synced" }
if ($failed -gt 0) { Exit-Script 1 "$failed catalog(s) not synced" }
exit 0
