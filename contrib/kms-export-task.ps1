<#
kms-export-task.ps1 - run on the KMS server: upload its event 12290 records
(one per activation request, Windows and Office mixed) to kmsgate, and each
count the machine reports (Windows, Office 2010, Office 2013+) as an
observation of the kmsgate host of that family.

It resumes from the newest event it uploaded before (kept in -StateFile and
advanced only after kmsgate answered 2xx), so a kmsgate outage or a stopped
task loses nothing the event log still holds. Re-sending an event is a no-op
in kmsgate, and the window starts a few minutes early on purpose.

Install as a scheduled task that runs every 15 minutes (as SYSTEM, elevated):

  $action  = New-ScheduledTaskAction -Execute 'powershell.exe' `
             -Argument '-NoProfile -ExecutionPolicy Bypass -File C:\kmsgate\kms-export-task.ps1'
  $trigger = New-ScheduledTaskTrigger -Once -At (Get-Date) `
             -RepetitionInterval (New-TimeSpan -Minutes 15)
  Register-ScheduledTask -TaskName 'kmsgate event export' -Action $action `
             -Trigger $trigger -User 'SYSTEM' -RunLevel Highest

The token (role "hook") is read from C:\kmsgate\token, readable by SYSTEM and
administrators only. -Server must be the `server` of the machine's kmsgate
hosts (by default their name).
#>
param(
  [string]$Url = 'https://kmsgate.corp.example',
  [string]$Server = ([System.Net.Dns]::GetHostEntry('localhost').HostName).ToLower(),
  [string]$TokenFile = 'C:\kmsgate\token',
  [string]$StateFile = 'C:\kmsgate\last-uploaded-event.txt',
  [int]$OverlapMinutes = 5
)
$ErrorActionPreference = 'Stop'
$token = (Get-Content -Raw $TokenFile).Trim()
$headers = @{Authorization = "Bearer $token"}

# Where the previous run stopped; on the first run, everything the log holds.
$filter = @{LogName = 'Key Management Service'; Id = 12290}
if (Test-Path $StateFile) {
  $last = [DateTime]::Parse((Get-Content -Raw $StateFile).Trim(), $null,
                            [System.Globalization.DateTimeStyles]::RoundtripKind)
  $filter.StartTime = $last.ToLocalTime().AddMinutes(-$OverlapMinutes)
}
$events = @(Get-WinEvent -FilterHashtable $filter -ErrorAction SilentlyContinue |
            Sort-Object TimeCreated)

# Oldest first, up to 10,000 records a request; the state advances after each
# accepted batch, so a failure part-way resumes at the batch that failed.
for ($i = 0; $i -lt $events.Count; $i += 10000) {
  $batch = $events[$i..([Math]::Min($i + 9999, $events.Count - 1))]
  $csv = $batch | Select-Object @{n='TimeCreated';e={$_.TimeCreated.ToUniversalTime().ToString('o')}},
                                Message | ConvertTo-Csv -NoTypeInformation
  $result = Invoke-RestMethod -Method Post -Uri "$Url/v1/kms-servers/$Server/activations" `
    -Headers $headers -ContentType 'text/csv; charset=utf-8' `
    -Body ([System.Text.Encoding]::UTF8.GetBytes(($csv -join "`r`n")))
  Write-Output ("kmsgate: {0} new, {1} already known, {2} rejected, {3} of unmapped activation IDs" -f `
    $result.accepted, $result.duplicates, $result.rejected.Count, $result.unmapped)
  $newest = $batch[-1].TimeCreated.ToUniversalTime().ToString('o')
  Set-Content -Path "$StateFile.new" -Value $newest -Encoding ASCII
  Move-Item -Force "$StateFile.new" $StateFile
}

# Each count the machine keeps, for reconciliation with kmsgate's model: one
# per licensing application whose KMS host key is installed here.
$families = @{
  '55c92734-d682-4d71-983e-d6ec3f16059f' = 'windows'
  '59a52881-a989-479d-af46-f275c6370663' = 'office2010'
  '0ff1ce15-a989-479d-af46-f275c6370663' = 'office'
}
$hosts = (Invoke-RestMethod -Method Get -Uri "$Url/v1/kms-servers/$Server" -Headers $headers).hosts
Get-CimInstance SoftwareLicensingProduct -Filter 'IsKeyManagementServiceMachine = 1' |
  Where-Object { $_.PartialProductKey -and $families.ContainsKey($_.ApplicationID) } |
  ForEach-Object {
    $family = $families[$_.ApplicationID]
    $kmsHost = ($hosts | Where-Object { $_.family -eq $family }).name
    if ($kmsHost -and $_.KeyManagementServiceCurrentCount -ge 0) {
      Invoke-RestMethod -Method Post -Uri "$Url/v1/kms-hosts/$kmsHost/observations" `
        -Headers $headers -ContentType 'application/json' `
        -Body (@{count = [int]$_.KeyManagementServiceCurrentCount} | ConvertTo-Json) | Out-Null
    }
  }
