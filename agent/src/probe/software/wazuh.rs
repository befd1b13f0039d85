//! Wazuh and OSSEC agents: the manager they report to (`ossec.conf`) and
//! their last contact with it (the state file `*-agentd` rewrites every few
//! seconds). GS-01 asks for a HIDS agent that is active and reports.

use crate::probe::localtime::{Zone, parse_local};
use crate::probe::root::describe;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::SoftwareItem;

const PROBE: &str = "software.security_agents";
const OSSEC_CONF: &str = "/var/ossec/etc/ossec.conf";
/// What the package writes when it is installed without a manager address.
const PLACEHOLDER: &str = "MANAGER_IP";

/// Fills manager, managed, last contact and status of a Wazuh or OSSEC agent.
pub fn enrich(ctx: &ProbeContext<'_>, item: &mut SoftwareItem, state_file: &str, errors: &mut Errors) {
    match ctx.root.read_optional(OSSEC_CONF) {
        Ok(Some(conf)) => {
            let managers = parse_managers(&conf);
            item.managed = Some(!managers.is_empty());
            item.manager = managers.first().cloned();
            if managers.len() > 1 {
                item.details.insert("managers".into(), managers.join(","));
            }
        }
        Ok(None) => {}
        Err(e) => errors.push(PROBE, format!("{}: {}", item.id, describe(ctx.root.path(OSSEC_CONF), &e))),
    }
    match ctx.root.read_optional(state_file) {
        Ok(Some(text)) => {
            let state = parse_state(&text);
            item.last_contact = state
                .last_ack
                .as_deref()
                .and_then(parse_local)
                .and_then(|t| Zone::of_machine(&ctx.root).to_instant(t));
            if let Some(status) = state.status {
                item.details.insert("status".into(), status);
            }
            if let Some(keepalive) = state.last_keepalive.filter(|k| !k.is_empty()) {
                item.details.insert("last_keepalive".into(), keepalive);
            }
        }
        // Written only while agentd runs; a stopped agent shows as `running: false`.
        Ok(None) => {}
        Err(e) => errors.push(PROBE, format!("{}: {}", item.id, describe(ctx.root.path(state_file), &e))),
    }
}

/// Manager addresses of the `<client>` sections: Wazuh's `<server><address>`,
/// OSSEC's `<server-ip>` and `<server-hostname>`, in file order, without the
/// install-time placeholder.
pub fn parse_managers(conf: &str) -> Vec<String> {
    let conf = strip_comments(conf);
    let mut managers = Vec::new();
    let mut rest = conf.as_str();
    while let Some(start) = rest.find("<client>") {
        let block = &rest[start + "<client>".len()..];
        let end = block.find("</client>").unwrap_or(block.len());
        let client = &block[..end];
        for tag in ["address", "server-ip", "server-hostname"] {
            for value in tag_values(client, tag) {
                if !value.is_empty() && value != PLACEHOLDER && !managers.iter().any(|m| m == value) {
                    managers.push(value.to_string());
                }
            }
        }
        rest = &block[end..];
    }
    managers
}

fn strip_comments(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        rest = match rest[start..].find("-->") {
            Some(end) => &rest[start + end + 3..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

fn tag_values<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut values = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        values.push(after[..end].trim());
        rest = &after[end + close.len()..];
    }
    values
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct AgentState {
    /// `pending`, `connected` or `disconnected`.
    pub status: Option<String>,
    /// Last keepalive sent, which says nothing about the manager hearing it.
    pub last_keepalive: Option<String>,
    /// Last control message received from the manager: the last real contact.
    pub last_ack: Option<String>,
}

/// The state file: `key='value'` lines and `#` comments.
pub fn parse_state(text: &str) -> AgentState {
    let mut state = AgentState::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = value.trim().trim_matches('\'').to_string();
        match key.trim() {
            "status" => state.status = Some(value),
            "last_keepalive" => state.last_keepalive = Some(value),
            "last_ack" => state.last_ack = Some(value),
            _ => {}
        }
    }
    state
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) const OSSEC_CONF_TEXT: &str = r#"<!--
  Wazuh - Agent - Default configuration for ubuntu 22.04
  More info at: https://documentation.wazuh.com
  Mailing list: https://groups.google.com/forum/#!forum/wazuh
-->

<ossec_config>
  <client>
    <server>
      <address>wazuh.bo-tai-chinh.gov.vn</address>
      <port>1514</port>
      <protocol>tcp</protocol>
    </server>
    <!-- <server><address>10.0.0.9</address></server> -->
    <server>
      <address>10.10.1.20</address>
      <port>1514</port>
      <protocol>tcp</protocol>
    </server>
    <config-profile>ubuntu, ubuntu22, ubuntu22.04</config-profile>
    <notify_time>10</notify_time>
    <time-reconnect>60</time-reconnect>
    <auto_restart>yes</auto_restart>
    <crypto_method>aes</crypto_method>
    <enrollment>
      <enabled>yes</enabled>
      <authorization_pass_path>etc/authd.pass</authorization_pass_path>
    </enrollment>
  </client>

  <client_buffer>
    <!-- Agent buffer options -->
    <disabled>no</disabled>
    <queue_size>5000</queue_size>
    <events_per_second>500</events_per_second>
  </client_buffer>

  <syscheck>
    <disabled>no</disabled>
    <frequency>43200</frequency>
  </syscheck>
</ossec_config>
"#;

    pub(crate) const STATE_TEXT: &str = "\
# State file for wazuh-agentd

# Agent status:
# - pending:      waiting for get connected.
# - connected:    connection established with manager in the last 10 seconds.
# - disconnected: connection lost or no ACK received in the last 10 seconds.
status='connected'

# Last time a keepalive was sent
last_keepalive='2026-11-20 10:00:00'

# Last time a control message was received
last_ack='2026-11-20 09:59:58'

# Number of generated events
msg_count='8213'

# Number of messages (events + control messages) sent to the manager
msg_sent='8213'
";

    #[test]
    fn reads_manager_addresses_from_the_client_section() {
        assert_eq!(parse_managers(OSSEC_CONF_TEXT), vec!["wazuh.bo-tai-chinh.gov.vn", "10.10.1.20"]);
        let unset = "<ossec_config><client><server><address>MANAGER_IP</address></server></client></ossec_config>";
        assert!(parse_managers(unset).is_empty());
        let ossec = "<ossec_config>\n  <client>\n    <server-ip>192.168.10.5</server-ip>\n  </client>\n</ossec_config>";
        assert_eq!(parse_managers(ossec), vec!["192.168.10.5"]);
        // An address outside <client> (a manager's own config) is not a manager to report to.
        assert!(parse_managers("<ossec_config><cluster><nodes><node>10.0.0.1</node></nodes></cluster></ossec_config>").is_empty());
    }

    #[test]
    fn reads_the_agentd_state_file() {
        let state = parse_state(STATE_TEXT);
        assert_eq!(state.status.as_deref(), Some("connected"));
        assert_eq!(state.last_keepalive.as_deref(), Some("2026-11-20 10:00:00"));
        // agentd writes local time: in Vietnam (UTC+7) this is 02:59:58 UTC.
        let zone = Zone::parse(&crate::probe::localtime::tzif(0, 0, 7 * 3600)).unwrap();
        let at = zone.to_instant(parse_local(state.last_ack.as_deref().unwrap()).unwrap()).unwrap();
        assert_eq!(at.to_string(), "2026-11-20T02:59:58Z");
        let pending = parse_state("status='pending'\nlast_keepalive=''\nlast_ack=''\n");
        assert_eq!(pending.last_ack.as_deref(), Some(""));
        assert_eq!(parse_local(""), None);
    }
}
