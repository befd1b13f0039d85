# The hardening section of the snapshot: prints one JSON object.
# PowerShell 5.1. Each part is an object or a list, or {"error": "..."} when
# its query failed, so that one broken query leaves only its own facts empty.
# Registry values are printed as stored (DWORDs as numbers, REG_SZ as text);
# a value or key that does not exist is null, which means "not configured".
# Times are printed as UTC RFC 3339 text: 5.1 would print "\/Date(ms)\/".
# A script block, so that its variables stay out of the other sections.
& {
    $ErrorActionPreference = 'Stop'
    $hardening = [ordered]@{}

    function ConvertTo-KhienDate($Value) {
        if ($null -eq $Value) { return $null }
        try {
            ([datetime]$Value).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ', [Globalization.CultureInfo]::InvariantCulture)
        } catch { $null }
    }

    # Named values of one key; a missing key gives nulls, a key that cannot be
    # read throws, so that "not configured" and "not readable" stay apart.
    function Read-KhienValues([string]$Path, [string[]]$Names) {
        $out = [ordered]@{}
        $key = $null
        try { $key = Get-Item -LiteralPath $Path } catch [System.Management.Automation.ItemNotFoundException] { $key = $null }
        foreach ($name in $Names) { $out[$name] = if ($key) { $key.GetValue($name) } else { $null } }
        $out
    }

    # Loaded profiles of real users (not the service accounts' S-1-5-18/19/20).
    $userSids = @()
    try {
        $userSids = @(Get-ChildItem -LiteralPath 'Registry::HKEY_USERS' | Where-Object { $_.PSChildName -match '^S-1-5-21-[0-9-]+$' } |
            ForEach-Object { $_.PSChildName })
    } catch { }

    $cfg = Join-Path $env:TEMP ('khien-secedit-{0}.inf' -f [guid]::NewGuid())
    try {
        $out = & secedit.exe /export /cfg $cfg /areas SECURITYPOLICY /quiet 2>&1
        if ($LASTEXITCODE -ne 0) { throw "secedit /export exited with $LASTEXITCODE`: $out" }
        # secedit writes UTF-16 LE with a BOM.
        $hardening.secedit = [ordered]@{ text = (Get-Content -LiteralPath $cfg -Encoding Unicode -Raw) }
    } catch { $hardening.secedit = @{ error = $_.Exception.Message } }
    finally { Remove-Item -LiteralPath $cfg -Force -ErrorAction SilentlyContinue }

    try {
        $hardening.users = @(Get-LocalUser | ForEach-Object {
            [ordered]@{
                Name = $_.Name
                SID = $_.SID.Value
                Enabled = $_.Enabled
                LastLogon = ConvertTo-KhienDate $_.LastLogon
                PasswordLastSet = ConvertTo-KhienDate $_.PasswordLastSet
                PasswordRequired = $_.PasswordRequired
                # null when the password never expires.
                PasswordExpires = ConvertTo-KhienDate $_.PasswordExpires
                AccountExpires = ConvertTo-KhienDate $_.AccountExpires
            }
        })
    } catch { $hardening.users = @{ error = $_.Exception.Message } }

    try {
        # By SID: the group's name is localized.
        $group = Get-LocalGroup -SID 'S-1-5-32-544'
        $members = try {
            @(Get-LocalGroupMember -SID 'S-1-5-32-544' | ForEach-Object {
                [ordered]@{ Name = $_.Name; SID = $_.SID.Value; ObjectClass = $_.ObjectClass; PrincipalSource = [string]$_.PrincipalSource }
            })
        } catch {
            # Get-LocalGroupMember fails as a whole when one member's SID no
            # longer resolves (a deleted domain account); ADSI lists it anyway.
            @(([ADSI]"WinNT://$env:COMPUTERNAME/$($group.Name),group").psbase.Invoke('Members') | ForEach-Object {
                $entry = [ADSI]$_
                $sid = (New-Object Security.Principal.SecurityIdentifier($entry.objectSid.Value, 0)).Value
                [ordered]@{ Name = [string]$entry.Name.Value; SID = $sid; ObjectClass = [string]$entry.Class; PrincipalSource = $null }
            })
        }
        $hardening.admins = [ordered]@{ Group = $group.Name; Members = $members }
    } catch { $hardening.admins = @{ error = $_.Exception.Message } }

    try {
        $winlogon = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon'
        $values = Read-KhienValues $winlogon 'AutoAdminLogon', 'DefaultUserName', 'DefaultDomainName'
        # Only whether DefaultPassword exists: its value is a clear-text password.
        $values.DefaultPasswordPresent = @((Get-Item -LiteralPath $winlogon).GetValueNames()) -contains 'DefaultPassword'
        $hardening.autologon = $values
    } catch { $hardening.autologon = @{ error = $_.Exception.Message } }

    try {
        $saverNames = 'ScreenSaveActive', 'ScreenSaverIsSecure', 'ScreenSaveTimeOut'
        $savers = @()
        $machine = Read-KhienValues 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\Control Panel\Desktop' $saverNames
        $machine.Scope = 'machine-policy'
        $savers += $machine
        foreach ($sid in $userSids) {
            $policy = Read-KhienValues "Registry::HKEY_USERS\$sid\Software\Policies\Microsoft\Windows\Control Panel\Desktop" $saverNames
            $policy.Scope = "user-policy:$sid"
            $own = Read-KhienValues "Registry::HKEY_USERS\$sid\Control Panel\Desktop" $saverNames
            $own.Scope = "user:$sid"
            $savers += $policy, $own
        }
        $system = Read-KhienValues 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System' 'InactivityTimeoutSecs'
        $hardening.idle_lock = [ordered]@{ InactivityTimeoutSecs = $system.InactivityTimeoutSecs; ScreenSavers = $savers }
    } catch { $hardening.idle_lock = @{ error = $_.Exception.Message } }

    try {
        $out = & auditpol.exe /get /category:* /r 2>&1
        if ($LASTEXITCODE -ne 0) { throw "auditpol exited with $LASTEXITCODE`: $out" }
        $hardening.auditpol = [ordered]@{ csv = (@($out) -join "`n") }
    } catch { $hardening.auditpol = @{ error = $_.Exception.Message } }

    try {
        $volumes = Get-CimInstance -Namespace 'root/CIMV2/Security/MicrosoftVolumeEncryption' -ClassName Win32_EncryptableVolume
        $hardening.bitlocker = @($volumes | ForEach-Object {
            # The methods, not the ProtectionStatus property, which was seen
            # stale (1 on a decrypted volume) on Windows 11 26100.
            $protection = Invoke-CimMethod -InputObject $_ -MethodName GetProtectionStatus
            $conversion = Invoke-CimMethod -InputObject $_ -MethodName GetConversionStatus
            [ordered]@{
                DriveLetter = $_.DriveLetter
                DeviceID = $_.DeviceID
                VolumeType = $_.VolumeType
                ProtectionStatus = $protection.ProtectionStatus
                ConversionStatus = $conversion.ConversionStatus
                EncryptionPercentage = $conversion.EncryptionPercentage
                EncryptionMethod = $_.EncryptionMethod
            }
        })
    } catch { $hardening.bitlocker = @{ error = $_.Exception.Message } }

    try {
        $usb = Read-KhienValues 'HKLM:\SYSTEM\CurrentControlSet\Services\USBSTOR' 'Start'
        $deny = Read-KhienValues 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\RemovableStorageDevices' 'Deny_All'
        $disks = Read-KhienValues 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\RemovableStorageDevices\{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}' 'Deny_Read', 'Deny_Write'
        $hardening.usb = [ordered]@{ UsbStorStart = $usb.Start; Deny_All = $deny.Deny_All; Deny_Read = $disks.Deny_Read; Deny_Write = $disks.Deny_Write }
    } catch { $hardening.usb = @{ error = $_.Exception.Message } }

    $smb1 = [ordered]@{}
    try { $smb1.EnableSMB1Protocol = (Get-SmbServerConfiguration).EnableSMB1Protocol } catch { $smb1.ServerError = $_.Exception.Message }
    try {
        # Win32_OptionalFeature answers in a fraction of what DISM takes.
        $feature = Get-CimInstance -ClassName Win32_OptionalFeature -Filter "Name='SMB1Protocol'"
        $smb1.FeatureState = switch ($feature.InstallState) { 1 { 'Enabled' } 2 { 'Disabled' } 3 { 'Absent' } default { $null } }
    } catch { $smb1.FeatureError = $_.Exception.Message }
    $hardening.smb1 = $smb1

    try {
        $local = Read-KhienValues 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server' 'fDenyTSConnections'
        $tcp = Read-KhienValues 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp' 'UserAuthentication', 'SecurityLayer', 'PortNumber'
        foreach ($name in $tcp.Keys) { $local[$name] = $tcp[$name] }
        $policy = Read-KhienValues 'HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services' 'fDenyTSConnections', 'UserAuthentication', 'SecurityLayer'
        $hardening.rdp = [ordered]@{ Local = $local; Policy = $policy }
    } catch { $hardening.rdp = @{ error = $_.Exception.Message } }

    try {
        $hardening.autorun = Read-KhienValues 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\Explorer' 'NoDriveTypeAutoRun', 'NoAutorun'
    } catch { $hardening.autorun = @{ error = $_.Exception.Message } }

    try {
        $wu = Read-KhienValues 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate' 'WUServer', 'WUStatusServer'
        $au = Read-KhienValues 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU' 'UseWUServer', 'NoAutoUpdate', 'AUOptions'
        foreach ($name in $au.Keys) { $wu[$name] = $au[$name] }
        $hardening.update = $wu
    } catch { $hardening.update = @{ error = $_.Exception.Message } }

    try {
        $fixes = @(Get-HotFix)
        $newest = $fixes | Where-Object { $_.InstalledOn } | Sort-Object InstalledOn -Descending | Select-Object -First 1
        $hardening.hotfix = [ordered]@{
            Count = $fixes.Count
            HotFixID = if ($newest) { $newest.HotFixID } else { $null }
            InstalledOn = if ($newest) { ConvertTo-KhienDate $newest.InstalledOn } else { $null }
        }
    } catch { $hardening.hotfix = @{ error = $_.Exception.Message } }

    try {
        $os = Get-CimInstance -ClassName Win32_OperatingSystem
        $cv = Read-KhienValues 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion' 'UBR', 'DisplayVersion', 'ReleaseId', 'EditionID', 'InstallationType'
        # A 32-bit PowerShell on 64-bit Windows reports x86 here.
        $arch = if ($env:PROCESSOR_ARCHITEW6432) { $env:PROCESSOR_ARCHITEW6432 } else { $env:PROCESSOR_ARCHITECTURE }
        $hardening.os = [ordered]@{
            Caption = $os.Caption
            Version = $os.Version
            BuildNumber = $os.BuildNumber
            ProductType = $os.ProductType
            CSName = $os.CSName
            LastBootUpTime = ConvertTo-KhienDate $os.LastBootUpTime
            UBR = $cv.UBR
            DisplayVersion = $cv.DisplayVersion
            ReleaseId = $cv.ReleaseId
            EditionID = $cv.EditionID
            InstallationType = $cv.InstallationType
            Architecture = $arch
            SystemDrive = $env:SystemDrive
        }
    } catch { $hardening.os = @{ error = $_.Exception.Message } }

    try {
        $cs = Get-CimInstance -ClassName Win32_ComputerSystem
        $hardening.domain = [ordered]@{
            Name = $cs.Name
            DNSHostName = $cs.DNSHostName
            PartOfDomain = $cs.PartOfDomain
            Domain = $cs.Domain
            DomainRole = $cs.DomainRole
        }
    } catch { $hardening.domain = @{ error = $_.Exception.Message } }

    try {
        $roots = @(
            @{ Scope = 'machine'; Path = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall' },
            @{ Scope = 'machine32'; Path = 'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall' }
        )
        foreach ($sid in $userSids) {
            $roots += @{ Scope = "user:$sid"; Path = "Registry::HKEY_USERS\$sid\Software\Microsoft\Windows\CurrentVersion\Uninstall" }
        }
        $hardening.software = @(foreach ($root in $roots) {
            if (-not (Test-Path -LiteralPath $root.Path)) { continue }
            foreach ($key in Get-ChildItem -LiteralPath $root.Path) {
                $name = $key.GetValue('DisplayName')
                # Components and patches are not products of their own.
                if (-not $name -or $key.GetValue('SystemComponent') -eq 1 -or $key.GetValue('ParentKeyName')) { continue }
                [ordered]@{
                    DisplayName = $name
                    DisplayVersion = $key.GetValue('DisplayVersion')
                    Publisher = $key.GetValue('Publisher')
                    InstallDate = $key.GetValue('InstallDate')
                    Scope = $root.Scope
                }
            }
        })
    } catch { $hardening.software = @{ error = $_.Exception.Message } }

    try {
        $time = Read-KhienValues 'HKLM:\SYSTEM\CurrentControlSet\Services\W32Time\Parameters' 'Type', 'NtpServer'
        $time.Service = [string](Get-Service -Name W32Time).Status
        $time.Status = $null
        if ($time.Service -eq 'Running') {
            $out = & w32tm.exe /query /status 2>&1
            if ($LASTEXITCODE -eq 0) { $time.Status = @($out) -join "`n" }
        }
        $hardening.time = $time
    } catch { $hardening.time = @{ error = $_.Exception.Message } }

    $hardening | ConvertTo-Json -Depth 6 -Compress
}
