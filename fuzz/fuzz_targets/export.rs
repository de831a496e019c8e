//! `ExportReader` (the backup and audit stream) on arbitrary bytes: no panic,
//! and reading stops at the first error or the end marker.

#![no_main]

use chorus_store::ExportReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = ExportReader::new(data) else { return };
    let _ = reader.coalition();
    assert!(!reader.genesis().is_empty());
    // Every record holds at least its 4-byte length, so a stream of n bytes
    // has fewer than n records: the loop ends.
    for _ in 0..=data.len() {
        match reader.next_envelope() {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
});
