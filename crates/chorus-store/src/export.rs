//! The portable export stream: every object of a coalition, as exact
//! envelope bytes, in one file. The format is described in the crate docs.

use std::io::{Read, Write};

use chorus_core::limits::{MAX_ENVELOPE_BYTES, MAX_GENESIS_ENVELOPE_BYTES};
use chorus_core::{CoalitionId, Envelope, Kind, ObjectId};

use crate::error::StoreError;

/// First bytes of every export stream. The leading non-ASCII byte catches
/// transfers that strip the high bit; the newline catches line-ending
/// conversion.
pub const EXPORT_MAGIC: &[u8; 8] = b"\x89CHORUS\n";
/// Version of the export stream format this crate writes and reads.
pub const EXPORT_VERSION: u32 = 1;

/// What an import did. Counts cover every envelope read, genesis included.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Envelopes read from the stream (genesis included).
    pub read: usize,
    /// New objects stored (durable).
    pub stored: usize,
    /// Valid objects the store already held (the genesis among them).
    pub duplicate: usize,
    /// Objects refused, with their position in the stream (0 = genesis) and
    /// why; nothing of them was stored.
    pub refused: Vec<(usize, chorus_core::Rejection)>,
}

/// Writes an export stream.
pub(crate) struct ExportWriter<W: Write> {
    out: W,
    count: u64,
}

fn write_err(e: std::io::Error) -> StoreError {
    StoreError::Io { what: "writing the export stream".into(), source: e }
}

impl<W: Write> ExportWriter<W> {
    /// Writes the header and the genesis record.
    pub(crate) fn new(mut out: W, genesis: &[u8]) -> Result<Self, StoreError> {
        let id = Envelope::decode(genesis).map(|e| e.id()).map_err(|e| StoreError::BadExport(e.to_string()))?;
        out.write_all(EXPORT_MAGIC).map_err(write_err)?;
        out.write_all(&EXPORT_VERSION.to_be_bytes()).map_err(write_err)?;
        out.write_all(id.as_bytes()).map_err(write_err)?;
        let mut w = ExportWriter { out, count: 0 };
        w.write(genesis)?;
        Ok(w)
    }

    /// Writes one envelope record.
    pub(crate) fn write(&mut self, envelope: &[u8]) -> Result<(), StoreError> {
        let len = u32::try_from(envelope.len())
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| StoreError::BadExport(format!("cannot write an envelope of {} bytes", envelope.len())))?;
        self.out.write_all(&len.to_be_bytes()).map_err(write_err)?;
        self.out.write_all(envelope).map_err(write_err)?;
        self.count += 1;
        Ok(())
    }

    /// Writes the end marker and the record count, and flushes. Returns the
    /// number of records written, genesis included.
    pub(crate) fn finish(mut self) -> Result<u64, StoreError> {
        self.out.write_all(&0u32.to_be_bytes()).map_err(write_err)?;
        self.out.write_all(&self.count.to_be_bytes()).map_err(write_err)?;
        self.out.flush().map_err(write_err)?;
        Ok(self.count)
    }
}

/// Reads an export stream record by record, checking its framing and size
/// bounds (not the objects themselves: importing validates those). Usable
/// by auditors' tools to walk an export without a store.
pub struct ExportReader<R: Read> {
    input: R,
    coalition: CoalitionId,
    genesis: Vec<u8>,
    records: u64,
    finished: bool,
}

impl<R: Read> ExportReader<R> {
    /// Reads and checks the header and the genesis record.
    pub fn new(mut input: R) -> Result<Self, StoreError> {
        let mut magic = [0u8; 8];
        read_exact(&mut input, &mut magic, "the header")?;
        if &magic != EXPORT_MAGIC {
            return Err(StoreError::BadExport(
                "not a chorus export (wrong magic bytes); pass a file written by `export`".into(),
            ));
        }
        let mut version = [0u8; 4];
        read_exact(&mut input, &mut version, "the header")?;
        let version = u32::from_be_bytes(version);
        if version != EXPORT_VERSION {
            return Err(StoreError::BadExport(format!(
                "export format version {version}, this binary reads version {EXPORT_VERSION}: use a chorus release that knows version {version}"
            )));
        }
        let mut id = [0u8; 32];
        read_exact(&mut input, &mut id, "the header")?;
        let coalition = ObjectId(id);
        let mut reader = ExportReader { input, coalition, genesis: Vec::new(), records: 0, finished: false };
        let genesis = reader
            .next_record(MAX_GENESIS_ENVELOPE_BYTES)?
            .ok_or_else(|| StoreError::BadExport("the stream has no genesis record".into()))?;
        let env = Envelope::decode(&genesis)
            .map_err(|e| StoreError::BadExport(format!("the first record is not a valid envelope: {e}")))?;
        if env.kind() != Kind::Genesis || env.id() != coalition {
            return Err(StoreError::BadExport(format!(
                "the first record must be the genesis of coalition {coalition} named in the header; it is a {} with id {}",
                env.kind(),
                env.id()
            )));
        }
        reader.genesis = genesis;
        Ok(reader)
    }

    /// The coalition named in the header (the id of the genesis record).
    pub fn coalition(&self) -> CoalitionId {
        self.coalition
    }

    /// The exact bytes of the genesis record.
    pub fn genesis(&self) -> &[u8] {
        &self.genesis
    }

    /// The next envelope after the genesis, or `None` at the end marker
    /// (after checking the record count and that nothing follows it).
    pub fn next_envelope(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        self.next_record(MAX_ENVELOPE_BYTES)
    }

    fn next_record(&mut self, limit: usize) -> Result<Option<Vec<u8>>, StoreError> {
        if self.finished {
            return Ok(None);
        }
        let what = format!("record {}", self.records);
        let mut len = [0u8; 4];
        read_exact(&mut self.input, &mut len, &what)?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 {
            return self.finish().map(|()| None);
        }
        if len > limit {
            return Err(StoreError::BadExport(format!(
                "{what} claims {len} bytes, over the limit of {limit}: the file is damaged or not an export"
            )));
        }
        let mut bytes = vec![0u8; len];
        read_exact(&mut self.input, &mut bytes, &what)?;
        self.records += 1;
        Ok(Some(bytes))
    }

    fn finish(&mut self) -> Result<(), StoreError> {
        let mut count = [0u8; 8];
        read_exact(&mut self.input, &mut count, "the end marker")?;
        let count = u64::from_be_bytes(count);
        if count != self.records {
            return Err(StoreError::BadExport(format!(
                "the end marker counts {count} records but the stream holds {}: the file is damaged",
                self.records
            )));
        }
        let mut extra = [0u8; 1];
        match self.input.read(&mut extra) {
            Ok(0) => {}
            Ok(_) => return Err(StoreError::BadExport("bytes follow the end marker: the file is damaged".into())),
            Err(e) => return Err(StoreError::Io { what: "reading the export stream".into(), source: e }),
        }
        self.finished = true;
        Ok(())
    }
}

fn read_exact<R: Read>(input: &mut R, buf: &mut [u8], what: &str) -> Result<(), StoreError> {
    input.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            StoreError::BadExport(format!(
                "the stream ends inside {what}: the file is truncated; objects read before that point were validated and kept"
            ))
        } else {
            StoreError::Io { what: format!("reading {what} of the export stream"), source: e }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(records: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = ExportWriter::new(&mut out, records[0]).unwrap();
        for r in &records[1..] {
            w.write(r).unwrap();
        }
        w.finish().unwrap();
        out
    }

    #[test]
    fn round_trip_and_damage_is_named() {
        let f = chorus_core::testkit::Fixture::new(3);
        let g = f.coalition.genesis_envelope().bytes().to_vec();
        let p = f.proposal(0, "Export", 1, None);
        let bytes = stream(&[&g, p.bytes()]);
        let mut r = ExportReader::new(&bytes[..]).unwrap();
        assert_eq!(r.coalition(), f.id());
        assert_eq!(r.genesis(), &g[..]);
        assert_eq!(r.next_envelope().unwrap().as_deref(), Some(p.bytes()));
        assert_eq!(r.next_envelope().unwrap(), None);
        assert_eq!(r.next_envelope().unwrap(), None);

        let truncated = &bytes[..bytes.len() - 3];
        let mut r = ExportReader::new(truncated).unwrap();
        r.next_envelope().unwrap();
        assert!(r.next_envelope().unwrap_err().to_string().contains("truncated"));

        let mut bad_magic = bytes.clone();
        bad_magic[1] = b'X';
        assert!(ExportReader::new(&bad_magic[..]).err().unwrap().to_string().contains("magic"));

        let mut trailing = bytes.clone();
        trailing.push(0);
        let mut r = ExportReader::new(&trailing[..]).unwrap();
        r.next_envelope().unwrap();
        assert!(r.next_envelope().unwrap_err().to_string().contains("follow"));
    }
}
