<#
citrix-remove-machine.ps1 - remove Citrix machines only when kmsgate says the
KMS host keeps enough activations (go / no-go).

Targets Citrix DaaS with the Remote PowerShell SDK (authenticated with a
Secure Client profile: Get-XDAuthentication -ProfileName), and Citrix Virtual
Apps and Desktops 7 LTSR 1912 to 2402 and current releases to 2411 on a
Delivery Controller or Studio machine (-AdminAddress, Kerberos); Windows
PowerShell 5.1.

  1. Authenticates: -CloudProfile NAME (DaaS; the profile is created once
     with Set-XDCredentials -CustomerId ... -SecureClientFile secureclient.csv
     -ProfileType CloudApi -StoreAs NAME, as the account that runs the
     script), or on-premises with -AdminAddress. With the Remote SDK and no
     profile it refuses: Get-XDAuthentication would prompt.
  2. Looks the machines up (Get-BrokerMachine) for their DNS names, and for
     MCS machines their provisioning scheme, VM and AD account
     (Get-BrokerCatalog, Get-ProvScheme, Get-ProvVM).
  3. Asks POST /v1/gate with decommission {desktops: [...]}, reserve: true and
     an Idempotency-Key (the machine list + date: a retry or a re-run the same
     day gets the same answer and the same plan instead of a second one).
     -WhatIf asks a dry run instead: nothing recorded, nothing reserved.
  4. No-go: prints the reasons and the largest safe decommission; changes nothing.
  5. Go: for each machine: maintenance mode, shut down (power-managed machines;
     a machine that keeps running keeps renewing its KMS activation), remove
     from its delivery group and its catalog (Remove-BrokerMachine); for MCS
     machines then, as Studio's "Delete" does: Unlock-ProvVM, Remove-ProvVM
     (deletes the VM and its disks) and Remove-AcctADAccount (-AccountAction:
     Delete, Disable or None for the AD computer account).
  6. Then POST /v1/plans/{id}/commit (the desktops become decommissioned in
     kmsgate), or /release if a removal failed; machines already out of the
     broker are then recorded with DELETE /v1/desktops/{hostname}, and what
     is left behind (VM, AD account) is printed.

What it refuses rather than half-does: a machine with user sessions (the
shutdown would log them off) unless -Force; an MCS machine whose VM or AD
account it cannot find (it would leave them behind); on DaaS, deleting or
disabling AD accounts without -ADCredential (the cloud cannot write to your
AD). It checks all of these before asking the gate.

  .\citrix-remove-machine.ps1 -MachineName 'CORP\VDI-P1-001','CORP\VDI-P1-002' -CloudProfile kmsgate
  Get-Content retire.txt | .\citrix-remove-machine.ps1 -AdminAddress ddc01.corp.example
  .\citrix-remove-machine.ps1 -MachineName 'CORP\VDI-P1-001' -AdminAddress ddc01 -WhatIf      # ask only

Parameters:
  -MachineName    machines as Citrix names them (DOMAIN\NAME); also from the pipeline
  -CloudProfile   DaaS: the Remote SDK credential profile (Set-XDCredentials -StoreAs)
  -AdminAddress   on-premises: the Delivery Controller (default: the local one)
  -AccountAction  MCS AD computer accounts: Delete (default), Disable or None
  -ADCredential   an AD account allowed to delete/disable the computer accounts
  -KmsHost        the KMS host (default: kmsgate's record of the first machine)
  -Url            kmsgate base URL; -TokenFile holds a token of role "hook"
                  (readable by the account that runs this script only)
  -Proxy          HTTP proxy for the kmsgate calls (default: none)
  -TtlMinutes     how long the reservation holds (default 60)
  -ShutdownMinutes  how long to wait for the machines to power off (default 15)
  -Force          remove machines even with user sessions on them (they are logged off)
  -IdempotencyKey to override the default key (e.g. to ask afresh the same day)
  -WhatIf         ask the gate (a dry run) without reserving or changing anything

All machines must use one KMS host (one gate question). Exit codes:
  0  go, the machines are removed and kmsgate records it (or -WhatIf and go, or already done)
  1  error: bad parameters, no authentication, unknown machine, sessions without
     -Force, token or request refused (401/403/404/422), or a removal failed
     (the plan is released)
  2  no-go: nothing changed; the reasons are printed
  3  kmsgate unavailable (503, 5xx or no answer after retries): nothing changed (fail closed)
  4  conflict (409): a machine is held by another reserved plan; nothing changed, retry later
  5  machines were (partly) removed but kmsgate could not record it: run the printed commands
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
  [Parameter(Mandatory = $true, ValueFromPipeline = $true)][string[]]$MachineName,
  [string]$CloudProfile,
  [string]$AdminAddress,
  [ValidateSet('Delete', 'Disable', 'None')][string]$AccountAction = 'Delete',
  [System.Management.Automation.PSCredential]$ADCredential,
  [string]$KmsHost,
  [string]$Url = 'https://kmsgate.corp.example',
  [string]$TokenFile = 'C:\kmsgate\token',
  [string]$Proxy,
  [ValidateRange(1, 1440)][int]$TtlMinutes = 60,
  [ValidateRange(1, 1440)][int]$ShutdownMinutes = 15,
  [switch]$Force,
  [string]$IdempotencyKey
)
begin { $names = @() }
process { $names += $MachineName }
end {
$ErrorActionPreference = 'Stop'
$dryRun = [bool]$WhatIfPreference
$ddc = @{}
if ($AdminAddress) { $ddc.AdminAddress = $AdminAddress }

. (Join-Path $PSScriptRoot 'kmsgate-common.ps1')

# ---------------------------------------------------------------- Citrix

Connect-Citrix @('Citrix.Broker.Admin.V2', 'Citrix.MachineCreation.Admin.V2', 'Citrix.ADIdentity.Admin.V2') $CloudProfile $AdminAddress
if ($names.Count -eq 0) { Exit-Script 1 'no machines given' }
$adParams = @{}
if ($ADCredential) { $adParams = @{ ADUserName = $ADCredential.UserName; ADPassword = $ADCredential.Password } }
if ($CloudProfile -and $AccountAction -ne 'None' -and -not $ADCredential) {
  Exit-Script 1 "-AccountAction $AccountAction on Citrix DaaS needs -ADCredential (the cloud cannot change your AD); or -AccountAction None to keep the accounts"
}

# kmsgate hostname (DNS name, lower case) -> broker machine, and for MCS its VM and AD account.
$machines = [ordered]@{}
$mcs = @{}
foreach ($n in $names) {
  $bm = @(Get-BrokerMachine -MachineName $n @ddc -ErrorAction Stop)
  if ($bm.Count -ne 1) { Exit-Script 1 "no single Citrix machine named $n (check the name, DOMAIN\NAME, and -AdminAddress)" }
  $bm = $bm[0]
  if (-not $bm.DNSName) { Exit-Script 1 "Citrix machine $n has no DNS name to match in kmsgate" }
  if ($bm.SessionCount -gt 0 -and -not $Force) {
    Exit-Script 1 "$n has $($bm.SessionCount) session(s): nothing changed (-Force shuts it down anyway, logging the users off)"
  }
  $hostname = $bm.DNSName.ToLowerInvariant()
  $machines[$hostname] = $bm
  $catalog = Get-BrokerCatalog -Uid $bm.CatalogUid @ddc -ErrorAction Stop
  if ($catalog.ProvisioningType -eq 'MCS') {
    $scheme = Get-ProvScheme -ProvisioningSchemeUid $catalog.ProvisioningSchemeId @ddc -ErrorAction Stop
    $vm = @(Get-ProvVM -ProvisioningSchemeName $scheme.ProvisioningSchemeName -VMName $bm.HostedMachineName @ddc -ErrorAction Stop)
    if ($vm.Count -ne 1) { Exit-Script 1 "no MCS VM $($bm.HostedMachineName) in scheme $($scheme.ProvisioningSchemeName): nothing changed (removing $n from the broker alone would leave its VM and AD account behind)" }
    $mcs[$hostname] = [pscustomobject]@{ Scheme = $scheme.ProvisioningSchemeName; IdentityPool = $scheme.IdentityPoolName
                                         VMName = $vm[0].VMName; VMId = $vm[0].VMId; Sid = $vm[0].ADAccountSid }
  }
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

$gate = Invoke-Gate $KmsHost ([ordered]@{ desktops = $hostnames }) $dryRun $TtlMinutes $IdempotencyKey
$planId = $gate.plan_id
Write-Output "kmsgate: plan $planId reserved until $($gate.expires_at)"

# ---------------------------------------------------------------- the change

$removed = @()
$leftBehind = @()
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
    $m = $mcs[$hostname]
    if ($m) {
      # As Studio's Delete: the VM and its disks, then the AD computer account.
      $leftBehind += "VM $($m.VMName) (scheme $($m.Scheme)) and AD account $($m.Sid)"
      Unlock-ProvVM -ProvisioningSchemeName $m.Scheme -VMID $m.VMId @ddc
      $result = Remove-ProvVM -ProvisioningSchemeName $m.Scheme -VMName $m.VMName @ddc
      if ($result.TaskState -ne 'Finished' -or @($result.FailedVirtualMachines).Count -gt 0) {
        throw "Remove-ProvVM $($m.VMName): $($result.TaskState) $($result.TaskStateInformation)"
      }
      Remove-AcctADAccount -IdentityPoolName $m.IdentityPool -ADAccountSid $m.Sid -RemovalOption $AccountAction @adParams @ddc | Out-Null
      $leftBehind = @($leftBehind | Select-Object -SkipLast 1)
    }
  }
} catch {
  $failure = $_
}

if ($null -ne $failure) {
  if ($leftBehind.Count -gt 0) { [Console]::Error.WriteLine("kmsgate: left behind, remove by hand: $($leftBehind -join '; ')") }
  Undo-Plan $planId $removed "removing the machines failed: $failure" 1
}

# ---------------------------------------------------------------- record it

Complete-Plan $planId $hostnames
}
