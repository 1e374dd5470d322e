//! The one small trait every driver implements.

use crate::model::Output;

/// One fetched document: its name (the file name or URL path, which tells JSON from YAML
/// and sometimes the namespace) and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Document<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

impl<'a> Document<'a> {
    pub fn new(name: &'a str, bytes: &'a [u8]) -> Self {
        Self { name, bytes }
    }

    pub(crate) fn is_yaml(&self) -> bool {
        let n = self.name.to_ascii_lowercase();
        n.ends_with(".yaml") || n.ends_with(".yml")
    }
}

/// A vulnerability feed. `normalize` is pure and synchronous: it turns one fetched document
/// into normalised records and located skips, emitted one at a time so that a large
/// document never has to be held twice. One malformed record never stops a document.
pub trait Feed: Send + Sync {
    /// Stable feed name (`FEED` const of the driver's module).
    fn name(&self) -> &'static str;
    /// One line for humans.
    fn description(&self) -> &'static str;
    fn normalize(&self, doc: &Document<'_>, out: &mut dyn FnMut(Output));
}
