# teamchat-integration.ps1

<#
.SYNOPSIS
    MSP integration for a team chat incoming webhook (Slack, Mattermost and Rocket.Chat accept
    the same JSON: text plus optional blocks/attachments).
.DESCRIPTION
    Posts a message when a session starts, when progress passes a milestone, when a decision is
    recorded and when the session closes; also keeps a Markdown session log file.

    Like every MSP integration it only *describes* requests: each function returns hashtables
    (webhook/payload, path/content/action) and MSP delivers them, with retries.
#>

# Integration configuration (Initialize-TeamChatIntegration merges msp's `config` table in).
$script:TeamChatConfig = @{
    webhookUrl = $env:TEAMCHAT_WEBHOOK_URL
    channel    = $null
    username   = "msp"
    milestones = @(25, 50, 75, 100)
    logFolder  = "sessions"
    enabled    = $true
}

function Initialize-TeamChatIntegration {
    <#
    .SYNOPSIS
        Validates configuration; returns $false to disable the integration.
    #>
    param(
        [hashtable]$Config = @{}
    )

    foreach ($key in $Config.Keys) {
        $script:TeamChatConfig[$key] = $Config[$key]
    }

    if (-not $script:TeamChatConfig.webhookUrl) {
        Write-Warning "TeamChat webhook URL not configured (set TEAMCHAT_WEBHOOK_URL)"
        $script:TeamChatConfig.enabled = $false
        return $false
    }

    $script:TeamChatConfig.enabled = $true
    return $true
}

function New-TeamChatMessage {
    # Helper, not a hook: the common shape of a chat post.
    param([string]$Text, [array]$Blocks = @())

    $payload = @{ text = $Text; username = $script:TeamChatConfig.username }
    if ($script:TeamChatConfig.channel) { $payload.channel = $script:TeamChatConfig.channel }
    if ($Blocks.Count -gt 0) { $payload.blocks = $Blocks }
    return $payload
}

function New-TeamChatSession {
    param(
        [Parameter(Mandatory)]
        [hashtable]$Session
    )

    if (-not $script:TeamChatConfig.enabled) { return }

    $goal = if ($Session.goal) { " - $($Session.goal)" } else { "" }
    return @{
        webhook = $script:TeamChatConfig.webhookUrl
        payload = New-TeamChatMessage -Text ":arrow_forward: $($Session.user) started a session on $($Session.project)$goal"
    }
}

function Update-TeamChatProgress {
    param(
        [Parameter(Mandatory)]
        [hashtable]$Update,

        [Parameter(Mandatory)]
        [string]$SessionId
    )

    if (-not $script:TeamChatConfig.enabled) { return }
    if ($null -eq $Update.progress) { return }
    if ($script:TeamChatConfig.milestones -notcontains [int]$Update.progress) { return }

    # An ordered dictionary keeps the keys in the order written.
    return [ordered]@{
        webhook = $script:TeamChatConfig.webhookUrl
        payload = [ordered]@{
            text     = ":bar_chart: $SessionId reached $($Update.progress)%: $($Update.description)"
            username = $script:TeamChatConfig.username
        }
    }
}

function Add-TeamChatDecision {
    param(
        [Parameter(Mandatory)]
        [hashtable]$Decision,

        [Parameter(Mandatory)]
        [string]$SessionId
    )

    if (-not $script:TeamChatConfig.enabled) { return }

    $why = if ($Decision.rationale) { "`n_Why:_ $($Decision.rationale)" } else { "" }
    return [PSCustomObject]@{
        webhook = $script:TeamChatConfig.webhookUrl
        payload = New-TeamChatMessage -Text ":memo: Decision: $($Decision.content)$why"
    }
}

function Close-TeamChatSession {
    param(
        [Parameter(Mandatory)]
        [hashtable]$Session
    )

    if (-not $script:TeamChatConfig.enabled) { return }

    $blocks = @(
        @{
            type = "header"
            text = @{ type = "plain_text"; text = "MSP Session Complete" }
        }
        @{
            type   = "section"
            fields = @(
                @{ type = "mrkdwn"; text = "*Duration:*`n$($Session.duration) hours" }
                @{ type = "mrkdwn"; text = "*Progress:*`n$($Session.startProgress)% -> $($Session.endProgress)%" }
            )
        }
    )

    $lines = @("# Session $($Session.id)", "", "Project: $($Session.project)", "")
    $lines += "## Updates"
    $lines += ($Session.updates | ForEach-Object { "- $($_.description)" })
    $lines += ""
    $lines += "## Decisions"
    $lines += ($Session.decisions | ForEach-Object { "- $($_.content)" })

    # Two requests: the chat summary and a Markdown log file (inside msp's configured root).
    @{
        webhook = $script:TeamChatConfig.webhookUrl
        payload = New-TeamChatMessage -Text "Session $($Session.id) complete" -Blocks $blocks
    }
    @{
        path    = "$($script:TeamChatConfig.logFolder)/$($Session.id).md"
        content = ($lines -join "`n") + "`n"
        action  = "replace"
    }
}

function Export-TeamChatContext {
    param(
        [Parameter(Mandatory)]
        [hashtable]$Session
    )

    $export = @{
        version = "1.0"
        session = @{
            id       = $Session.id
            duration = $Session.duration
            progress = @{ start = $Session.startProgress; end = $Session.endProgress }
        }
        updates = @($Session.updates | ForEach-Object {
            @{ time = $_.timestamp; text = $_.description; progress = $_.progress }
        })
    }

    return $export | ConvertTo-Json -Depth 10
}

Export-ModuleMember -Function Initialize-TeamChatIntegration,
                              New-TeamChatSession,
                              Update-TeamChatProgress,
                              Add-TeamChatDecision,
                              Close-TeamChatSession,
                              Export-TeamChatContext
