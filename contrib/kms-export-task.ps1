<#
kms-export-task.ps1 - run on the KMS server: upload its event 12290 records
(one per activation request, Windows and Office mixed) to kmsgate, and each
count the machine reports (Windows, Office 2010, Office 2013+) as an
observation of the kmsgate host of that family.

Targets Windows Server 2012 R2 to 2025 as KMS host (the "Key Management
Service" event log, event 12290; SoftwareLicensingProduct through CIM), with
Windows PowerShell 5.1. Calls follow Get-WinEvent -FilterHashtable and
Get-WinEvent -ListLog (learn.microsoft.com/powershell/module/microsoft.powershell.diagnostics/get-winevent),
Invoke-WebRequest -Proxy (learn.microsoft.com/powershell/module/microsoft.powershell.utility/invoke-webrequest)
and the SoftwareLicensingProduct WMI class (learn.microsoft.com/previous-versions/windows/desktop/sppwmi/softwarelicensingproduct).

It resumes from the newest event it uploaded before (kept in -StateFile and
advanced only after kmsgate answered 2xx), so a kmsgate outage or a stopped
task loses nothing the event log still holds. Re-sending an event is a no-op
in kmsgate, and the window starts a few minutes early on purpose.

Records kmsgate rejects are not skipped for good: they are kept in
-RejectedFile (the CSV kmsgate takes, with the error) and sent again at the
start of every run until kmsgate accepts them (e.g. after an upgrade or a
mapping added); while any are kept the task ends with exit code 2, so that
the scheduled task shows a failure. Errors reading the log (a wrong log
name, access denied) stop the task with exit code 1: only "no new events"
counts as nothing to do.

The log must hold at least 30 days of events (kmsgate rebuilds the count
from the last 30 days; a task stopped longer than the log reaches back loses
requests). Each run checks it: when the log is full and circular and its
oldest event is younger than 30 days, it prints the size to set
(wevtutil sl "Key Management Service" /ms:BYTES) and ends with exit code 4
after uploading.

Install as a scheduled task that runs every 15 minutes (as SYSTEM, elevated):

  $action  = New-ScheduledTaskAction -Execute 'powershell.exe' `
             -Argument '-NoProfile -ExecutionPolicy Bypass -File C:\kmsgate\kms-export-task.ps1'
  $trigger = New-ScheduledTaskTrigger -Once -At (Get-Date) `
             -RepetitionInterval (New-TimeSpan -Minutes 15)
  Register-ScheduledTask -TaskName 'kmsgate event export' -Action $action `
             -Trigger $trigger -User 'SYSTEM' -RunLevel Highest

Copy kmsgate-common.ps1 next to it. The token (role "hook") is read from
C:\kmsgate\token, readable by SYSTEM and administrators only. -Server must
be the `server` of the machine's kmsgate hosts (by default their name).
-Proxy http://proxy:8080 sends the kmsgate calls through a proxy (with the
account's default credentials).

Exit codes: 0 done; 1 error (log unreadable, kmsgate refused or unavailable:
the state is not advanced past what was not accepted); 2 rejected records
kept for the next run; 4 the log holds less than 30 days.
#>
param(
  [string]$Url = 'https://kmsgate.corp.example',
  [string]$Server = ([System.Net.Dns]::GetHostEntry('localhost').HostName).ToLower(),
  [string]$TokenFile = 'C:\kmsgate\token',
  [string]$StateFile = 'C:\kmsgate\last-uploaded-event.txt',
  [string]$RejectedFile = 'C:\kmsgate\rejected-events.csv',
  [string]$Proxy,
  [int]$OverlapMinutes = 5,
  [int]$MinimumDays = 30
)
$ErrorActionPreference = 'Stop'
$logName = 'Key Management Service'
$exitCode = 0

. (Join-Path $PSScriptRoot 'kmsgate-common.ps1')
$activations = "/v1/kms-servers/$([uri]::EscapeDataString($Server))/activations"

# One upload of CSV rows (TimeCreated, Message); the rows kmsgate rejected, with their error.
function Send-Rows($Rows) {
  $csv = $Rows | Select-Object TimeCreated, Message | ConvertTo-Csv -NoTypeInformation
  $r = Invoke-KmsgateRetry 'POST' $activations ([System.Text.Encoding]::UTF8.GetBytes(($csv -join "`r`n"))) $null 'text/csv; charset=utf-8'
  Assert-Answer $r "uploading $(@($Rows).Count) record(s)"
  Write-Host ("kmsgate: {0} new, {1} already known, {2} rejected, {3} of unmapped activation IDs" -f `
    $r.Body.accepted, $r.Body.duplicates, @($r.Body.rejected).Count, $r.Body.unmapped)
  $bad = @()
  foreach ($x in @($r.Body.rejected)) {
    if ($null -eq $x) { continue }
    $row = @($Rows)[[int]$x.index]
    $bad += [pscustomobject]@{ TimeCreated = $row.TimeCreated; Message = $row.Message; Error = $x.error }
    Write-Host "  rejected $($row.TimeCreated): $($x.error)"
  }
  return $bad
}

# The records still rejected, kept on disk before the state moves past them.
function Save-Kept($Rows) {
  if (@($Rows).Count -gt 0) { $Rows | Export-Csv -NoTypeInformation -Encoding UTF8 -LiteralPath $RejectedFile }
  elseif (Test-Path -LiteralPath $RejectedFile) { Remove-Item -LiteralPath $RejectedFile }
}

# Records rejected before, first: kept until kmsgate takes them.
$kept = @()
if (Test-Path -LiteralPath $RejectedFile) {
  $pending = @(Import-Csv -LiteralPath $RejectedFile)
  if ($pending.Count -gt 0) { $kept = @(Send-Rows $pending) }
  Save-Kept $kept
}

# Where the previous run stopped; on the first run, everything the log holds.
$filter = @{ LogName = $logName; Id = 12290 }
if (Test-Path -LiteralPath $StateFile) {
  $last = [DateTime]::Parse((Get-Content -Raw -LiteralPath $StateFile).Trim(), $null,
                            [System.Globalization.DateTimeStyles]::RoundtripKind)
  $filter.StartTime = $last.ToLocalTime().AddMinutes(-$OverlapMinutes)
}
try {
  $events = @(Get-WinEvent -FilterHashtable $filter -ErrorAction Stop | Sort-Object TimeCreated)
} catch {
  # Only "no events match" means nothing new; a wrong log name or access denied is an error.
  if ($_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') { Exit-Script 1 "reading the $logName log: $_" }
  $events = @()
}

# Oldest first, up to 10,000 records a request; the state advances after each
# accepted batch, so a failure part-way resumes at the batch that failed.
for ($i = 0; $i -lt $events.Count; $i += 10000) {
  $batch = $events[$i..([Math]::Min($i + 9999, $events.Count - 1))]
  $rows = @($batch | Select-Object @{ n = 'TimeCreated'; e = { $_.TimeCreated.ToUniversalTime().ToString('o') } }, Message)
  $kept += @(Send-Rows $rows)
  Save-Kept $kept
  $newest = $batch[-1].TimeCreated.ToUniversalTime().ToString('o')
  Set-Content -LiteralPath "$StateFile.new" -Value $newest -Encoding ASCII
  Move-Item -Force -LiteralPath "$StateFile.new" -Destination $StateFile
}
if ($kept.Count -gt 0) {
  [Console]::Error.WriteLine("kmsgate: $($kept.Count) rejected record(s) kept in $RejectedFile for the next run")
  $exitCode = 2
}

# Each count the machine keeps, for reconciliation with kmsgate's model: one
# per licensing application whose KMS host key is installed here.
$families = @{
  '55c92734-d682-4d71-983e-d6ec3f16059f' = 'windows'
  '59a52881-a989-479d-af46-f275c6370663' = 'office2010'
  '0ff1ce15-a989-479d-af46-f275c6370663' = 'office'
}
$serverDoc = Invoke-KmsgateRetry 'GET' "/v1/kms-servers/$([uri]::EscapeDataString($Server))"
Assert-Answer $serverDoc "reading server $Server"
$products = @(Get-CimInstance SoftwareLicensingProduct -Filter 'IsKeyManagementServiceMachine = 1' -ErrorAction Stop)
foreach ($p in $products) {
  if (-not $p.PartialProductKey -or -not $families.ContainsKey($p.ApplicationID)) { continue }
  $family = $families[$p.ApplicationID]
  $kmsHost = (@($serverDoc.Body.hosts) | Where-Object { $_.family -eq $family }).name
  if ($kmsHost -and $p.KeyManagementServiceCurrentCount -ge 0) {
    $r = Invoke-KmsgateRetry 'POST' "/v1/kms-hosts/$([uri]::EscapeDataString($kmsHost))/observations" ([ordered]@{ count = [int]$p.KeyManagementServiceCurrentCount })
    Assert-Answer $r "the observation of $kmsHost"
  }
}

# Does the log reach back 30 days? Only a full circular log loses old events.
$log = Get-WinEvent -ListLog $logName -ErrorAction Stop
$oldest = Get-WinEvent -LogName $logName -MaxEvents 1 -Oldest -ErrorAction Ignore
if ($log.LogMode -eq 'Circular' -and $oldest -and $log.FileSize -ge 0.9 * $log.MaximumSizeInBytes) {
  $days = ((Get-Date) - $oldest.TimeCreated).TotalDays
  if ($days -lt $MinimumDays) {
    $needed = [long][Math]::Ceiling($log.MaximumSizeInBytes * $MinimumDays / [Math]::Max($days, 0.1) * 1.2 / 1MB) * 1MB
    [Console]::Error.WriteLine(("kmsgate: the {0} log holds {1:N1} days (maximum {2:N0} bytes), less than {3}: set wevtutil sl `"{0}`" /ms:{4}" -f `
      $logName, $days, $log.MaximumSizeInBytes, $MinimumDays, $needed))
    if ($exitCode -eq 0) { $exitCode = 4 }
  }
}
exit $exitCode
