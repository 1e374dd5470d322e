//! `always`: fires unconditionally (testing mappings, denying images by mapping).

use super::{Fired, GateDef, TriggerDef, TriggerInput};

pub(crate) const GATE_NAME: &str = "always";
pub(crate) const ALWAYS: &str = "always";

pub(crate) const GATE: GateDef = GateDef {
    name: GATE_NAME,
    triggers: &[TriggerDef { name: ALWAYS, params: &[], eval: always }],
};

fn always(_: &TriggerInput<'_>) -> Result<Vec<Fired>, String> {
    Ok(vec![Fired::with_id("always", "Unconditional trigger match")])
}
