//! Who can log in and how: accounts, password and lockout policy, second
//! factors, idle timeouts, the desktop's lock settings and the SSH server.

use super::{Errors, ProbeContext};
use khien_proto::facts::{Accounts, Desktop, Lockout, Mfa, PasswordPolicy, Session, Ssh};

#[derive(Debug, Default)]
pub struct Access {
    pub accounts: Accounts,
    pub password_policy: PasswordPolicy,
    pub lockout: Lockout,
    pub mfa: Mfa,
    pub session: Session,
    pub desktop: Desktop,
    pub ssh: Ssh,
}

pub fn collect(_ctx: &ProbeContext<'_>, _errors: &mut Errors) -> Access {
    Access::default()
}
