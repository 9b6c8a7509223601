# yourtool-integration.ps1: the seed's REST template, used by msp's tests (endpoint/method/payload,
# query/variables). The stand-in PSRP peers answer for these functions from fixtures.

$script:YourToolConfig = @{
    apiUrl = $env:YOURTOOL_API_URL ?? "https://api.yourtool.com"
    apiKey = $env:YOURTOOL_API_KEY
    enabled = $true
}

function Initialize-YourToolIntegration {
    param([hashtable]$Config = @{})
    foreach ($key in $Config.Keys) { $script:YourToolConfig[$key] = $Config[$key] }
    if (-not $script:YourToolConfig.apiKey) {
        Write-Warning "YourTool API key not configured"
        $script:YourToolConfig.enabled = $false
        return $false
    }
    return $true
}

function New-YourToolSession {
    param([Parameter(Mandatory)][hashtable]$Session)
    if (-not $script:YourToolConfig.enabled) { return }
    return @{
        action = "create_session"
        endpoint = "/api/sessions"
        method = "POST"
        payload = @{ name = "MSP Session $($Session.id)"; startTime = $Session.startTime; project = $Session.project }
    }
}

function Update-YourToolProgress {
    param([Parameter(Mandatory)][hashtable]$Update, [Parameter(Mandatory)][string]$SessionId)
    if (-not $script:YourToolConfig.enabled) { return }
    return @{
        action = "update_progress"
        endpoint = "/api/sessions/$SessionId/progress"
        method = "PUT"
        payload = @{ progress = $Update.progress; message = $Update.description; timestamp = $Update.timestamp }
    }
}

function Add-YourToolDecision {
    param([Parameter(Mandatory)][hashtable]$Decision, [Parameter(Mandatory)][string]$SessionId)
    return @{
        query = 'mutation AddDecision($session: ID!, $text: String!) { addDecision(session: $session, text: $text) { id } }'
        variables = @{ session = $SessionId; text = $Decision.content }
    }
}

Export-ModuleMember -Function Initialize-YourToolIntegration, New-YourToolSession, Update-YourToolProgress, Add-YourToolDecision
