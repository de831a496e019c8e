//! Size and count bounds of protocol v1. Every bound is enforced at decode or
//! validation, before anything is stored; PROTOCOL.md lists the same numbers.

/// Largest envelope of any kind but genesis, in bytes (a proposal with a full
/// body and its signature fits with room to spare).
pub const MAX_ENVELOPE_BYTES: usize = 96 * 1024;
/// Largest genesis envelope, in bytes: 10,000 founders with long names and
/// their signatures.
pub const MAX_GENESIS_ENVELOPE_BYTES: usize = 4 * 1024 * 1024;
/// Largest certificate, in bytes: a maximal genesis, a maximal proposal and
/// one endorsement per member with a full comment.
pub const MAX_CERTIFICATE_BYTES: usize = 16 * 1024 * 1024;
/// Most members a roster may hold.
pub const MAX_MEMBERS: usize = 10_000;
/// Longest coalition or member display name, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 128;
/// Longest external identifier of a member (e.g. a company number), in bytes.
pub const MAX_EXTERNAL_ID_BYTES: usize = 64;
/// Longest genesis nonce, in bytes.
pub const MAX_NONCE_BYTES: usize = 32;
/// Longest proposal title, in bytes of UTF-8.
pub const MAX_TITLE_BYTES: usize = 200;
/// Longest proposal body, in bytes of UTF-8 (Markdown).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest endorsement comment, in bytes of UTF-8.
pub const MAX_COMMENT_BYTES: usize = 1000;
/// Longest text of a comment object (kind 10), in bytes of UTF-8.
pub const MAX_COMMENT_TEXT_BYTES: usize = 8192;
/// Longest reason of a withdrawal (kind 14), in bytes of UTF-8.
pub const MAX_REASON_BYTES: usize = 1000;
/// Most amendments a revised proposal lists as taken up.
pub const MAX_AMENDMENTS: usize = 64;
/// Largest adoption-rule denominator; keeps threshold arithmetic in `u64`.
pub const MAX_RULE_DENOMINATOR: u32 = 1_000_000;
/// How far in the future (by the receiving node's clock) an object's
/// creation time may be before the node defers it. Deferring is not a
/// rejection: the same object is admitted once the clock catches up, so every
/// node ends with the same set.
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;
/// Most heads a roster version may name.
pub const MAX_ROSTER_HEADS: usize = 64;
/// Most ids in the keep list of a rotation or revocation (fits, with the
/// rest of the object, in [`MAX_ENVELOPE_BYTES`]).
pub const MAX_KEEP_IDS: usize = 2048;
/// Most values in each of a charter's attribute sets (regions, phases,
/// trust types), and in a breadth rule's `each_of`.
pub const MAX_ATTRIBUTE_VALUES: usize = 64;
/// Longest attribute value or member label, in bytes of UTF-8.
pub const MAX_ATTRIBUTE_VALUE_BYTES: usize = 64;
/// Most free labels a member declares.
pub const MAX_LABELS: usize = 16;
/// Most size bands a charter defines.
pub const MAX_SCHOOL_BANDS: usize = 16;
/// Largest number of schools a member declares (and largest band bound).
pub const MAX_SCHOOLS: u32 = 10_000;
/// Largest number of pupils a member declares.
pub const MAX_PUPILS: u32 = 10_000_000;
/// Most breadth rules of one adoption rule.
pub const MAX_BREADTH_RULES: usize = 8;
/// Largest `min_distinct` of a breadth rule.
pub const MAX_MIN_DISTINCT: u32 = 64;
/// The size bands by number of schools when a charter defines none: lower
/// bounds, labelled "1", "2-5", "6-15", "16-30", "31+".
pub const DEFAULT_SCHOOL_BANDS: [u32; 5] = [1, 2, 6, 16, 31];
