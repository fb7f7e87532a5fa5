//! What the city electronic licence library (市电子证照库) pulls from a resolver: one line per
//! changed permit for `GET /v1/changes?after=SEQ&limit=N` ([`change_line`], NDJSON) and the
//! counts for `GET /v1/aggregates` ([`Aggregates`]). No I/O.
//!
//! The lines use the metadata names of GB/T 36903-2018 (证照名称 `ZZMC`, 证照编号 `ZZBH`, 证照标识
//! `ZZBS`, …), with the permit-specific extensions under the standard's `KZ_` prefix, and carry
//! the licence identifier of GB/T 36904-2018 ([`licence_identifier`]):
//!
//! ```text
//! 1.2.156.3005.2.{证照类型代码}.{颁发机构代码}.{流水号}.{版本号}.{校验位}
//! ```
//!
//! where the 证照类型代码 is the defining body's credit code and 3 digits, the 颁发机构代码 the
//! issuer's credit code, the 流水号 the permit number itself, the 版本号 the permit's version in
//! 3 digits (`001` first), and the 校验位 the ISO 7064 MOD 37,36 check character over the four
//! middle parts written without their dots.

use std::fmt;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::catalog::Catalog;
use crate::codes::iso7064::mod37_36_check_char;
use crate::codes::{Uscc, UsccError};
use crate::domain::licence::LicenceState;
use crate::domain::permit::{ArchivedPermit, Permit};
use crate::domain::{Date, DerivedState};

/// The fixed prefix of every GB/T 36904 licence identifier (the national licence OID arc).
pub const IDENTIFIER_PREFIX: &str = "1.2.156.3005.2.";

/// 证照名称 of the comprehensive permit.
pub const PERMIT_NAME: &str = "综合许可凭证";

/// The organisation code (positions 9–17 of a credit code) of [`LibraryConfig::fangshan_default`]:
/// all zeros with its GB 11714 check `0`, a body no real organisation holds, so a placeholder
/// identifier is recognisable at a glance.
pub const PLACEHOLDER_ORGANISATION_CODE: &str = "000000000";

const UNKNOWN: &str = "未知";

/// The permit-level states in the order of [`crate::domain::state`]: every count and listing of
/// [`Aggregates`] uses it.
pub const STATE_CODES: [&str; 5] = ["valid", "partial", "void", "superseded", "recovered"];

fn state_index(state: DerivedState) -> usize {
    match state {
        DerivedState::Valid => 0,
        DerivedState::Partial { .. } => 1,
        DerivedState::Void(_) => 2,
        DerivedState::Superseded { .. } => 3,
        DerivedState::Recovered { .. } => 4,
    }
}

/// Who issues and who defines the permit, as the licence library knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryConfig {
    /// 颁发机构代码: the issuing authority's unified social credit code.
    pub issuer_code: Uscc,
    /// 证照类型代码: the defining body's credit code followed by 3 digits (21 characters).
    pub type_code: String,
}

/// Why a [`LibraryConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LibraryConfigError {
    #[error(
        "a licence type code (证照类型代码) is a credit code and 3 digits, 21 characters, \
         but this one has {got}"
    )]
    TypeCodeLength { got: usize },
    #[error("the licence type code's first 18 characters are not a credit code: {0}")]
    TypeCodeCreditCode(UsccError),
    #[error("the licence type code's last 3 characters must be digits, not {got:?}")]
    TypeCodeSuffix { got: String },
}

impl LibraryConfig {
    /// Checks `type_code`: a structurally valid credit code ([`Uscc::parse`]) and 3 ASCII digits.
    ///
    /// # Errors
    /// [`LibraryConfigError`] naming what is wrong with `type_code`.
    pub fn new(issuer_code: Uscc, type_code: &str) -> Result<LibraryConfig, LibraryConfigError> {
        let got = type_code.chars().count();
        if got != 21 || type_code.len() != 21 {
            return Err(LibraryConfigError::TypeCodeLength { got });
        }
        // 21 characters in 21 bytes: all ASCII, so byte offsets are character offsets.
        let (code, suffix) = type_code.split_at(18);
        Uscc::parse(code).map_err(LibraryConfigError::TypeCodeCreditCode)?;
        if !suffix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(LibraryConfigError::TypeCodeSuffix {
                got: suffix.to_owned(),
            });
        }
        Ok(LibraryConfig {
            issuer_code,
            type_code: type_code.to_owned(),
        })
    }

    /// A **placeholder** configuration that only keeps identifiers well-formed.
    ///
    /// Our sources publish no credit code for 北京市房山区政务服务局, so this builds a
    /// checksum-valid one from the registration department and type for 机关 (`1` organisation
    /// establishment, `1` state organ), the Fangshan division `110111` and the placeholder
    /// organisation code [`PLACEHOLDER_ORGANISATION_CODE`]: `11110111000000000R`. The permit type
    /// code is that code followed by `001`.
    ///
    /// Deployments must pass the authority's real credit code and the type code assigned by the
    /// licence library (a CLI flag is to come): identifiers made with this default name nobody
    /// and must not be registered with the library. [`LibraryConfig::is_placeholder`] tells.
    pub fn fangshan_default() -> LibraryConfig {
        let mut body = *b"11110111000000000";
        body[8..].copy_from_slice(&PLACEHOLDER_ORGANISATION_CODE.as_bytes()[..9]);
        let issuer_code = Uscc::from_body(&body).expect("digits are in the credit code alphabet");
        let mut type_code = String::with_capacity(21);
        type_code.push_str(issuer_code.as_str());
        type_code.push_str("001");
        LibraryConfig {
            issuer_code,
            type_code,
        }
    }

    /// Whether either code carries [`PLACEHOLDER_ORGANISATION_CODE`] (a start-up warning).
    pub fn is_placeholder(&self) -> bool {
        self.issuer_code.organisation_code() == PLACEHOLDER_ORGANISATION_CODE
            || self.type_code.get(8..17) == Some(PLACEHOLDER_ORGANISATION_CODE)
    }
}

/// A GB/T 36904 licence identifier, written on demand (`Display`, or `Serialize` as a string)
/// without allocating: what [`licence_identifier`] returns as a `String`.
#[derive(Debug, Clone, Copy)]
pub struct LicenceIdentifier<'a> {
    pub config: &'a LibraryConfig,
    /// The 流水号: the permit number.
    pub number: &'a str,
    pub version: u32,
}

/// Longest concatenation checked on the stack: 21 + 18 + 16 + 10 (every `u32`) bytes.
const CHECKED_ON_STACK: usize = 72;

impl LicenceIdentifier<'_> {
    /// The MOD 37,36 check character over 证照类型代码 + 颁发机构代码 + 流水号 + 版本号.
    /// `None` when a part holds a byte outside `0-9A-Z` (only a malformed `number` can).
    pub fn check_char(&self) -> Option<u8> {
        let mut version = [0u8; 10];
        let version = version_digits(self.version, &mut version);
        let parts = [
            self.config.type_code.as_bytes(),
            self.config.issuer_code.as_str().as_bytes(),
            self.number.as_bytes(),
            version,
        ];
        let length: usize = parts.iter().map(|p| p.len()).sum();
        if length <= CHECKED_ON_STACK {
            let mut buffer = [0u8; CHECKED_ON_STACK];
            let mut at = 0;
            for part in parts {
                buffer[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            mod37_36_check_char(&buffer[..at])
        } else {
            mod37_36_check_char(&parts.concat())
        }
    }
}

/// The version as at least 3 decimal digits, written into `buffer`.
fn version_digits(version: u32, buffer: &mut [u8; 10]) -> &[u8] {
    let mut at = buffer.len();
    let mut rest = version;
    while at == buffer.len() || rest > 0 || buffer.len() - at < 3 {
        at -= 1;
        buffer[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    &buffer[at..]
}

impl fmt::Display for LicenceIdentifier<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let check = self.check_char().unwrap_or(b'?');
        write!(
            f,
            "{IDENTIFIER_PREFIX}{}.{}.{}.{:03}.{}",
            self.config.type_code,
            self.config.issuer_code.as_str(),
            self.number,
            self.version,
            char::from(check)
        )
    }
}

impl Serialize for LicenceIdentifier<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The GB/T 36904 licence identifier (证照标识) of version `version` of permit `number`:
/// `1.2.156.3005.2.{type_code}.{issuer_code}.{number}.{version:03}.{check}`.
///
/// The version has 3 digits as the standard fixes; a version above 999 (the registry keeps at
/// most [`crate::limits::SUPERSEDED_VERSIONS_MAX`] reissues, so none arises from it) is written
/// with all its digits and the check covers them, rather than wrapping, which would give two
/// versions one identifier.
///
/// `number` is expected to be a permit number (digits and upper-case letters). Any other byte
/// has no MOD 37,36 value: the check character is then written `?`, which no valid identifier
/// holds, and debug builds assert.
pub fn licence_identifier(config: &LibraryConfig, number: &str, version: u32) -> String {
    let identifier = LicenceIdentifier {
        config,
        number,
        version,
    };
    debug_assert!(
        identifier.check_char().is_some(),
        "licence numbers are upper-case alphanumerics: {number:?}"
    );
    identifier.to_string()
}

/// The earliest end date among the covered licences that were ever granted (all but 未许可).
fn earliest_end(permit: &ArchivedPermit) -> Option<Date> {
    permit
        .licence_facts()
        .filter(|l| l.state != LicenceState::NotGranted)
        .filter_map(|l| l.valid_until)
        .min()
}

/// One line of `GET /v1/changes`, field order as written.
#[derive(Serialize)]
struct ChangeLine<'a> {
    cursor: u64,
    #[serde(rename = "ZZMC")]
    name: &'static str,
    #[serde(rename = "ZZLXDM")]
    type_code: &'a str,
    #[serde(rename = "ZZBH")]
    number: &'a str,
    #[serde(rename = "ZZBS")]
    identifier: LicenceIdentifier<'a>,
    #[serde(rename = "ZZBFJG")]
    issuer: &'a str,
    #[serde(rename = "ZZBFJGDM")]
    issuer_code: &'a str,
    #[serde(rename = "ZZBFRQ")]
    issued_on: Date,
    #[serde(rename = "CZZT")]
    holder: &'a str,
    #[serde(rename = "CZZTDM")]
    holder_code: &'a str,
    #[serde(rename = "CZZTDMLX")]
    holder_code_type: &'static str,
    #[serde(rename = "CZZTDMLXDM")]
    holder_code_type_code: &'static str,
    #[serde(rename = "ZZYXQQSRQ")]
    valid_from: Date,
    #[serde(rename = "ZZYXQJZRQ")]
    valid_until: Option<Date>,
    #[serde(rename = "XZQHDM")]
    division: &'a str,
    #[serde(rename = "KZ_BB")]
    version: u32,
    #[serde(rename = "KZ_ZT")]
    state: &'static str,
    #[serde(rename = "KZ_ZTMC")]
    state_label: &'static str,
    #[serde(rename = "KZ_HY")]
    industry: &'a str,
    #[serde(rename = "KZ_HYMC")]
    industry_name: &'a str,
    #[serde(rename = "KZ_DXZZ")]
    licences: CoveredLicences<'a>,
    #[serde(rename = "KZ_FZBB")]
    superseded: SupersededVersions<'a>,
}

/// `KZ_DXZZ`: the covered single licences, serialised straight from the archive.
struct CoveredLicences<'a> {
    permit: &'a ArchivedPermit,
    catalog: &'a Catalog,
    today: Date,
}

#[derive(Serialize)]
struct CoveredLicence<'a> {
    #[serde(rename = "ZZMC")]
    name: &'a str,
    #[serde(rename = "ZZBH")]
    certificate_number: Option<&'a str>,
    #[serde(rename = "BFJG")]
    department: &'a str,
    #[serde(rename = "ZT")]
    state: &'static str,
    #[serde(rename = "YXQJZRQ")]
    valid_until: Option<Date>,
}

impl Serialize for CoveredLicences<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.permit.licences.len()))?;
        for licence in self.permit.licences.iter() {
            let facts = licence.facts();
            let (name, department) = match self.catalog.licence_type(facts.licence_type) {
                Some(t) => (t.name.as_str(), t.department.as_str()),
                None => (UNKNOWN, UNKNOWN),
            };
            seq.serialize_element(&CoveredLicence {
                name,
                certificate_number: licence.certificate_number.as_ref().map(|c| c.as_str()),
                department,
                state: facts.effective_state(self.today).code(),
                valid_until: facts.valid_until,
            })?;
        }
        seq.end()
    }
}

/// `KZ_FZBB`: the superseded versions, oldest first, each with its own identifier.
struct SupersededVersions<'a> {
    permit: &'a ArchivedPermit,
    config: &'a LibraryConfig,
}

#[derive(Serialize)]
struct SupersededLine<'a> {
    #[serde(rename = "BB")]
    version: u32,
    #[serde(rename = "ZZBS")]
    identifier: LicenceIdentifier<'a>,
    #[serde(rename = "BFRQ")]
    issued_on: Date,
}

impl Serialize for SupersededVersions<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let versions = &self.permit.superseded_versions;
        let mut seq = s.serialize_seq(Some(versions.len()))?;
        for v in versions.iter() {
            let version = v.version.to_native();
            seq.serialize_element(&SupersededLine {
                version,
                identifier: LicenceIdentifier {
                    config: self.config,
                    number: self.permit.number.as_str(),
                    version,
                },
                issued_on: v.issued_on.to_date(),
            })?;
        }
        seq.end()
    }
}

/// Appends `permit`'s line for the licence library (one JSON object and `\n`) to `out`.
///
/// Fields, in order: `cursor` (the permit's change-log sequence), the GB/T 36903 metadata `ZZMC`
/// 综合许可凭证, `ZZLXDM`, `ZZBH` (the permit number), `ZZBS` (the identifier of the current
/// version), `ZZBFJG`, `ZZBFJGDM`, `ZZBFRQ`, `CZZT`, `CZZTDM`, `CZZTDMLX` 统一社会信用代码,
/// `CZZTDMLXDM` `001`, `ZZYXQQSRQ`, `ZZYXQJZRQ`, `XZQHDM` (the number's division code), then the
/// extensions `KZ_BB` version, `KZ_ZT`/`KZ_ZTMC` the derived state at `today` and its label,
/// `KZ_HY`/`KZ_HYMC` the industry, `KZ_DXZZ` the covered licences (`ZZMC`, `ZZBH`, `BFJG`, `ZT`
/// effective state at `today`, `YXQJZRQ`) and `KZ_FZBB` the superseded versions (`BB`, `ZZBS`,
/// `BFRQ`). Dates are `YYYY-MM-DD`.
///
/// The comprehensive permit has no validity of its own: it holds only while every covered
/// licence does. So `ZZYXQQSRQ` is the version's issue date and `ZZYXQJZRQ` the earliest end
/// date among the covered licences ever granted (未许可 items excluded), `null` when none has
/// one. Whether the permit holds *now* is `KZ_ZT`, not these dates.
///
/// Strings are borrowed from the archive and the catalogue; nothing is allocated but `out`'s
/// growth.
pub fn change_line(
    out: &mut Vec<u8>,
    permit: &ArchivedPermit,
    catalog: &Catalog,
    config: &LibraryConfig,
    today: Date,
) {
    let number = permit.number.as_str();
    let category = permit.number.to_native().category();
    let state = permit.derived_state(None, today);
    let issued_on = permit.issued_on.to_date();
    let line = ChangeLine {
        cursor: permit.sequence.to_native(),
        name: PERMIT_NAME,
        type_code: &config.type_code,
        number,
        identifier: LicenceIdentifier {
            config,
            number,
            version: permit.version(),
        },
        issuer: permit.issuing_authority.as_str(),
        issuer_code: config.issuer_code.as_str(),
        issued_on,
        holder: permit.operator_name.as_str(),
        holder_code: permit.uscc.as_str(),
        holder_code_type: "统一社会信用代码",
        holder_code_type_code: "001",
        valid_from: issued_on,
        valid_until: earliest_end(permit),
        division: number.get(..6).unwrap_or(""),
        version: permit.version(),
        state: state.code(),
        state_label: state.label_zh(),
        industry: number.get(8..10).unwrap_or(""),
        industry_name: catalog
            .industry(category)
            .map_or(UNKNOWN, |i| i.name.as_str()),
        licences: CoveredLicences {
            permit,
            catalog,
            today,
        },
        superseded: SupersededVersions { permit, config },
    };
    serde_json::to_writer(&mut *out, &line).expect("a line of strings and numbers serializes");
    out.push(b'\n');
}

/// Counts per state, in [`STATE_CODES`] order.
type StateCounts = [u64; STATE_CODES.len()];

/// Permit counts by (industry category, derived state at a date, issuing authority), for
/// `GET /v1/aggregates`.
///
/// Counts are of permits (their current version) in the state they are in at the `today` given
/// to [`Aggregates::add`]; all adds and removes of one instance must use the same date, and a
/// new day needs a recount (a licence's end date may have passed). A resolver counts its snapshot
/// once, then clones the counts, removes the snapshot's record of each permit changed since and
/// adds its newer version.
///
/// Only non-zero counts are kept, so adding then removing the same permits gives an equal value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregates {
    /// Authority name → category → counts per state.
    cells: std::collections::BTreeMap<String, std::collections::BTreeMap<u8, StateCounts>>,
}

impl Aggregates {
    pub fn new() -> Aggregates {
        Aggregates::default()
    }

    /// Counts `permit` (its current version) in its state at `today`.
    pub fn add(&mut self, permit: &ArchivedPermit, today: Date) {
        self.adjust(
            permit.issuing_authority.as_str(),
            permit.number.to_native().category(),
            permit.derived_state(None, today),
            1,
            true,
        );
    }

    /// Undoes [`Aggregates::add`] of the same permit at the same date.
    ///
    /// Removing what was not counted is a caller's bug: debug builds assert, release builds
    /// leave the count at zero.
    pub fn remove(&mut self, permit: &ArchivedPermit, today: Date) {
        self.adjust(
            permit.issuing_authority.as_str(),
            permit.number.to_native().category(),
            permit.derived_state(None, today),
            1,
            false,
        );
    }

    /// [`Aggregates::add`] for an owned permit (one not yet in a snapshot).
    pub fn add_owned(&mut self, permit: &Permit, today: Date) {
        self.adjust(
            &permit.issuing_authority,
            permit.number.category(),
            permit.derived_state(None, today),
            1,
            true,
        );
    }

    /// [`Aggregates::remove`] for an owned permit.
    pub fn remove_owned(&mut self, permit: &Permit, today: Date) {
        self.adjust(
            &permit.issuing_authority,
            permit.number.category(),
            permit.derived_state(None, today),
            1,
            false,
        );
    }

    /// Adds every count of `other` (e.g. counts made over separate shards).
    pub fn merge(&mut self, other: &Aggregates) {
        for (authority, categories) in &other.cells {
            for (&category, counts) in categories {
                for (state, &n) in counts.iter().enumerate() {
                    if n > 0 {
                        self.adjust_index(authority, category, state, n, true);
                    }
                }
            }
        }
    }

    /// How many permits are counted in all.
    pub fn total(&self) -> u64 {
        self.iter().map(|(_, _, _, n)| n).sum()
    }

    /// The count of one cell; `state` is a code of [`STATE_CODES`] (0 for any other).
    pub fn count(&self, category: u8, state: &str, authority: &str) -> u64 {
        let Some(index) = STATE_CODES.iter().position(|&s| s == state) else {
            return 0;
        };
        self.cells
            .get(authority)
            .and_then(|c| c.get(&category))
            .map_or(0, |counts| counts[index])
    }

    /// Every non-zero cell: (authority, category, state index, count).
    fn iter(&self) -> impl Iterator<Item = (&str, u8, usize, u64)> + '_ {
        self.cells.iter().flat_map(|(authority, categories)| {
            categories.iter().flat_map(move |(&category, counts)| {
                counts
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| n > 0)
                    .map(move |(state, &n)| (authority.as_str(), category, state, n))
            })
        })
    }

    fn adjust(
        &mut self,
        authority: &str,
        category: u8,
        state: DerivedState,
        n: u64,
        increase: bool,
    ) {
        self.adjust_index(authority, category, state_index(state), n, increase);
    }

    fn adjust_index(
        &mut self,
        authority: &str,
        category: u8,
        state: usize,
        n: u64,
        increase: bool,
    ) {
        if increase {
            // Looked up by `&str`: the name is copied only the first time it is seen.
            let categories = match self.cells.get_mut(authority) {
                Some(categories) => categories,
                None => self.cells.entry(authority.to_owned()).or_default(),
            };
            let counts = categories.entry(category).or_default();
            counts[state] = counts[state].saturating_add(n);
            return;
        }
        let Some(categories) = self.cells.get_mut(authority) else {
            debug_assert!(false, "removing an uncounted permit of {authority:?}");
            return;
        };
        let Some(counts) = categories.get_mut(&category) else {
            debug_assert!(
                false,
                "removing an uncounted permit of category {category:02}"
            );
            return;
        };
        debug_assert!(
            counts[state] >= n,
            "removing more {} permits than counted",
            STATE_CODES[state]
        );
        counts[state] = counts[state].saturating_sub(n);
        if counts.iter().all(|&c| c == 0) {
            categories.remove(&category);
            if categories.is_empty() {
                self.cells.remove(authority);
            }
        }
    }

    /// The `GET /v1/aggregates` body:
    ///
    /// ```text
    /// {"sequence":…,"as_of":"YYYY-MM-DD","total":…,"by_state":{"valid":n,…},
    ///  "by_industry":[{"code":"03","name":…,"total":n,"by_state":{…}}],
    ///  "by_authority":[{"name":…,"total":n,"by_state":{…}}],
    ///  "cells":[{"industry":"03","state":"valid","authority":…,"permits":n}]}
    /// ```
    ///
    /// Every `by_state` lists all five states in [`STATE_CODES`] order, zeros included, so its
    /// keys never change; `by_industry`, `by_authority` and `cells` list only what was counted,
    /// ordered by industry code, then state order, then authority name. `as_of` is the date the
    /// states were evaluated at, `sequence` the change-log position the counts include.
    pub fn to_json(&self, sequence: u64, as_of: Date, catalog: &Catalog) -> Vec<u8> {
        let mut by_state = StateCounts::default();
        let mut by_industry = std::collections::BTreeMap::<u8, StateCounts>::new();
        let mut by_authority = Vec::with_capacity(self.cells.len());
        let mut cells = Vec::new();
        for (authority, categories) in &self.cells {
            let mut authority_counts = StateCounts::default();
            for (&category, counts) in categories {
                let industry = by_industry.entry(category).or_default();
                for (state, &n) in counts.iter().enumerate() {
                    by_state[state] += n;
                    industry[state] += n;
                    authority_counts[state] += n;
                    if n > 0 {
                        cells.push(CellView {
                            industry: Category(category),
                            state: STATE_CODES[state],
                            state_order: state,
                            authority,
                            permits: n,
                        });
                    }
                }
            }
            by_authority.push(AuthorityView {
                name: authority,
                total: authority_counts.iter().sum(),
                by_state: ByState(authority_counts),
            });
        }
        cells.sort_by(|a, b| {
            (a.industry.0, a.state_order, a.authority).cmp(&(
                b.industry.0,
                b.state_order,
                b.authority,
            ))
        });
        let body = AggregatesView {
            sequence,
            as_of,
            total: by_state.iter().sum(),
            by_state: ByState(by_state),
            by_industry: by_industry
                .iter()
                .map(|(&category, counts)| IndustryView {
                    code: Category(category),
                    name: catalog
                        .industry(category)
                        .map_or(UNKNOWN, |i| i.name.as_str()),
                    total: counts.iter().sum(),
                    by_state: ByState(*counts),
                })
                .collect(),
            by_authority,
            cells,
        };
        serde_json::to_vec(&body).expect("counts and strings serialize")
    }
}

/// A category written as its two-digit code `"03"`.
#[derive(Clone, Copy)]
struct Category(u8);

impl Serialize for Category {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:02}", self.0))
    }
}

/// `{"valid":n,"partial":n,"void":n,"superseded":n,"recovered":n}` in that order.
struct ByState(StateCounts);

impl Serialize for ByState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(STATE_CODES.len()))?;
        for (code, n) in STATE_CODES.iter().zip(self.0) {
            map.serialize_entry(code, &n)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct AggregatesView<'a> {
    sequence: u64,
    as_of: Date,
    total: u64,
    by_state: ByState,
    by_industry: Vec<IndustryView<'a>>,
    by_authority: Vec<AuthorityView<'a>>,
    cells: Vec<CellView<'a>>,
}

#[derive(Serialize)]
struct IndustryView<'a> {
    code: Category,
    name: &'a str,
    total: u64,
    by_state: ByState,
}

#[derive(Serialize)]
struct AuthorityView<'a> {
    name: &'a str,
    total: u64,
    by_state: ByState,
}

#[derive(Serialize)]
struct CellView<'a> {
    industry: Category,
    state: &'static str,
    #[serde(skip)]
    state_order: usize,
    authority: &'a str,
    permits: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::LicenceTypeId;
    use crate::codes::iso7064::mod37_36_is_valid;
    use crate::codes::PermitNumber;
    use crate::domain::permit::SupersededVersion;
    use crate::domain::{Licence, PermitStatus};
    use serde_json::{json, Value};

    fn d(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    fn today() -> Date {
        d("2026-06-15")
    }

    fn catalog() -> Catalog {
        Catalog::embedded().unwrap()
    }

    fn licence(id: u16, state: LicenceState, until: Option<&str>) -> Licence {
        Licence {
            licence_type: LicenceTypeId(id),
            certificate_number: (state != LicenceState::NotGranted)
                .then(|| format!("JY11101110{id:06}")),
            state,
            on_commitment: false,
            valid_from: Some(d("2024-03-01")),
            valid_until: until.map(d),
            state_reason: None,
            state_changed_on: None,
        }
    }

    /// A restaurant (category 03) permit: 食品经营许可证 L05 until 2029-02-28, 烟草 L07 with no end
    /// date, 排水 L08 not granted: partial.
    fn permit(sequence: u32, version: u32) -> Permit {
        Permit {
            number: PermitNumber::new(110111, 3, sequence).unwrap(),
            version,
            operator_name: format!("北京房山测试餐饮店{sequence}"),
            uscc: Uscc::from_body(b"91110111MA0000000").unwrap(),
            legal_representative: "张伟".into(),
            premises: "北京市房山区拱辰街道政通路1号".into(),
            issuing_authority: "北京市房山区政务服务局".into(),
            issued_on: d("2024-03-01"),
            licences: vec![
                licence(5, LicenceState::Valid, Some("2029-02-28")),
                licence(7, LicenceState::Valid, None),
                // An end date on an item not granted is not the permit's (ZZYXQJZRQ skips it).
                licence(8, LicenceState::NotGranted, Some("2027-01-01")),
            ],
            status: PermitStatus::Active,
            superseded_versions: (1..version)
                .map(|v| SupersededVersion {
                    version: v,
                    issued_on: d("2023-12-01").add_days(v as i32),
                    qr: None,
                })
                .collect(),
            sequence: u64::from(sequence) * 10,
            seal: None,
        }
    }

    fn archive(permit: &Permit) -> rkyv::util::AlignedVec {
        rkyv::to_bytes::<rkyv::rancor::Error>(permit).unwrap()
    }

    fn access(bytes: &[u8]) -> &ArchivedPermit {
        rkyv::access::<ArchivedPermit, rkyv::rancor::Error>(bytes).unwrap()
    }

    fn line(permit: &Permit, config: &LibraryConfig) -> Value {
        let bytes = archive(permit);
        let mut out = b"previous line\n".to_vec();
        change_line(&mut out, access(&bytes), &catalog(), config, today());
        let text = std::str::from_utf8(&out).unwrap();
        let new = text.strip_prefix("previous line\n").unwrap();
        assert!(
            new.ends_with('\n') && new.matches('\n').count() == 1,
            "{new}"
        );
        serde_json::from_str(new).unwrap()
    }

    #[test]
    fn the_default_config_is_a_well_formed_placeholder() {
        // Proves the default issuer is a checksum-valid 机关 code of Fangshan with the placeholder
        // body (python-stdnum 2.2 cn.uscc.calc_check_digit gives R), and that `new` accepts it.
        let config = LibraryConfig::fangshan_default();
        assert_eq!(config.issuer_code.as_str(), "11110111000000000R");
        assert!(Uscc::parse_strict(config.issuer_code.as_str()).is_ok());
        assert_eq!(config.issuer_code.division(), "110111");
        assert_eq!(config.type_code, "11110111000000000R001");
        assert!(config.is_placeholder());
        let again = LibraryConfig::new(config.issuer_code, &config.type_code).unwrap();
        assert_eq!(again, config);
        let real = LibraryConfig::new(
            Uscc::parse("91110000802100433B").unwrap(),
            "91110000802100433B123",
        )
        .unwrap();
        assert!(!real.is_placeholder());
    }

    #[test]
    fn config_refuses_malformed_type_codes() {
        // Proves each kind of bad 证照类型代码 is refused with its own error.
        let issuer = LibraryConfig::fangshan_default().issuer_code;
        let error = |text: &str| LibraryConfig::new(issuer, text).unwrap_err();
        assert_eq!(
            error("11110111000000000R01"),
            LibraryConfigError::TypeCodeLength { got: 20 }
        );
        assert_eq!(
            error("11110111000000000R0001"),
            LibraryConfigError::TypeCodeLength { got: 22 }
        );
        assert!(matches!(
            error("11110111000000000Q001"),
            LibraryConfigError::TypeCodeCreditCode(UsccError::ChecksumMismatch { .. })
        ));
        assert_eq!(
            error("11110111000000000R0A1"),
            LibraryConfigError::TypeCodeSuffix { got: "0A1".into() }
        );
        assert_eq!(
            error("11110111000000000R００"),
            LibraryConfigError::TypeCodeLength { got: 20 }
        );
        assert!(!error("x").to_string().is_empty());
    }

    #[test]
    fn identifiers_match_independent_check_characters() {
        // Proves the GB/T 36904 form and its check character. Check characters from python-stdnum
        // 2.2 `stdnum.iso7064.mod_37_36.calc_check_digit` over type + issuer + number + version.
        let default = LibraryConfig::fangshan_default();
        let other = LibraryConfig::new(
            Uscc::parse("91110000802100433B").unwrap(),
            "11110111000000000R123",
        )
        .unwrap();
        let vectors: &[(&LibraryConfig, &str, u32, &str)] = &[
            (
                &default,
                "110111ZH0300042F",
                1,
                "1.2.156.3005.2.11110111000000000R001.11110111000000000R.110111ZH0300042F.001.0",
            ),
            (
                &default,
                "110111ZH0300042F",
                2,
                "1.2.156.3005.2.11110111000000000R001.11110111000000000R.110111ZH0300042F.002.Y",
            ),
            (
                &default,
                "110111ZH0500007X",
                3,
                "1.2.156.3005.2.11110111000000000R001.11110111000000000R.110111ZH0500007X.003.V",
            ),
            (
                &default,
                "110111ZH0300042F",
                1000,
                "1.2.156.3005.2.11110111000000000R001.11110111000000000R.110111ZH0300042F.1000.N",
            ),
            (
                &other,
                "110111ZH0300042F",
                7,
                "1.2.156.3005.2.11110111000000000R123.91110000802100433B.110111ZH0300042F.007.8",
            ),
        ];
        for &(config, number, version, expect) in vectors {
            let got = licence_identifier(config, number, version);
            assert_eq!(got, expect);
            // The check character closes the four middle parts under MOD 37,36.
            let parts: Vec<&str> = got
                .strip_prefix(IDENTIFIER_PREFIX)
                .unwrap()
                .split('.')
                .collect();
            assert_eq!(parts.len(), 5);
            assert!(mod37_36_is_valid(parts.concat().as_bytes()), "{got}");
        }
    }

    #[test]
    fn version_digits_are_at_least_three() {
        // Proves the 版本号 is zero-padded to 3 digits and never truncated.
        let mut buffer = [0u8; 10];
        for (version, expect) in [
            (0, "000"),
            (1, "001"),
            (64, "064"),
            (999, "999"),
            (1000, "1000"),
            (u32::MAX, "4294967295"),
        ] {
            assert_eq!(version_digits(version, &mut buffer), expect.as_bytes());
        }
        let config = LibraryConfig::fangshan_default();
        let long = licence_identifier(&config, "110111ZH0300042F", u32::MAX);
        assert!(long.contains(".4294967295."), "{long}");
        assert!(!long.ends_with('?'));
    }

    #[test]
    fn a_valid_permits_line_carries_every_field_in_order() {
        // Proves a valid permit's line parses back with the GB/T 36903 names, values and order.
        let config = LibraryConfig::fangshan_default();
        let permit = permit(42, 1);
        let value = line(&permit, &config);
        let number = "110111ZH0300042F";
        assert_eq!(permit.number.as_str(), number);
        let expect = json!({
            "cursor": 420,
            "ZZMC": "综合许可凭证",
            "ZZLXDM": "11110111000000000R001",
            "ZZBH": number,
            "ZZBS": licence_identifier(&config, number, 1),
            "ZZBFJG": "北京市房山区政务服务局",
            "ZZBFJGDM": "11110111000000000R",
            "ZZBFRQ": "2024-03-01",
            "CZZT": "北京房山测试餐饮店42",
            "CZZTDM": permit.uscc.as_str(),
            "CZZTDMLX": "统一社会信用代码",
            "CZZTDMLXDM": "001",
            "ZZYXQQSRQ": "2024-03-01",
            "ZZYXQJZRQ": "2029-02-28",
            "XZQHDM": "110111",
            "KZ_BB": 1,
            "KZ_ZT": "partial",
            "KZ_ZTMC": "部分许可",
            "KZ_HY": "03",
            "KZ_HYMC": "餐饮店",
            "KZ_DXZZ": [
                {"ZZMC": "食品经营许可证", "ZZBH": "JY11101110000005", "BFJG": "区市场监管局",
                 "ZT": "valid", "YXQJZRQ": "2029-02-28"},
                {"ZZMC": "烟草专卖零售许可证", "ZZBH": "JY11101110000007", "BFJG": "区烟草专卖局",
                 "ZT": "valid", "YXQJZRQ": null},
                {"ZZMC": "城镇污水排入排水管网许可证", "ZZBH": null, "BFJG": "区水务局",
                 "ZT": "not_granted", "YXQJZRQ": "2027-01-01"},
            ],
            "KZ_FZBB": [],
        });
        assert_eq!(value, expect);
        assert_eq!(
            value["ZZBS"],
            "1.2.156.3005.2.11110111000000000R001.11110111000000000R.110111ZH0300042F.001.0"
        );
        // Field order as specified (serde_json's Map sorts keys, so read the raw text).
        let bytes = archive(&permit);
        let mut out = Vec::new();
        change_line(&mut out, access(&bytes), &catalog(), &config, today());
        let text = String::from_utf8(out).unwrap();
        let keys = [
            "cursor",
            "ZZMC",
            "ZZLXDM",
            "ZZBH",
            "ZZBS",
            "ZZBFJG",
            "ZZBFJGDM",
            "ZZBFRQ",
            "CZZT",
            "CZZTDM",
            "CZZTDMLX",
            "CZZTDMLXDM",
            "ZZYXQQSRQ",
            "ZZYXQJZRQ",
            "XZQHDM",
            "KZ_BB",
            "KZ_ZT",
            "KZ_ZTMC",
            "KZ_HY",
            "KZ_HYMC",
            "KZ_DXZZ",
            "KZ_FZBB",
        ];
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn a_fully_granted_permit_is_valid_and_without_end_date_when_none_has_one() {
        // Proves `valid` and a null ZZYXQJZRQ when no granted licence has an end date.
        let mut permit = permit(7, 1);
        permit.licences = vec![licence(7, LicenceState::Valid, None)];
        let value = line(&permit, &LibraryConfig::fangshan_default());
        assert_eq!(value["KZ_ZT"], "valid");
        assert_eq!(value["KZ_ZTMC"], "有效");
        assert_eq!(value["ZZYXQJZRQ"], Value::Null);
    }

    #[test]
    fn a_revoked_licence_voids_the_permit_in_its_line() {
        // Proves a revocation shows as void for the permit and revoked for the licence.
        let mut permit = permit(43, 1);
        permit.licences[0].state = LicenceState::Revoked;
        permit.licences[0].state_changed_on = Some(d("2026-05-01"));
        let value = line(&permit, &LibraryConfig::fangshan_default());
        assert_eq!(value["KZ_ZT"], "void");
        assert_eq!(value["KZ_ZTMC"], "已作废");
        assert_eq!(value["KZ_DXZZ"][0]["ZT"], "revoked");
        assert_eq!(value["KZ_DXZZ"][1]["ZT"], "valid");
        // The dates are facts, not the state: the revoked licence's end date still counts.
        assert_eq!(value["ZZYXQJZRQ"], "2029-02-28");
    }

    #[test]
    fn superseded_versions_are_listed_with_their_identifiers() {
        // Proves a reissued permit names its current version and lists each earlier one.
        let config = LibraryConfig::fangshan_default();
        let permit = permit(42, 3);
        let value = line(&permit, &config);
        let number = "110111ZH0300042F";
        assert_eq!(value["KZ_BB"], 3);
        assert_eq!(value["ZZBS"], licence_identifier(&config, number, 3));
        assert_eq!(
            value["KZ_FZBB"],
            json!([
                {"BB": 1, "ZZBS": licence_identifier(&config, number, 1), "BFRQ": "2023-12-02"},
                {"BB": 2, "ZZBS": licence_identifier(&config, number, 2), "BFRQ": "2023-12-03"},
            ])
        );
        assert_eq!(
            value["KZ_FZBB"][1]["ZZBS"],
            "1.2.156.3005.2.11110111000000000R001.11110111000000000R.110111ZH0300042F.002.Y"
        );
    }

    /// A mix: valid, partial, void by revocation, recovered, voided by the authority, in two
    /// authorities and two industries.
    fn mix() -> Vec<Permit> {
        let mut permits = Vec::new();
        let mut valid = permit(1, 1);
        valid.licences.truncate(2);
        permits.push(valid.clone());
        permits.push(permit(2, 2)); // partial
        let mut revoked = permit(3, 1);
        revoked.licences[1].state = LicenceState::Revoked;
        permits.push(revoked);
        let mut recovered = permit(4, 1);
        recovered.status = PermitStatus::Recovered {
            on: d("2026-01-01"),
        };
        permits.push(recovered);
        let mut other = valid.clone();
        other.number = PermitNumber::new(110111, 5, 9).unwrap();
        other.issuing_authority = "北京市房山区市场监督管理局".into();
        permits.push(other.clone());
        let mut voided = other;
        voided.number = PermitNumber::new(110111, 5, 10).unwrap();
        voided.status = PermitStatus::Voided {
            on: d("2026-02-01"),
            reason: "申请人申请".into(),
        };
        permits.push(voided);
        permits.push({
            let mut v = valid;
            v.number = PermitNumber::new(110111, 3, 11).unwrap();
            v
        });
        permits
    }

    #[test]
    fn add_and_remove_are_symmetric_for_archived_and_owned_permits() {
        // Proves removing what was added gives back the empty counts, in any order, and that
        // archived and owned permits count the same.
        let permits = mix();
        let archives: Vec<_> = permits.iter().map(archive).collect();
        let mut archived = Aggregates::new();
        let mut owned = Aggregates::new();
        for (permit, bytes) in permits.iter().zip(&archives) {
            archived.add(access(bytes), today());
            owned.add_owned(permit, today());
        }
        assert_eq!(archived, owned);
        assert_eq!(archived.total(), permits.len() as u64);
        assert_eq!(archived.count(3, "valid", "北京市房山区政务服务局"), 2);
        assert_eq!(archived.count(3, "partial", "北京市房山区政务服务局"), 1);
        assert_eq!(archived.count(3, "void", "北京市房山区政务服务局"), 1);
        assert_eq!(archived.count(3, "recovered", "北京市房山区政务服务局"), 1);
        assert_eq!(archived.count(5, "valid", "北京市房山区市场监督管理局"), 1);
        assert_eq!(archived.count(5, "void", "北京市房山区市场监督管理局"), 1);
        assert_eq!(archived.count(5, "void", "北京市房山区政务服务局"), 0);
        assert_eq!(
            archived.count(5, "nonsense", "北京市房山区市场监督管理局"),
            0
        );

        // A resolver's adjustment: take the snapshot counts, replace one permit's old record by
        // its new version, and compare with counting the new set from scratch.
        let mut changed = permits.clone();
        changed[0].licences[0].state = LicenceState::Cancelled;
        let mut adjusted = archived.clone();
        adjusted.remove(access(&archives[0]), today());
        adjusted.add_owned(&changed[0], today());
        let mut fresh = Aggregates::new();
        changed.iter().for_each(|p| fresh.add_owned(p, today()));
        assert_eq!(adjusted, fresh);

        for (permit, bytes) in permits.iter().zip(&archives).rev() {
            archived.remove(access(bytes), today());
            owned.remove_owned(permit, today());
        }
        assert_eq!(archived, Aggregates::new());
        assert_eq!(owned, Aggregates::new());
        assert_eq!(
            archived.to_json(0, today(), &catalog()),
            Aggregates::new().to_json(0, today(), &catalog())
        );
    }

    #[test]
    fn merge_equals_counting_everything_at_once() {
        // Proves shard counts merged equal one count over all permits.
        let permits = mix();
        let (left, right) = permits.split_at(3);
        let mut all = Aggregates::new();
        let mut a = Aggregates::new();
        let mut b = Aggregates::new();
        permits.iter().for_each(|p| all.add_owned(p, today()));
        left.iter().for_each(|p| a.add_owned(p, today()));
        right.iter().for_each(|p| b.add_owned(p, today()));
        a.merge(&b);
        assert_eq!(a, all);
    }

    #[test]
    #[cfg(not(debug_assertions))]
    fn removing_an_uncounted_permit_saturates_in_release_builds() {
        // Proves counts never go below zero when a caller removes what it never added.
        let mut counts = Aggregates::new();
        counts.remove_owned(&permit(1, 1), today());
        assert_eq!(counts, Aggregates::new());
        counts.add_owned(&permit(1, 1), today());
        let mut valid = permit(1, 1);
        valid.licences.truncate(2);
        counts.remove_owned(&valid, today());
        assert_eq!(counts.total(), 1);
    }

    #[test]
    fn the_aggregates_json_is_ordered_and_its_totals_agree() {
        // Proves every total equals the sum of the cells it covers, and the listing orders.
        let mut counts = Aggregates::new();
        mix().iter().for_each(|p| counts.add_owned(p, today()));
        let bytes = counts.to_json(1234, today(), &catalog());
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["sequence"], 1234);
        assert_eq!(value["as_of"], "2026-06-15");
        assert_eq!(value["total"], 7);
        assert_eq!(
            value["by_state"],
            json!({"valid": 3, "partial": 1, "void": 2, "superseded": 0, "recovered": 1})
        );
        // by_state keys in state order in the raw text.
        let text = std::str::from_utf8(&bytes).unwrap();
        let order: Vec<usize> = STATE_CODES
            .iter()
            .map(|c| text.find(&format!("\"{c}\":")).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]));

        let industries = value["by_industry"].as_array().unwrap();
        assert_eq!(industries.len(), 2);
        assert_eq!(industries[0]["code"], "03");
        assert_eq!(industries[0]["name"], "餐饮店");
        assert_eq!(industries[0]["total"], 5);
        assert_eq!(industries[1]["code"], "05");
        assert_eq!(industries[1]["total"], 2);
        let authorities = value["by_authority"].as_array().unwrap();
        let names: Vec<&str> = authorities
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);

        let cells = value["cells"].as_array().unwrap();
        let cell_sum: u64 = cells.iter().map(|c| c["permits"].as_u64().unwrap()).sum();
        assert_eq!(cell_sum, 7);
        let keys: Vec<(String, usize, String)> = cells
            .iter()
            .map(|c| {
                let state = c["state"].as_str().unwrap();
                (
                    c["industry"].as_str().unwrap().to_owned(),
                    STATE_CODES.iter().position(|&s| s == state).unwrap(),
                    c["authority"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let mut sorted_keys = keys.clone();
        sorted_keys.sort();
        assert_eq!(keys, sorted_keys);
        for group in ["by_industry", "by_authority"] {
            let mut total = 0;
            for entry in value[group].as_array().unwrap() {
                let states: u64 = STATE_CODES
                    .iter()
                    .map(|s| entry["by_state"][*s].as_u64().unwrap())
                    .sum();
                assert_eq!(entry["total"].as_u64().unwrap(), states, "{group}");
                total += states;
            }
            assert_eq!(total, 7, "{group}");
        }
        for (i, code) in STATE_CODES.iter().enumerate() {
            let from_cells: u64 = cells
                .iter()
                .filter(|c| c["state"] == *code)
                .map(|c| c["permits"].as_u64().unwrap())
                .sum();
            assert_eq!(
                value["by_state"][*code].as_u64().unwrap(),
                from_cells,
                "{i}"
            );
        }
    }
}
