//! The JSON writer: the result itself, serialized, with `schema_version`
//! and `kind` first, so that a reader can tell what it holds and check it
//! against `revplan schema <kind>`.

use serde::Serialize;

use super::Exportable;

/// The version of every JSON output's layout; raised when a key is removed
/// or changes meaning (new keys do not raise it). 2: `plan`'s
/// `sizing.evaluations` are objects (`value`, `p_hit`, `trials`) instead of
/// (aim, P(hit)) pairs.
pub const SCHEMA_VERSION: u32 = 2;

/// A result with its version and kind.
#[derive(Serialize)]
pub struct Versioned<'a, T: Serialize> {
    pub schema_version: u32,
    pub kind: &'static str,
    #[serde(flatten)]
    pub body: &'a T,
}

/// The JSON text of a result, pretty, with a final newline.
pub fn write<T: Exportable>(x: &T) -> String {
    let v = Versioned {
        schema_version: SCHEMA_VERSION,
        kind: T::KIND,
        body: x,
    };
    let mut s =
        serde_json::to_string_pretty(&v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
