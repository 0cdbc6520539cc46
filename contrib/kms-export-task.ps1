<#
kms-export-task.ps1 - run on the KMS host: export the last hours of event 12290
(one per activation request) and upload them to kmsgate. Uploading an event
twice is harmless (kmsgate stores each request once), so the window overlaps
the schedule on purpose: a missed run loses nothing.

Install as a scheduled task that runs every 15 minutes (as SYSTEM, elevated):

  $action  = New-ScheduledTaskAction -Execute 'powershell.exe' `
             -Argument '-NoProfile -ExecutionPolicy Bypass -File C:\kmsgate\kms-export-task.ps1'
  $trigger = New-ScheduledTaskTrigger -Once -At (Get-Date) `
             -RepetitionInterval (New-TimeSpan -Minutes 15)
  Register-ScheduledTask -TaskName 'kmsgate event export' -Action $action `
             -Trigger $trigger -User 'SYSTEM' -RunLevel Highest

The token (role "hook") is read from C:\kmsgate\token, readable by SYSTEM and
administrators only.
#>
param(
  [string]$Url = 'https://kmsgate.corp.example',
  [string]$KmsHost = ([System.Net.Dns]::GetHostEntry('localhost').HostName).ToLower(),
  [string]$TokenFile = 'C:\kmsgate\token',
  [int]$Hours = 2
)
$ErrorActionPreference = 'Stop'
$token = (Get-Content -Raw $TokenFile).Trim()
$csv = Join-Path $env:TEMP 'kmsgate-12290.csv'

# The same columns as the documented one-liner, limited to the last $Hours hours.
$events = Get-WinEvent -FilterHashtable @{LogName='Key Management Service'; Id=12290;
                                          StartTime=(Get-Date).AddHours(-$Hours)} -ErrorAction SilentlyContinue
if (-not $events) { exit 0 }
$events | Select-Object @{n='TimeCreated';e={$_.TimeCreated.ToUniversalTime().ToString('o')}}, Message |
  Export-Csv -NoTypeInformation -Encoding UTF8 $csv

# Up to 10,000 records per request: a busy host sends several batches.
$rows = Import-Csv $csv
for ($i = 0; $i -lt $rows.Count; $i += 10000) {
  $batch = $rows[$i..([Math]::Min($i + 9999, $rows.Count - 1))] | ConvertTo-Csv -NoTypeInformation
  $result = Invoke-RestMethod -Method Post -Uri "$Url/v1/kms-hosts/$KmsHost/activations" `
    -Headers @{Authorization = "Bearer $token"} -ContentType 'text/csv; charset=utf-8' `
    -Body ([System.Text.Encoding]::UTF8.GetBytes(($batch -join "`r`n")))
  Write-Output ("kmsgate: {0} new, {1} already known, {2} rejected" -f `
    $result.accepted, $result.duplicates, $result.rejected.Count)
}

# The host's own count, for reconciliation with the model.
$count = (Get-CimInstance SoftwareLicensingService).KeyManagementServiceCurrentCount
Invoke-RestMethod -Method Post -Uri "$Url/v1/kms-hosts/$KmsHost/observations" `
  -Headers @{Authorization = "Bearer $token"} -ContentType 'application/json' `
  -Body (@{count = [int]$count} | ConvertTo-Json) | Out-Null
