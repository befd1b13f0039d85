# The network section of the snapshot: prints one JSON object.
# PowerShell 5.1. Each part is a list, or {"error": "..."} when its query
# failed, so that one broken cmdlet leaves only its own facts empty. Enums are
# printed as text: 5.1 prints them as numbers, 7 as names.
# A script block, so that its variables stay out of the other sections.
& {
    $ErrorActionPreference = 'Stop'
    $network = [ordered]@{}

    try {
        $network.adapters = @(Get-NetAdapter | ForEach-Object {
            [ordered]@{
                Name = $_.Name
                InterfaceDescription = $_.InterfaceDescription
                MacAddress = $_.MacAddress
                Status = [string]$_.Status
                MtuSize = $_.MtuSize
                ifIndex = $_.ifIndex
                InterfaceType = $_.InterfaceType
                Virtual = [bool]$_.Virtual
            }
        })
    } catch { $network.adapters = @{ error = $_.Exception.Message } }

    try {
        $network.addresses = @(Get-NetIPAddress | ForEach-Object {
            [ordered]@{
                InterfaceIndex = $_.InterfaceIndex
                InterfaceAlias = $_.InterfaceAlias
                IPAddress = $_.IPAddress
                PrefixLength = $_.PrefixLength
                AddressFamily = [string]$_.AddressFamily
            }
        })
    } catch { $network.addresses = @{ error = $_.Exception.Message } }

    try {
        # No default route at all is an empty list, not a failure.
        $network.routes = @(Get-NetRoute -DestinationPrefix '0.0.0.0/0', '::/0' -ErrorAction SilentlyContinue | ForEach-Object {
            [ordered]@{
                DestinationPrefix = $_.DestinationPrefix
                NextHop = $_.NextHop
                InterfaceIndex = $_.InterfaceIndex
                InterfaceAlias = $_.InterfaceAlias
                RouteMetric = $_.RouteMetric
            }
        })
    } catch { $network.routes = @{ error = $_.Exception.Message } }

    try {
        $network.dns = @(Get-DnsClientServerAddress | Where-Object { $_.ServerAddresses } | ForEach-Object {
            [ordered]@{
                InterfaceIndex = $_.InterfaceIndex
                InterfaceAlias = $_.InterfaceAlias
                AddressFamily = [int]$_.AddressFamily
                ServerAddresses = @($_.ServerAddresses)
            }
        })
    } catch { $network.dns = @{ error = $_.Exception.Message } }

    try {
        $network.dns_search = @((Get-DnsClientGlobalSetting).SuffixSearchList | Where-Object { $_ })
    } catch { $network.dns_search = @{ error = $_.Exception.Message } }

    # Listeners carry the owning process's name; a process that exited between
    # the two queries keeps its pid and loses its name.
    $names = @{}
    try { Get-Process | ForEach-Object { $names[[int]$_.Id] = $_.ProcessName } } catch { }

    try {
        $network.tcp = @(Get-NetTCPConnection -State Listen -ErrorAction SilentlyContinue | ForEach-Object {
            [ordered]@{
                LocalAddress = $_.LocalAddress
                LocalPort = $_.LocalPort
                OwningProcess = $_.OwningProcess
                ProcessName = $names[[int]$_.OwningProcess]
            }
        })
    } catch { $network.tcp = @{ error = $_.Exception.Message } }

    try {
        $network.udp = @(Get-NetUDPEndpoint -ErrorAction SilentlyContinue | ForEach-Object {
            [ordered]@{
                LocalAddress = $_.LocalAddress
                LocalPort = $_.LocalPort
                OwningProcess = $_.OwningProcess
                ProcessName = $names[[int]$_.OwningProcess]
            }
        })
    } catch { $network.udp = @{ error = $_.Exception.Message } }

    $network | ConvertTo-Json -Depth 6 -Compress
}
