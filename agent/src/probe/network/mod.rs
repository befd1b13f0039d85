//! Network facts: interfaces, default routes, DNS resolvers, listening sockets.

use super::{Errors, ProbeContext};
use khien_proto::facts::Network;

pub fn collect(_ctx: &ProbeContext<'_>, _errors: &mut Errors) -> Network {
    Network::default()
}
