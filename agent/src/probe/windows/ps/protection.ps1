# The protection section of the snapshot: prints one JSON object.
#
# Windows PowerShell 5.1 compatible. Every query has its own try/catch so that
# one failure becomes an `error` string beside the others' results. Values are
# printed as Windows gives them (enums may be numbers or names, booleans may be
# 1/0); the agent's decoder (protection.rs) normalises them, so this script
# stays a plain reader.

# A script block, so that the error preference and helpers stay in this section.
& {
$ErrorActionPreference = 'Stop'

# Messages are localised; the CIM error code (e.g. InvalidNamespace) is not,
# and the decoder recognises a missing namespace by it.
function Get-KhienError($e) {
    $m = ([string]$e.Exception.Message).Trim()
    if ($e.Exception.PSObject.Properties['NativeErrorCode']) { $m = ('{0}: {1}' -f $e.Exception.NativeErrorCode, $m) }
    elseif ($e.Exception.HResult) { $m = ('0x{0:X8}: {1}' -f $e.Exception.HResult, $m) }
    return $m
}

# DateTime values: 5.1's ConvertTo-Json would print "\/Date(ms)\/", and the
# epoch-less "never" comes as year 1600/1601.
function ConvertTo-KhienTime($d) {
    if ($null -eq $d) { return $null }
    if ($d -is [datetime]) {
        if ($d.Year -lt 1980) { return $null }
        return $d.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')
    }
    return [string]$d
}

function Get-KhienRegValues($path, [string[]]$names) {
    if (-not (Test-Path -LiteralPath $path)) { return $null }
    $item = Get-ItemProperty -LiteralPath $path
    $out = [ordered]@{}
    foreach ($n in $names) {
        if ($item.PSObject.Properties.Name -contains $n) { $out[$n] = $item.$n } else { $out[$n] = $null }
    }
    return $out
}

$result = [ordered]@{}

# --- Security Center (clients only: Server has no root\SecurityCenter2) -----
$wsc = [ordered]@{ products = @(); error = $null }
try {
    $wsc.products = @(Get-CimInstance -Namespace 'root/SecurityCenter2' -ClassName 'AntiVirusProduct' -OperationTimeoutSec 30 |
        ForEach-Object {
            [ordered]@{
                displayName              = $_.displayName
                instanceGuid             = $_.instanceGuid
                productState             = $_.productState
                pathToSignedProductExe   = $_.pathToSignedProductExe
                pathToSignedReportingExe = $_.pathToSignedReportingExe
                timestamp                = $_.timestamp
            }
        })
} catch {
    $wsc.error = Get-KhienError $_
}
$result.security_center = $wsc

# --- Microsoft Defender ------------------------------------------------------
$defender = [ordered]@{ status = $null; error = $null; preference = $null; preference_error = $null; policy = $null; policy_error = $null }
try {
    # The CIM class, not Get-MpComputerStatus: it takes a timeout, and the
    # Defender module may be absent where the WMI provider is not.
    $s = Get-CimInstance -Namespace 'root/Microsoft/Windows/Defender' -ClassName 'MSFT_MpComputerStatus' -OperationTimeoutSec 30
    $defender.status = [ordered]@{
        AMServiceEnabled              = $s.AMServiceEnabled
        AMRunningMode                 = $s.AMRunningMode
        AntivirusEnabled              = $s.AntivirusEnabled
        RealTimeProtectionEnabled     = $s.RealTimeProtectionEnabled
        IsTamperProtected             = $s.IsTamperProtected
        AntivirusSignatureVersion     = $s.AntivirusSignatureVersion
        AntivirusSignatureLastUpdated = ConvertTo-KhienTime $s.AntivirusSignatureLastUpdated
        AntivirusSignatureAge         = $s.AntivirusSignatureAge
        AMEngineVersion               = $s.AMEngineVersion
        AMProductVersion              = $s.AMProductVersion
        QuickScanEndTime              = ConvertTo-KhienTime $s.QuickScanEndTime
        FullScanEndTime               = ConvertTo-KhienTime $s.FullScanEndTime
        QuickScanAge                  = $s.QuickScanAge
        FullScanAge                   = $s.FullScanAge
    }
} catch {
    $defender.error = Get-KhienError $_
}
if ($null -ne $defender.status) {
    try {
        $p = Get-CimInstance -Namespace 'root/Microsoft/Windows/Defender' -ClassName 'MSFT_MpPreference' -OperationTimeoutSec 30
        $defender.preference = [ordered]@{ DisableRealtimeMonitoring = $p.DisableRealtimeMonitoring }
    } catch {
        $defender.preference_error = Get-KhienError $_
    }
}
try {
    $defender.policy = Get-KhienRegValues 'HKLM:\SOFTWARE\Policies\Microsoft\Windows Advanced Threat Protection' @('ForceDefenderPassiveMode')
} catch {
    $defender.policy_error = Get-KhienError $_
}
$result.defender = $defender

# --- Third-party products by service and uninstall entry ---------------------
# Security Center is absent on Server, so products are recognised by their
# Windows services (name, or executable image in the service's command line)
# and by their Uninstall entries (DisplayName patterns, -like syntax).
# Where the names come from (tags as in shared/reference/probes.md):
#   bitdefender: service EPSecurityService [V-code] glpi-agent Win32/AntiVirus.pm
#   cortex-xdr:  service cyserver [V-code] glpi-agent Win32/AntiVirus.pm
#   kaspersky:   avp.exe image, AVP* service (KES) [C]; KAVFS (Kaspersky Security
#                for Windows Server) [V-doc] support.kaspersky.com KSWS 11 "146612"
#   others:      vendor install guides and community scripts [C], unverified on a host.
#   bkav:        UNCONFIRMED. Only community lists of AV processes name the image
#                BkavService.exe (one with "%ProgramFiles%\Bkav Pro\BkavService.exe"),
#                and one script stops a service "BkavProSvc". No Bkav documentation
#                of BKAV Endpoint's service or registry names was found; the
#                Uninstall pattern "Bkav*" is the most dependable of these.
$knownProducts = @(
    @{ id = 'kaspersky'; name = 'Kaspersky Endpoint Security'; vendor = 'Kaspersky'
       services = @('AVP*', 'KAVFS', 'klnagent'); images = @('avp.exe', 'kavfs.exe'); uninstall = @('Kaspersky*') }
    @{ id = 'eset'; name = 'ESET Endpoint Security'; vendor = 'ESET'
       services = @('ekrn'); images = @('ekrn.exe'); uninstall = @('ESET*') }
    @{ id = 'symantec-sep'; name = 'Symantec Endpoint Protection'; vendor = 'Broadcom'
       services = @('SepMasterService'); images = @(); uninstall = @('Symantec Endpoint Protection*') }
    @{ id = 'trendmicro'; name = 'Trend Micro Apex One'; vendor = 'Trend Micro'
       services = @('ntrtscan', 'TmCCSF', 'TmListen', 'ds_agent'); images = @('ntrtscan.exe', 'tmccsf.exe')
       uninstall = @('Trend Micro Apex One*', 'Trend Micro OfficeScan*', 'Trend Micro Deep Security*') }
    @{ id = 'sophos'; name = 'Sophos Endpoint'; vendor = 'Sophos'
       services = @('SAVService', 'Sophos Endpoint Defense Service', 'SophosFileScanner'); images = @('SavService.exe', 'SEDService.exe')
       uninstall = @('Sophos Endpoint Agent*', 'Sophos Anti-Virus*') }
    @{ id = 'bitdefender'; name = 'Bitdefender Endpoint Security Tools'; vendor = 'Bitdefender'
       services = @('EPSecurityService'); images = @('EPSecurityService.exe'); uninstall = @('Bitdefender Endpoint Security Tools*') }
    @{ id = 'trellix'; name = 'Trellix (McAfee) Endpoint Security'; vendor = 'Trellix'
       services = @('mfemms', 'mfefire', 'McShield'); images = @('mfemms.exe'); uninstall = @('Trellix Endpoint Security*', 'McAfee Endpoint Security*', 'McAfee VirusScan Enterprise*') }
    @{ id = 'crowdstrike'; name = 'CrowdStrike Falcon'; vendor = 'CrowdStrike'
       services = @('CSFalconService'); images = @('CSFalconService.exe'); uninstall = @('CrowdStrike Windows Sensor*') }
    @{ id = 'sentinelone'; name = 'SentinelOne Agent'; vendor = 'SentinelOne'
       services = @('SentinelAgent'); images = @('SentinelAgent.exe'); uninstall = @('Sentinel Agent*', 'SentinelOne*') }
    @{ id = 'cortex-xdr'; name = 'Cortex XDR'; vendor = 'Palo Alto Networks'
       services = @('cyserver'); images = @('cyserver.exe'); uninstall = @('Cortex XDR*') }
    @{ id = 'bkav'; name = 'Bkav Endpoint'; vendor = 'Bkav'
       services = @('BkavService', 'BkavProSvc', 'Bkav*'); images = @('BkavService.exe'); uninstall = @('Bkav*') }
)
$found = [ordered]@{ products = @(); error = $null }
try {
    $services = @(Get-CimInstance -ClassName 'Win32_Service' -Property Name, DisplayName, State, StartMode, PathName -OperationTimeoutSec 30)
    $uninstall = @()
    foreach ($root in @('HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall', 'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall')) {
        if (Test-Path -LiteralPath $root) {
            $uninstall += @(Get-ChildItem -LiteralPath $root -ErrorAction SilentlyContinue |
                ForEach-Object { Get-ItemProperty -LiteralPath $_.PSPath -ErrorAction SilentlyContinue } |
                Where-Object { $_.DisplayName })
        }
    }
    foreach ($k in $knownProducts) {
        $svc = @($services | Where-Object {
            $s = $_
            ($k.services | Where-Object { $s.Name -like $_ }) -or
            ($k.images | Where-Object { $s.PathName -like ('*\' + $_ + '*') })
        } | ForEach-Object {
            [ordered]@{ Name = $_.Name; DisplayName = $_.DisplayName; State = $_.State; StartMode = $_.StartMode; PathName = $_.PathName }
        })
        $uni = @($uninstall | Where-Object {
            $u = $_
            $k.uninstall | Where-Object { $u.DisplayName -like $_ }
        } | ForEach-Object {
            [ordered]@{ DisplayName = $_.DisplayName; DisplayVersion = $_.DisplayVersion; Publisher = $_.Publisher }
        })
        if ($svc.Count -gt 0 -or $uni.Count -gt 0) {
            $found.products += [ordered]@{
                id = $k.id; name = $k.name; vendor = $k.vendor
                patterns = @($k.uninstall); services = $svc; uninstall = $uni
            }
        }
    }
} catch {
    $found.error = Get-KhienError $_
}
$result.products = $found

# --- Firewall ------------------------------------------------------------------
$fw = [ordered]@{
    profiles = @(); profiles_error = $null
    policy = @(); policy_error = $null
    local = @(); local_error = $null
    connections = @(); connections_error = $null
    service = $null; service_error = $null
}
try {
    # ActiveStore: the effective state, Group Policy merged over local settings.
    $fw.profiles = @(Get-NetFirewallProfile -PolicyStore ActiveStore | ForEach-Object {
        [ordered]@{
            Name                  = [string]$_.Name
            Enabled               = $_.Enabled
            DefaultInboundAction  = $_.DefaultInboundAction
            DefaultOutboundAction = $_.DefaultOutboundAction
            LogAllowed            = $_.LogAllowed
            LogBlocked            = $_.LogBlocked
            LogFileName           = $_.LogFileName
        }
    })
} catch {
    $fw.profiles_error = Get-KhienError $_
}
$names = @('EnableFirewall', 'DefaultInboundAction', 'DefaultOutboundAction')
try {
    foreach ($p in @('Domain', 'Private', 'Public')) {
        $v = Get-KhienRegValues "HKLM:\SOFTWARE\Policies\Microsoft\WindowsFirewall\${p}Profile" $names
        if ($null -ne $v) { $v.Profile = $p; $fw.policy += $v }
    }
} catch {
    $fw.policy_error = Get-KhienError $_
}
try {
    # StandardProfile is the private profile.
    foreach ($p in @(@('Domain', 'DomainProfile'), @('Private', 'StandardProfile'), @('Public', 'PublicProfile'))) {
        $v = Get-KhienRegValues "HKLM:\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy\$($p[1])" $names
        if ($null -ne $v) { $v.Profile = $p[0]; $fw.local += $v }
    }
} catch {
    $fw.local_error = Get-KhienError $_
}
try {
    $fw.connections = @(Get-NetConnectionProfile | ForEach-Object {
        [ordered]@{
            Name              = $_.Name
            InterfaceAlias    = $_.InterfaceAlias
            NetworkCategory   = $_.NetworkCategory
            IPv4Connectivity  = $_.IPv4Connectivity
            IPv6Connectivity  = $_.IPv6Connectivity
        }
    })
} catch {
    $fw.connections_error = Get-KhienError $_
}
try {
    $svc = Get-CimInstance -ClassName 'Win32_Service' -Filter "Name='mpssvc'" -OperationTimeoutSec 30
    if ($null -ne $svc) { $fw.service = [ordered]@{ Name = $svc.Name; State = $svc.State; StartMode = $svc.StartMode } }
} catch {
    $fw.service_error = Get-KhienError $_
}
$result.firewall = $fw

$result | ConvertTo-Json -Depth 6 -Compress
}
