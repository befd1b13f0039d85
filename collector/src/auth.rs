//! Who is calling, and what they may do. A [`Principal`] is built from an API
//! key (the JSON API) or from a dashboard session; every scope check (the
//! subtree of an org unit) and every role check goes through it, so the API
//! and the dashboard cannot drift apart. Accounts are in `auth/users.rs`,
//! sessions and login throttling in `auth/sessions.rs`.

pub mod sessions;
pub mod users;

use crate::register::Caller;
use crate::store::ApiKey;
use axum::http::Method;

/// What a dashboard account is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Everything, on the whole tree.
    CentralAdmin,
    /// Everything, on its unit's subtree.
    UnitAdmin,
    /// Reads its subtree; changes nothing.
    Reviewer,
    /// Reads its subtree, exports evidence packs and makes attestations there.
    Certifier,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::CentralAdmin, Role::UnitAdmin, Role::Reviewer, Role::Certifier];

    /// As stored and as printed by `user list`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::CentralAdmin => "central_admin",
            Role::UnitAdmin => "unit_admin",
            Role::Reviewer => "reviewer",
            Role::Certifier => "certifier",
        }
    }

    /// The stored name, or the CLI's spelling with dashes.
    pub fn parse(s: &str) -> Option<Role> {
        let s = s.trim().replace('-', "_");
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self, english: bool) -> &'static str {
        match (self, english) {
            (Role::CentralAdmin, false) => "Quản trị viên trung ương",
            (Role::UnitAdmin, false) => "Quản trị viên đơn vị",
            (Role::Reviewer, false) => "Người rà soát an ninh",
            (Role::Certifier, false) => "Người chứng nhận",
            (Role::CentralAdmin, true) => "Central administrator",
            (Role::UnitAdmin, true) => "Unit administrator",
            (Role::Reviewer, true) => "Security reviewer",
            (Role::Certifier, true) => "Certifier",
        }
    }

    /// Whether the role is bound to an org unit (all but the central administrator).
    pub fn scoped(self) -> bool {
        self != Role::CentralAdmin
    }

    pub fn can(self, action: Action) -> bool {
        match self {
            Role::CentralAdmin | Role::UnitAdmin => true,
            Role::Reviewer => action == Action::Read,
            Role::Certifier => matches!(action, Action::Read | Action::Export | Action::Attest),
        }
    }
}

/// What a request does, for the role check. The scope check is separate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Reading anything: units, systems, endpoints, KPIs, history, the audit log.
    Read,
    /// Evidence packs and the evidence files behind attestations.
    Export,
    /// Making or revoking an attestation.
    Attest,
    /// Every other change: the register, waivers, tokens.
    Manage,
}

impl Action {
    fn describe(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Export => "export evidence",
            Action::Attest => "make attestations",
            Action::Manage => "make changes",
        }
    }

    /// What an API request does, from its method and path. New routes fall
    /// under `Read` (safe methods) or `Manage` (the rest) unless named here.
    pub fn of_api_request(method: &Method, path: &str) -> Action {
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let safe = matches!(*method, Method::GET | Method::HEAD);
        // ["", "api", "v1", ...]
        match (safe, parts.get(3..).unwrap_or_default()) {
            (true, ["systems", _, "evidence"] | ["evidence-files", _]) => Action::Export,
            (true, _) => Action::Read,
            (false, ["systems", _, "attestations"] | ["attestations", _, "revoke"]) => Action::Attest,
            (false, _) => Action::Manage,
        }
    }
}

/// How the caller authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    ApiKey { id: i64 },
    Session { user_id: i64, username: String },
}

/// The caller of an API route or a dashboard page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// As named in the audit log: `apikey:<id>` or `user:<username>`.
    pub actor: String,
    pub role: Role,
    /// Subtree path (`/TW/DLK/`); `None` for the whole tree.
    pub scope: Option<String>,
    pub via: Via,
}

/// A refusal: outside the caller's subtree, or beyond its role.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Forbidden(pub String);

/// The one scope rule: a path is in scope when it lies in the subtree.
/// Paths end with `/`, so `/TW/HN/` never matches `/TW/HNX/`.
pub fn in_scope(scope: Option<&str>, path: &str) -> bool {
    scope.is_none_or(|s| path.starts_with(s))
}

impl Principal {
    /// An API key keeps full rights in its scope.
    pub fn api_key(key: &ApiKey) -> Principal {
        Principal {
            actor: format!("apikey:{}", key.id),
            role: if key.scope.is_some() { Role::UnitAdmin } else { Role::CentralAdmin },
            scope: key.scope.clone(),
            via: Via::ApiKey { id: key.id },
        }
    }

    /// A logged-in account; `scope` is its unit's path (`None` for a central administrator).
    pub fn user(user_id: i64, username: &str, role: Role, scope: Option<String>) -> Principal {
        Principal {
            actor: format!("user:{username}"),
            role,
            // A scoped role without a unit must not widen to the whole tree.
            scope: if role.scoped() {
                Some(scope.unwrap_or_else(|| "\u{0}".into()))
            } else {
                None
            },
            via: Via::Session {
                user_id,
                username: username.to_string(),
            },
        }
    }

    fn whose(&self) -> &'static str {
        match self.via {
            Via::ApiKey { .. } => "this key's",
            Via::Session { .. } => "this account's",
        }
    }

    pub fn allows(&self, path: &str) -> bool {
        in_scope(self.scope.as_deref(), path)
    }

    /// Refuses what lies outside the subtree; `what` names it ("org unit DLK").
    pub fn check(&self, path: &str, what: &str) -> Result<(), Forbidden> {
        if self.allows(path) {
            Ok(())
        } else {
            Err(Forbidden(format!("{what} is outside {} org unit", self.whose())))
        }
    }

    pub fn can(&self, action: Action) -> bool {
        self.role.can(action)
    }

    pub fn require(&self, action: Action) -> Result<(), Forbidden> {
        if self.can(action) {
            Ok(())
        } else {
            Err(Forbidden(format!("the role {} may not {}", self.role.as_str(), action.describe())))
        }
    }

    /// The register's and the exceptions' caller: the same actor and scope.
    pub fn caller(&self) -> Caller {
        Caller {
            actor: self.actor.clone(),
            scope: self.scope.clone(),
        }
    }
}

/// Equality that takes as long whatever the first differing byte: for
/// comparing CSRF tokens. Lengths are not secret.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A random token of 32 bytes, base64url without padding (43 characters).
pub fn random_token() -> String {
    use base64::Engine as _;
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random generator");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(scope: Option<&str>) -> Principal {
        Principal::api_key(&ApiKey {
            id: 7,
            scope: scope.map(Into::into),
        })
    }

    #[test]
    fn auth_scope_is_a_subtree() {
        let hn = key(Some("/TW/HN/"));
        assert!(hn.allows("/TW/HN/"));
        assert!(hn.allows("/TW/HN/HN-VINHTUY/"));
        assert!(!hn.allows("/TW/"));
        assert!(!hn.allows("/TW/DLK/"));
        assert!(!hn.allows("/TW/HNX/"), "a sibling whose code starts alike");
        let e = hn.check("/TW/DLK/", "org unit DLK").unwrap_err();
        assert_eq!(e.0, "org unit DLK is outside this key's org unit");
        assert!(key(None).allows("/TW/DLK/"));
        assert_eq!(hn.actor, "apikey:7");
        assert_eq!(hn.caller().scope.as_deref(), Some("/TW/HN/"));
        assert!(hn.caller().allows("/TW/HN/HN-VINHTUY/"));
    }

    #[test]
    fn auth_keys_keep_full_rights_in_their_scope() {
        for k in [key(None), key(Some("/TW/HN/"))] {
            for a in [Action::Read, Action::Export, Action::Attest, Action::Manage] {
                assert!(k.can(a), "{a:?}");
            }
        }
    }

    #[test]
    fn auth_roles() {
        use Action::*;
        let table = [
            (Role::CentralAdmin, [true, true, true, true]),
            (Role::UnitAdmin, [true, true, true, true]),
            (Role::Reviewer, [true, false, false, false]),
            (Role::Certifier, [true, true, true, false]),
        ];
        for (role, expected) in table {
            for (a, e) in [Read, Export, Attest, Manage].into_iter().zip(expected) {
                assert_eq!(role.can(a), e, "{role:?} {a:?}");
            }
        }
        let reviewer = Principal::user(1, "lan", Role::Reviewer, Some("/TW/DLK/".into()));
        assert_eq!(reviewer.actor, "user:lan");
        assert_eq!(reviewer.require(Manage).unwrap_err().0, "the role reviewer may not make changes");
        assert!(reviewer.check("/TW/HN/", "org unit HN").unwrap_err().0.contains("this account's"));
        // A scoped role that lost its unit sees nothing rather than everything.
        let orphan = Principal::user(2, "x", Role::UnitAdmin, None);
        assert!(!orphan.allows("/TW/"));
        let central = Principal::user(3, "root", Role::CentralAdmin, Some("/TW/".into()));
        assert_eq!(central.scope, None);
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("unit-admin"), Some(Role::UnitAdmin));
        assert_eq!(Role::parse("admin"), None);
    }

    #[test]
    fn auth_api_actions() {
        let a = |m: Method, p: &str| Action::of_api_request(&m, p);
        assert_eq!(a(Method::GET, "/api/v1/org-units/DLK/kpis"), Action::Read);
        assert_eq!(a(Method::GET, "/api/v1/systems/DLK-DHTN/evidence"), Action::Export);
        assert_eq!(a(Method::GET, "/api/v1/evidence-files/abc"), Action::Export);
        assert_eq!(a(Method::POST, "/api/v1/systems/DLK-DHTN/attestations"), Action::Attest);
        assert_eq!(a(Method::POST, "/api/v1/attestations/3/revoke"), Action::Attest);
        assert_eq!(a(Method::POST, "/api/v1/waivers"), Action::Manage);
        assert_eq!(a(Method::PUT, "/api/v1/systems/DLK-DHTN"), Action::Manage);
        assert_eq!(a(Method::POST, "/api/v1/org-units"), Action::Manage);
    }

    #[test]
    fn auth_tokens() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(constant_time_eq(a.as_bytes(), a.as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), b.as_bytes()));
        assert!(!constant_time_eq(b"ab", b"abc"));
    }
}
