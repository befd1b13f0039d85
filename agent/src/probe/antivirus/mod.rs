//! Anti-malware facts: ClamAV from its own configuration, other products from a data table.

pub mod clamav;
pub mod cvd;
pub mod products;

use super::{Errors, ProbeContext};
use khien_proto::Platform;
use khien_proto::facts::Antivirus;

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Antivirus {
    let mut av = Antivirus::default();
    if let Some(clam) = clamav::probe(ctx, errors) {
        av.products.push(clam);
    }
    let platform = Platform::current();
    for spec in products::builtin().iter().chain(&ctx.config.extra_products) {
        if spec.platforms.contains(&platform)
            && let Some(p) = products::probe(ctx, spec, errors)
        {
            av.products.push(p);
        }
    }
    av
}
