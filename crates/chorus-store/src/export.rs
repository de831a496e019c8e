//! The portable export stream.

/// First bytes of every export stream.
pub const EXPORT_MAGIC: &[u8; 8] = b"CHORUSX\n";
/// Version of the export stream format this crate writes and reads.
pub const EXPORT_VERSION: u32 = 1;

/// What an import did, object by object counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Envelopes read from the stream (genesis included).
    pub read: usize,
    /// New objects stored (durable).
    pub stored: usize,
    /// Valid objects the store already held (the genesis among them).
    pub duplicate: usize,
    /// Objects refused, with their position in the stream (0 = genesis) and why.
    pub refused: Vec<(usize, chorus_core::Rejection)>,
}
