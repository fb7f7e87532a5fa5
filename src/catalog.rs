//! The industry catalogue (附件2 行业目录): the 40 industries, the single licences (单项审批证件)
//! each one involves, and whether each is mandatory, as-needed, "at least one of" or "one of two".
//!
//! This module owns the catalogue's data model, its loader and validator, and the coverage rule
//! ([`Industry::check_coverage`]) that decides whether the licence types a permit lists fit its
//! industry. The data lives in `data/catalog/catalog.toml`, the reasoning behind each row in
//! `data/catalog/NOTES.md`.
//!
//! It does no I/O: the data file is embedded at compile time (`include_str!`) and
//! [`Catalog::from_toml_str`] reads only the string it is given. Inconsistent data is a start-up
//! error ([`CatalogError`]), never a panic, so every lookup afterwards can rely on the invariants
//! that validation established (ids `1..=N` without gaps, categories `1..=40` in order).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Stable numeric identity of a single-licence type: `L07` has id 7. Ids never change meaning.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Debug,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq, Clone, Copy))]
pub struct LicenceTypeId(pub u16);

/// The largest id a code `Lnn` can spell.
pub const LICENCE_TYPE_ID_MAX: u16 = 99;

/// The number of industries 附件2 lists, with category codes `01..=40`.
pub const INDUSTRY_COUNT: u8 = 40;

// Coverage checks keep the licence types of an industry and of a permit as bit sets in a `u128`.
const _: () = assert!(LICENCE_TYPE_ID_MAX < 128);

impl LicenceTypeId {
    /// Parses a code `L01`..`L99` (upper-case `L`, exactly two digits, not `L00`). Whether the
    /// type exists is the catalogue's question ([`Catalog::licence_type_by_code`]).
    pub fn from_code(code: &str) -> Option<LicenceTypeId> {
        let digits = code.strip_prefix('L')?.as_bytes();
        let &[tens, units] = digits else { return None };
        if !tens.is_ascii_digit() || !units.is_ascii_digit() {
            return None;
        }
        let id = u16::from(tens - b'0') * 10 + u16::from(units - b'0');
        (id > 0).then_some(LicenceTypeId(id))
    }

    /// The code, `L07`.
    pub fn code(self) -> String {
        self.to_string()
    }

    /// This id's bit in an industry's or a permit's bit set; `None` beyond what a code can spell
    /// (such an id belongs to no industry).
    fn bit(self) -> Option<u128> {
        // Checked before shifting: `1u128 << 128` and beyond would overflow.
        if (1..=LICENCE_TYPE_ID_MAX).contains(&self.0) {
            Some(1u128 << self.0)
        } else {
            None
        }
    }
}

impl fmt::Display for LicenceTypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{:02}", self.0)
    }
}

/// Serialised as its code, `"L07"`.
impl Serialize for LicenceTypeId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Which level of government approves a licence type. The table lists district departments; its
/// footnote names the two exceptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalLevel {
    District,
    /// 《互联网药品信息服务资格证书》: 市药监局.
    City,
    /// 《取水许可证》: 市、区水务局, as the rules assign.
    CityOrDistrict,
}

impl ApprovalLevel {
    /// The serialised name: `district`, `city`, `city_or_district`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalLevel::District => "district",
            ApprovalLevel::City => "city",
            ApprovalLevel::CityOrDistrict => "city_or_district",
        }
    }
}

/// One single-licence type (单项审批证件).
///
/// Serialised as `{code, name, department, level}`: the id is the code, so it is not repeated.
#[derive(Debug, Clone, Serialize)]
pub struct LicenceType {
    #[serde(skip)]
    pub id: LicenceTypeId,
    /// `L07`.
    pub code: String,
    /// As the source names it, without the 《》 brackets.
    pub name: String,
    /// The approving department, as the source prints it (区市场监管局, 市、区水务局, …).
    pub department: String,
    pub level: ApprovalLevel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Obligation {
    /// 必须办理
    Must,
    /// 按需办理
    IfNeeded,
}

impl Obligation {
    /// The serialised name: `must`, `if_needed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Obligation::Must => "must",
            Obligation::IfNeeded => "if_needed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// One licence type.
    Single,
    /// 至少一项: one or more of the listed types.
    AtLeastOne,
    /// Either of two alternatives (食品经营许可证 / 北京市小规模食品生产经营许可证): exactly one.
    ExactlyOne,
}

impl Choice {
    /// The serialised name: `single`, `at_least_one`, `exactly_one`.
    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Single => "single",
            Choice::AtLeastOne => "at_least_one",
            Choice::ExactlyOne => "exactly_one",
        }
    }

    /// How many licence types a requirement of this kind lists, as validation demands it.
    fn licence_count_ok(self, count: usize) -> bool {
        match self {
            Choice::Single => count == 1,
            Choice::AtLeastOne => count >= 2,
            Choice::ExactlyOne => count == 2,
        }
    }

    fn licence_count_expected(self) -> &'static str {
        match self {
            Choice::Single => "exactly 1",
            Choice::AtLeastOne => "at least 2",
            Choice::ExactlyOne => "exactly 2",
        }
    }
}

/// One row (or one merged group of rows) of an industry in the table.
#[derive(Debug, Clone, Serialize)]
pub struct Requirement {
    pub obligation: Obligation,
    pub choice: Choice,
    /// Serialised as codes, `["L05", "L06"]`.
    pub licences: Vec<LicenceTypeId>,
    /// A conditional note, as the source words it.
    pub note: Option<String>,
    /// 如位于自由贸易试验区，取得备案凭证即可: in a free-trade zone the filing certificate stands in
    /// for the licence. The permit still lists the same licence type, so coverage is unchanged.
    pub free_trade_zone_filing_suffices: bool,
}

/// One industry of the catalogue. Built only by [`Catalog`], which validated it.
///
/// Serialised as `{category: "03", name, requirements}`.
#[derive(Clone, Serialize)]
pub struct Industry {
    /// 类别编码 01–40.
    #[serde(serialize_with = "serialize_category")]
    pub category: u8,
    pub name: String,
    pub requirements: Vec<Requirement>,
    /// Bit `id` is set for every licence type a requirement of this industry lists.
    #[serde(skip)]
    members: u128,
    /// The catalogue's licence types, shared, so that coverage errors can name licences.
    #[serde(skip)]
    licence_types: Arc<[LicenceType]>,
}

fn serialize_category<S: serde::Serializer>(category: &u8, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{category:02}"))
}

impl fmt::Debug for Industry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Industry")
            .field("category", &self.category)
            .field("name", &self.name)
            .field("requirements", &self.requirements)
            .finish_non_exhaustive()
    }
}

/// The validated catalogue. Lookups by id and by category are O(1).
#[derive(Debug, Clone)]
pub struct Catalog {
    /// `licence_types[i].id == LicenceTypeId(i + 1)`.
    licence_types: Arc<[LicenceType]>,
    /// `industries[i].category == i + 1`, exactly [`INDUSTRY_COUNT`] of them.
    industries: Vec<Industry>,
}

/// Why catalogue data was refused. Positions are 1-based, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("catalogue TOML does not parse into the expected layout: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("licence type #{position}: code {code:?} is not of the form L01–L99")]
    LicenceCode { position: usize, code: String },
    #[error("licence type code {code} appears more than once")]
    DuplicateLicenceCode { code: String },
    #[error(
        "licence type #{position} has code {got}, expected {expected}: ids run 1..=N without gaps"
    )]
    LicenceOrder {
        position: usize,
        expected: String,
        got: String,
    },
    #[error(
        "licence type {code}: {field} is empty, has surrounding spaces or keeps the 《》 brackets"
    )]
    LicenceField { code: String, field: &'static str },
    #[error("licence types {first} and {second} have the same name {name}")]
    DuplicateLicenceName {
        name: String,
        first: String,
        second: String,
    },
    #[error("industry #{position}: category {text:?} is not two digits 01–40")]
    CategoryCode { position: usize, text: String },
    #[error("industry category {category:02} appears more than once")]
    DuplicateCategory { category: u8 },
    #[error("industry #{position} has category {got:02}, expected {expected:02}: categories run 01–40 in order")]
    CategoryOrder {
        position: usize,
        expected: u8,
        got: u8,
    },
    #[error("the catalogue has {got} industries, expected {INDUSTRY_COUNT}")]
    IndustryCount { got: usize },
    #[error("industry {category:02}: name is empty or has surrounding spaces")]
    IndustryName { category: u8 },
    #[error("industry {category:02} has no requirements")]
    NoRequirements { category: u8 },
    #[error("industry {category:02}: licence type {code:?} is not in the catalogue")]
    UnknownLicence { category: u8, code: String },
    #[error(
        "industry {category:02}: a {} requirement lists {count} licence types, expected {}",
        .choice.as_str(),
        .choice.licence_count_expected()
    )]
    LicenceCount {
        category: u8,
        choice: Choice,
        count: usize,
    },
    #[error("industry {category:02}: licence type {code} appears in more than one place")]
    RepeatedLicence { category: u8, code: String },
    #[error("industry {category:02}: the note of the requirement for {code} is empty or has surrounding spaces")]
    EmptyNote { category: u8, code: String },
    #[error("industry {category:02}: the free-trade-zone requirement for {code} has no note")]
    NoteMissing { category: u8, code: String },
    #[error("licence type {code} is used by no industry")]
    UnusedLicence { code: String },
}

/// A licence type named in a coverage error: `L05 食品经营许可证`. The name is empty when the id
/// is not in the catalogue at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LicenceRef {
    pub code: String,
    pub name: String,
}

impl fmt::Display for LicenceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.is_empty() {
            f.write_str(&self.code)
        } else {
            write!(f, "{} {}", self.code, self.name)
        }
    }
}

/// Why the licence types a permit lists do not fit its industry. The first problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoverageError {
    #[error("{licence} is listed more than once")]
    Duplicate { licence: LicenceRef },
    #[error("{licence} is not among the licence types of category {category:02}")]
    NotInIndustry { licence: LicenceRef, category: u8 },
    #[error("category {category:02} requires {licence}, which the permit does not list")]
    Missing { licence: LicenceRef, category: u8 },
    #[error("category {category:02} requires at least one of {}, and the permit lists none", list(.licences))]
    NoneOf {
        licences: Vec<LicenceRef>,
        category: u8,
    },
    #[error("category {category:02} requires {a} or {b}, and the permit lists neither")]
    NeitherAlternative {
        a: LicenceRef,
        b: LicenceRef,
        category: u8,
    },
    #[error("category {category:02} takes {a} or {b}, not both")]
    BothAlternatives {
        a: LicenceRef,
        b: LicenceRef,
        category: u8,
    },
}

fn list(licences: &[LicenceRef]) -> String {
    let parts: Vec<String> = licences.iter().map(ToString::to_string).collect();
    parts.join(", ")
}

impl CoverageError {
    /// A stable machine-readable name of the problem, for API answers.
    pub fn kind(&self) -> &'static str {
        match self {
            CoverageError::Duplicate { .. } => "duplicate",
            CoverageError::NotInIndustry { .. } => "not_in_industry",
            CoverageError::Missing { .. } => "missing",
            CoverageError::NoneOf { .. } => "none_of",
            CoverageError::NeitherAlternative { .. } => "neither_alternative",
            CoverageError::BothAlternatives { .. } => "both_alternatives",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The file layout (see the header of data/catalog/catalog.toml).

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    licence_types: Vec<RawLicenceType>,
    #[serde(rename = "industry")]
    industries: Vec<RawIndustry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLicenceType {
    code: String,
    name: String,
    department: String,
    level: RawLevel,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum RawLevel {
    District,
    City,
    CityOrDistrict,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndustry {
    category: String,
    name: String,
    requirements: Vec<RawRequirement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirement {
    obligation: RawObligation,
    #[serde(default)]
    choice: RawChoice,
    licences: Vec<String>,
    note: Option<String>,
    #[serde(default)]
    free_trade_zone_filing_suffices: bool,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum RawObligation {
    Must,
    IfNeeded,
}

#[derive(Deserialize, Clone, Copy, Default)]
#[serde(rename_all = "snake_case")]
enum RawChoice {
    #[default]
    Single,
    AtLeastOne,
    ExactlyOne,
}

const EMBEDDED_TOML: &str = include_str!("../data/catalog/catalog.toml");

/// A name as the data must spell it: non-empty, no surrounding spaces.
fn is_clean(text: &str) -> bool {
    !text.is_empty() && text.trim() == text
}

impl Catalog {
    /// The catalogue compiled into this binary (`data/catalog/catalog.toml`).
    ///
    /// # Errors
    /// As [`Catalog::from_toml_str`]; the embedded data is tested to load.
    pub fn embedded() -> Result<Catalog, CatalogError> {
        Catalog::from_toml_str(EMBEDDED_TOML)
    }

    /// Parses and validates a catalogue in the layout of `data/catalog/catalog.toml`.
    ///
    /// # Errors
    /// The first inconsistency found, naming it: malformed TOML or unknown fields, licence codes
    /// not running `L01..=LNN` in order, empty or bracketed names, categories not `01..=40` each
    /// once in order, an industry without requirements, a requirement naming an unknown licence
    /// type or listing the wrong number of them for its kind, a licence type repeated within an
    /// industry, a free-trade-zone flag without its note, a licence type no industry uses.
    pub fn from_toml_str(text: &str) -> Result<Catalog, CatalogError> {
        let raw: RawCatalog = toml::from_str(text)?;
        let licence_types: Arc<[LicenceType]> = validate_licence_types(raw.licence_types)?.into();
        let industries = validate_industries(raw.industries, &licence_types)?;

        let used = industries
            .iter()
            .fold(0u128, |bits, industry| bits | industry.members);
        if let Some(unused) = licence_types
            .iter()
            .find(|t| t.id.bit().is_some_and(|b| used & b == 0))
        {
            return Err(CatalogError::UnusedLicence {
                code: unused.code.clone(),
            });
        }
        Ok(Catalog {
            licence_types,
            industries,
        })
    }

    pub fn licence_types(&self) -> &[LicenceType] {
        &self.licence_types
    }

    pub fn industries(&self) -> &[Industry] {
        &self.industries
    }

    pub fn licence_type(&self, id: LicenceTypeId) -> Option<&LicenceType> {
        // Validation put id `n` at index `n - 1`.
        self.licence_types.get(usize::from(id.0).checked_sub(1)?)
    }

    pub fn licence_type_by_code(&self, code: &str) -> Option<&LicenceType> {
        self.licence_type(LicenceTypeId::from_code(code)?)
    }

    pub fn industry(&self, category: u8) -> Option<&Industry> {
        // Validation put category `n` at index `n - 1`.
        self.industries.get(usize::from(category).checked_sub(1)?)
    }

    /// The industry of a category code as the source writes it: two digits, `"03"`.
    pub fn industry_by_code(&self, code: &str) -> Option<&Industry> {
        self.industry(parse_category(code)?)
    }
}

/// `"03"` → 3. Exactly two ASCII digits; range is the caller's question.
fn parse_category(text: &str) -> Option<u8> {
    let &[tens, units] = text.as_bytes() else {
        return None;
    };
    if !tens.is_ascii_digit() || !units.is_ascii_digit() {
        return None;
    }
    Some((tens - b'0') * 10 + (units - b'0'))
}

fn validate_licence_types(raw: Vec<RawLicenceType>) -> Result<Vec<LicenceType>, CatalogError> {
    let mut types: Vec<LicenceType> = Vec::with_capacity(raw.len());
    for (index, raw) in raw.into_iter().enumerate() {
        let position = index + 1;
        let Some(id) = LicenceTypeId::from_code(&raw.code) else {
            return Err(CatalogError::LicenceCode {
                position,
                code: raw.code,
            });
        };
        if types.iter().any(|t| t.id == id) {
            return Err(CatalogError::DuplicateLicenceCode { code: raw.code });
        }
        let expected = LicenceTypeId(u16::try_from(position).unwrap_or(u16::MAX));
        if id != expected {
            return Err(CatalogError::LicenceOrder {
                position,
                expected: expected.code(),
                got: raw.code,
            });
        }
        let bracketed = |text: &str| text.contains(['《', '》']);
        if !is_clean(&raw.name) || bracketed(&raw.name) {
            return Err(CatalogError::LicenceField {
                code: raw.code,
                field: "name",
            });
        }
        if !is_clean(&raw.department) {
            return Err(CatalogError::LicenceField {
                code: raw.code,
                field: "department",
            });
        }
        if let Some(first) = types.iter().find(|t| t.name == raw.name) {
            return Err(CatalogError::DuplicateLicenceName {
                name: raw.name,
                first: first.code.clone(),
                second: raw.code,
            });
        }
        let level = match raw.level {
            RawLevel::District => ApprovalLevel::District,
            RawLevel::City => ApprovalLevel::City,
            RawLevel::CityOrDistrict => ApprovalLevel::CityOrDistrict,
        };
        types.push(LicenceType {
            id,
            code: raw.code,
            name: raw.name,
            department: raw.department,
            level,
        });
    }
    Ok(types)
}

fn validate_industries(
    raw: Vec<RawIndustry>,
    licence_types: &Arc<[LicenceType]>,
) -> Result<Vec<Industry>, CatalogError> {
    let mut industries: Vec<Industry> = Vec::with_capacity(usize::from(INDUSTRY_COUNT));
    for (index, raw) in raw.into_iter().enumerate() {
        let position = index + 1;
        let category = match parse_category(&raw.category) {
            Some(category) if (1..=INDUSTRY_COUNT).contains(&category) => category,
            _ => {
                return Err(CatalogError::CategoryCode {
                    position,
                    text: raw.category,
                })
            }
        };
        if industries.iter().any(|i| i.category == category) {
            return Err(CatalogError::DuplicateCategory { category });
        }
        let expected = u8::try_from(position).unwrap_or(u8::MAX);
        if category != expected {
            return Err(CatalogError::CategoryOrder {
                position,
                expected,
                got: category,
            });
        }
        industries.push(validate_industry(category, raw, licence_types)?);
    }
    if industries.len() != usize::from(INDUSTRY_COUNT) {
        return Err(CatalogError::IndustryCount {
            got: industries.len(),
        });
    }
    Ok(industries)
}

fn validate_industry(
    category: u8,
    raw: RawIndustry,
    licence_types: &Arc<[LicenceType]>,
) -> Result<Industry, CatalogError> {
    if !is_clean(&raw.name) {
        return Err(CatalogError::IndustryName { category });
    }
    if raw.requirements.is_empty() {
        return Err(CatalogError::NoRequirements { category });
    }
    let mut members = 0u128;
    let mut requirements = Vec::with_capacity(raw.requirements.len());
    for raw in raw.requirements {
        let choice = match raw.choice {
            RawChoice::Single => Choice::Single,
            RawChoice::AtLeastOne => Choice::AtLeastOne,
            RawChoice::ExactlyOne => Choice::ExactlyOne,
        };
        let mut licences = Vec::with_capacity(raw.licences.len());
        for code in raw.licences {
            let known = LicenceTypeId::from_code(&code)
                .filter(|id| usize::from(id.0) <= licence_types.len())
                .and_then(|id| Some((id, id.bit()?)));
            let Some((id, bit)) = known else {
                return Err(CatalogError::UnknownLicence { category, code });
            };
            if members & bit != 0 {
                return Err(CatalogError::RepeatedLicence { category, code });
            }
            members |= bit;
            licences.push(id);
        }
        if !choice.licence_count_ok(licences.len()) {
            return Err(CatalogError::LicenceCount {
                category,
                choice,
                count: licences.len(),
            });
        }
        // The count check guarantees at least one licence.
        let code = licences[0].code();
        match &raw.note {
            Some(note) if !is_clean(note) => {
                return Err(CatalogError::EmptyNote { category, code });
            }
            None if raw.free_trade_zone_filing_suffices => {
                return Err(CatalogError::NoteMissing { category, code });
            }
            _ => {}
        }
        requirements.push(Requirement {
            obligation: match raw.obligation {
                RawObligation::Must => Obligation::Must,
                RawObligation::IfNeeded => Obligation::IfNeeded,
            },
            choice,
            licences,
            note: raw.note,
            free_trade_zone_filing_suffices: raw.free_trade_zone_filing_suffices,
        });
    }
    Ok(Industry {
        category,
        name: raw.name,
        requirements,
        members,
        licence_types: Arc::clone(licence_types),
    })
}

impl Industry {
    /// Whether the licence types a permit lists (granted or listed as not yet licensed, 未许可事项:
    /// the caller does not distinguish) fit this industry:
    /// - no type is listed twice, and every listed type belongs to a requirement of this industry
    ///   (checked first, in the order `present` lists them);
    /// - then, requirement by requirement in catalogue order: a mandatory single type is listed;
    ///   of a mandatory "at least one of" set, one or more are listed; of two alternatives, a
    ///   mandatory pair has exactly one listed and an as-needed pair at most one.
    ///
    /// Runs for every event applied: no allocation unless it returns an error.
    ///
    /// # Errors
    /// The first problem found, naming the licence types and the category.
    pub fn check_coverage(&self, present: &[LicenceTypeId]) -> Result<(), CoverageError> {
        let mut listed = 0u128;
        for &id in present {
            let Some(bit) = id.bit().filter(|bit| self.members & bit != 0) else {
                return Err(CoverageError::NotInIndustry {
                    licence: self.licence_ref(id),
                    category: self.category,
                });
            };
            if listed & bit != 0 {
                return Err(CoverageError::Duplicate {
                    licence: self.licence_ref(id),
                });
            }
            listed |= bit;
        }
        for requirement in &self.requirements {
            let is_listed = |id: &LicenceTypeId| id.bit().is_some_and(|bit| listed & bit != 0);
            let count = requirement
                .licences
                .iter()
                .filter(|id| is_listed(id))
                .count();
            let category = self.category;
            match (requirement.obligation, requirement.choice, count) {
                (Obligation::Must, Choice::Single, 0) => {
                    let licence = self.licence_ref(requirement.licences[0]);
                    return Err(CoverageError::Missing { licence, category });
                }
                (Obligation::Must, Choice::AtLeastOne, 0) => {
                    let licences = requirement.licences.iter().map(|&id| self.licence_ref(id));
                    return Err(CoverageError::NoneOf {
                        licences: licences.collect(),
                        category,
                    });
                }
                (Obligation::Must, Choice::ExactlyOne, 0) => {
                    let (a, b) = self.alternatives(requirement);
                    return Err(CoverageError::NeitherAlternative { a, b, category });
                }
                (_, Choice::ExactlyOne, 2..) => {
                    let (a, b) = self.alternatives(requirement);
                    return Err(CoverageError::BothAlternatives { a, b, category });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether a requirement of this industry lists `id`.
    pub fn involves(&self, id: LicenceTypeId) -> bool {
        id.bit().is_some_and(|bit| self.members & bit != 0)
    }

    /// The requirement that lists `id`, if any (validation allows at most one).
    pub fn requirement_for(&self, id: LicenceTypeId) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.licences.contains(&id))
    }

    /// The licence types a permit of this industry must list, whatever else it lists: every
    /// mandatory single requirement (alternatives and "at least one of" sets leave a choice).
    pub fn mandatory_licences(&self) -> impl Iterator<Item = LicenceTypeId> + '_ {
        self.requirements
            .iter()
            .filter(|r| r.obligation == Obligation::Must && r.choice == Choice::Single)
            .map(|r| r.licences[0])
    }

    fn alternatives(&self, requirement: &Requirement) -> (LicenceRef, LicenceRef) {
        // Validation: an ExactlyOne requirement lists exactly two types.
        (
            self.licence_ref(requirement.licences[0]),
            self.licence_ref(requirement.licences[1]),
        )
    }

    fn licence_ref(&self, id: LicenceTypeId) -> LicenceRef {
        let name = usize::from(id.0)
            .checked_sub(1)
            .and_then(|index| self.licence_types.get(index))
            .map(|t| t.name.clone())
            .unwrap_or_default();
        LicenceRef {
            code: id.code(),
            name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::embedded().expect("the embedded catalogue loads")
    }

    fn id(code: &str) -> LicenceTypeId {
        LicenceTypeId::from_code(code).unwrap_or_else(|| panic!("{code} is a licence code"))
    }

    /// The catalogue with one exact substring of the embedded text replaced (it must occur).
    fn edited(from: &str, to: &str) -> Result<Catalog, CatalogError> {
        let at = EMBEDDED_TOML
            .find(from)
            .expect("the embedded text contains the edited text");
        let line_start = EMBEDDED_TOML[..at].rfind('\n').map_or(0, |i| i + 1);
        let in_comment = EMBEDDED_TOML[line_start..at].contains('#');
        assert!(!in_comment, "{from:?} is first found in a comment");
        Catalog::from_toml_str(&EMBEDDED_TOML.replacen(from, to, 1))
    }

    /// The embedded text with the `[[industry]]` table of `category` removed.
    fn without_industry(category: &str) -> String {
        let start = EMBEDDED_TOML
            .find(&format!("[[industry]]\ncategory = \"{category}\""))
            .expect("industry table present");
        let end = EMBEDDED_TOML[start + 1..]
            .find("[[industry]]")
            .map_or(EMBEDDED_TOML.len(), |offset| start + 1 + offset);
        format!("{}{}", &EMBEDDED_TOML[..start], &EMBEDDED_TOML[end..])
    }

    #[test]
    fn embedded_catalogue_loads_with_40_industries_and_35_licence_types() {
        // Proves the shipped data passes validation and has the table's shape.
        let catalog = catalog();
        assert_eq!(catalog.industries().len(), 40);
        assert_eq!(catalog.licence_types().len(), 35);
        for (index, industry) in catalog.industries().iter().enumerate() {
            assert_eq!(usize::from(industry.category), index + 1);
            assert!(!industry.requirements.is_empty());
        }
        for (index, licence) in catalog.licence_types().iter().enumerate() {
            assert_eq!(usize::from(licence.id.0), index + 1);
            assert_eq!(licence.code, format!("L{:02}", index + 1));
        }
    }

    #[test]
    fn lookups_by_id_code_and_category() {
        // Proves the O(1) lookups agree with the data and refuse what does not exist.
        let catalog = catalog();
        for licence in catalog.licence_types() {
            assert_eq!(
                catalog.licence_type(licence.id).map(|t| &t.code),
                Some(&licence.code)
            );
            assert_eq!(
                catalog.licence_type_by_code(&licence.code).map(|t| t.id),
                Some(licence.id)
            );
        }
        assert!(catalog.licence_type(LicenceTypeId(0)).is_none());
        assert!(catalog.licence_type(LicenceTypeId(36)).is_none());
        for code in ["L00", "L36", "L5", "L005", "l05", "05", "", "L0x"] {
            assert!(catalog.licence_type_by_code(code).is_none(), "{code:?}");
        }
        assert_eq!(catalog.industry(3).map(|i| i.name.as_str()), Some("餐饮店"));
        assert_eq!(catalog.industry_by_code("03").map(|i| i.category), Some(3));
        assert_eq!(
            catalog.industry_by_code("40").map(|i| i.name.as_str()),
            Some("商贸公司")
        );
        for code in ["3", "003", "00", "41", "99", "", "0a"] {
            assert!(catalog.industry_by_code(code).is_none(), "{code:?}");
        }
        assert!(catalog.industry(0).is_none());
        assert!(catalog.industry(41).is_none());
    }

    /// The requirement of `category` that lists licence `code`.
    fn requirement(catalog: &Catalog, category: u8, code: &str) -> Requirement {
        let industry = catalog.industry(category).expect("industry");
        industry
            .requirement_for(id(code))
            .cloned()
            .unwrap_or_else(|| panic!("industry {category:02} lists {code}"))
    }

    fn licence<'c>(catalog: &'c Catalog, code: &str) -> &'c LicenceType {
        catalog.licence_type_by_code(code).expect("licence type")
    }

    #[test]
    fn restaurant_requires_food_licence_or_small_scale_food_licence() {
        // Proves 03 餐饮店: one of 食品经营许可证 / 北京市小规模食品生产经营许可证 is mandatory.
        let catalog = catalog();
        assert_eq!(licence(&catalog, "L05").name, "食品经营许可证");
        assert_eq!(
            licence(&catalog, "L06").name,
            "北京市小规模食品生产经营许可证"
        );
        let food = requirement(&catalog, 3, "L05");
        assert_eq!(
            (food.obligation, food.choice),
            (Obligation::Must, Choice::ExactlyOne)
        );
        assert_eq!(food.licences, [id("L05"), id("L06")]);
        assert_eq!(catalog.industry(3).expect("03").name, "餐饮店");
    }

    #[test]
    fn hotel_requires_special_trade_and_fire_safety_licences() {
        // Proves 11 宾馆: 特种行业许可证 (房山公安分局) and the fire-safety opinion (房山消防支队) are mandatory.
        let catalog = catalog();
        let hotel = catalog.industry(11).expect("11");
        assert_eq!(hotel.name, "宾馆");
        for (code, name, department) in [
            ("L17", "特种行业许可证", "房山公安分局"),
            (
                "L18",
                "公众聚集场所投入使用、营业前消防安全检查意见书",
                "房山消防支队",
            ),
            ("L10", "卫生许可证", "区卫生健康委"),
        ] {
            let licence = licence(&catalog, code);
            assert_eq!(
                (licence.name.as_str(), licence.department.as_str()),
                (name, department)
            );
            let r = requirement(&catalog, 11, code);
            assert_eq!(
                (r.obligation, r.choice),
                (Obligation::Must, Choice::Single),
                "{code}"
            );
        }
        assert_eq!(
            hotel.mandatory_licences().collect::<Vec<_>>(),
            [id("L17"), id("L10"), id("L18")]
        );
    }

    #[test]
    fn cinema_requires_film_screening_licence() {
        // Proves 12 电影院: 电影放映经营许可证 is mandatory.
        let catalog = catalog();
        assert_eq!(catalog.industry(12).expect("12").name, "电影院");
        assert_eq!(licence(&catalog, "L19").name, "电影放映经营许可证");
        let r = requirement(&catalog, 12, "L19");
        assert_eq!((r.obligation, r.choice), (Obligation::Must, Choice::Single));
    }

    #[test]
    fn medical_device_dealer_needs_at_least_one_of_two() {
        // Proves 01 医疗器械经销商: 必须办理，至少一项 over the class-II filing and the device licence.
        let catalog = catalog();
        let r = requirement(&catalog, 1, "L01");
        assert_eq!(
            (r.obligation, r.choice),
            (Obligation::Must, Choice::AtLeastOne)
        );
        assert_eq!(r.licences, [id("L01"), id("L02")]);
        let radiation = requirement(&catalog, 1, "L03");
        assert_eq!(radiation.obligation, Obligation::IfNeeded);
    }

    #[test]
    fn free_trade_zone_note_on_the_hygiene_licence() {
        // Proves 07 and 35 carry 如位于自由贸易试验区，取得备案凭证即可 on 卫生许可证, and nothing else does.
        let catalog = catalog();
        let note = Some("如位于自由贸易试验区，取得备案凭证即可".to_string());
        let internet_hospital = requirement(&catalog, 7, "L10");
        assert!(internet_hospital.free_trade_zone_filing_suffices);
        assert_eq!(internet_hospital.note, note);
        assert_eq!(internet_hospital.obligation, Obligation::IfNeeded);
        let art_gallery = requirement(&catalog, 35, "L10");
        assert!(art_gallery.free_trade_zone_filing_suffices);
        assert_eq!(art_gallery.obligation, Obligation::Must);
        let flagged: Vec<u8> = catalog
            .industries()
            .iter()
            .filter(|i| {
                i.requirements
                    .iter()
                    .any(|r| r.free_trade_zone_filing_suffices)
            })
            .map(|i| i.category)
            .collect();
        assert_eq!(flagged, [7, 35]);
    }

    #[test]
    fn approval_levels_follow_the_footnote() {
        // Proves 互联网药品信息服务资格证书 is City, 取水许可证 CityOrDistrict, every other District.
        let catalog = catalog();
        let internet_drugs = licence(&catalog, "L14");
        assert_eq!(internet_drugs.name, "互联网药品信息服务资格证书");
        assert_eq!(
            (internet_drugs.department.as_str(), internet_drugs.level),
            ("市药监局", ApprovalLevel::City)
        );
        let water = licence(&catalog, "L28");
        assert_eq!(water.name, "取水许可证");
        assert_eq!(
            (water.department.as_str(), water.level),
            ("市、区水务局", ApprovalLevel::CityOrDistrict)
        );
        let above_district: Vec<&str> = catalog
            .licence_types()
            .iter()
            .filter(|t| t.level != ApprovalLevel::District)
            .map(|t| t.code.as_str())
            .collect();
        assert_eq!(above_district, ["L14", "L28"]);
    }

    #[test]
    fn every_licence_type_of_the_source_is_in_the_catalogue() {
        // Proves the 35 licence names of 附件2 (names as printed, 《》 removed) are all present, once.
        let source = [
            "第二类医疗器械经营备案凭证",
            "医疗器械经营许可证",
            "辐射安全许可证",
            "药品经营许可证",
            "食品经营许可证",
            "北京市小规模食品生产经营许可证",
            "烟草专卖零售许可证",
            "城镇污水排入排水管网许可证",
            "高危险性体育项目经营许可证",
            "卫生许可证",
            "出版物经营许可证",
            "出版物出租企业备案回执",
            "医疗机构执业许可证",
            "互联网药品信息服务资格证书",
            "医疗器械网络销售备案公示",
            "动物诊疗许可证",
            "特种行业许可证",
            "公众聚集场所投入使用、营业前消防安全检查意见书",
            "电影放映经营许可证",
            "娱乐经营许可证",
            "网络文化经营许可证",
            "人力资源服务许可证",
            "劳务派遣经营许可证",
            "营业性演出场所经营单位备案证明",
            "北京市出版物发行分支机构备案证明",
            "清真食品生产、加工、经营场所登记许可决定书",
            "北京小食杂店备案卡",
            "取水许可证",
            "诊所备案凭证",
            "北京交通运输准予备案通知书",
            "艺术品经营单位备案证明",
            "民办学校办学许可证",
            "道路运输经营许可证",
            "道路运输证",
            "北京交通运输行政许可决定书",
        ];
        let catalog = catalog();
        let names: Vec<&str> = catalog
            .licence_types()
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, source);
    }

    #[test]
    fn more_domain_facts_from_the_table() {
        // Proves a sample of row judgements from NOTES.md: (category, code, obligation, choice).
        let catalog = catalog();
        use Choice::*;
        use Obligation::*;
        for (category, code, obligation, choice) in [
            (2, "L04", Must, Single),     // 药店: 药品经营许可证
            (2, "L05", IfNeeded, Single), // 药店: plain 食品经营许可证, as needed
            (6, "L11", Must, Single),     // 书店: 出版物经营许可证
            (6, "L05", IfNeeded, ExactlyOne),
            (10, "L16", Must, Single), // 宠物医院: 动物诊疗许可证
            (13, "L20", Must, Single), // KTV: 娱乐经营许可证
            (15, "L18", Must, Single), // 网咖: the fire-safety opinion
            (17, "L09", Must, Single), // 游泳馆: 高危险性体育项目经营许可证
            (19, "L05", IfNeeded, ExactlyOne),
            (22, "L24", Must, Single), // 剧场: 营业性演出场所经营单位备案证明
            (22, "L18", IfNeeded, Single), // 剧场: the fire-safety opinion is 按需办理 here
            (24, "L13", Must, Single), // 中医馆: 医疗机构执业许可证
            (28, "L26", Must, Single), // 清真餐厅: 清真…登记许可决定书
            (30, "L28", IfNeeded, Single), // 干洗店: 取水许可证
            (32, "L08", Must, Single), // 口腔诊所: 污水排入许可 is mandatory
            (38, "L30", Must, Single), // 道路客运: 准予备案通知书 is mandatory
            (37, "L30", IfNeeded, Single), // 道路货运: … as needed
            (40, "L26", IfNeeded, Single), // 商贸公司
        ] {
            let r = requirement(&catalog, category, code);
            assert_eq!(
                (r.obligation, r.choice),
                (obligation, choice),
                "{category:02} {code}"
            );
        }
        // 31 饮品店 prints 城镇污水排入排水管网许可证 twice: it is one requirement.
        let drinks = catalog.industry(31).expect("31");
        assert_eq!(
            drinks
                .requirements
                .iter()
                .filter(|r| r.licences.contains(&id("L08")))
                .count(),
            1
        );
    }

    /// Renders a coverage result as `ok` or `<kind> <codes…>`, the form the table below expects.
    fn render(result: &Result<(), CoverageError>) -> String {
        let codes = |licences: &[&LicenceRef]| {
            licences
                .iter()
                .map(|l| l.code.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        match result {
            Ok(()) => "ok".to_string(),
            Err(error) => {
                let licences: Vec<&LicenceRef> = match error {
                    CoverageError::Duplicate { licence }
                    | CoverageError::NotInIndustry { licence, .. }
                    | CoverageError::Missing { licence, .. } => vec![licence],
                    CoverageError::NoneOf { licences, .. } => licences.iter().collect(),
                    CoverageError::NeitherAlternative { a, b, .. }
                    | CoverageError::BothAlternatives { a, b, .. } => vec![a, b],
                };
                format!("{} {}", error.kind(), codes(&licences))
            }
        }
    }

    #[track_caller]
    fn check(category: u8, present: &[&str], expect: &str) {
        let catalog = catalog();
        let industry = catalog.industry(category).expect("industry");
        let present: Vec<LicenceTypeId> = present.iter().map(|code| id(code)).collect();
        let got = render(&industry.check_coverage(&present));
        assert_eq!(got, expect, "category {category:02}, present {present:?}");
    }

    #[test]
    fn coverage_rules() {
        // Proves each coverage rule on rows of the real catalogue, ok and every error kind.
        // 03 餐饮店: food or small-scale food licence, one of them.
        check(3, &["L05"], "ok");
        check(3, &["L06", "L07", "L08"], "ok");
        check(3, &[], "neither_alternative L05 L06");
        check(3, &["L07"], "neither_alternative L05 L06");
        check(3, &["L05", "L06"], "both_alternatives L05 L06");
        check(3, &["L19"], "not_in_industry L19");
        check(3, &["L05", "L05"], "duplicate L05");
        // 01 医疗器械经销商: at least one of L01, L02.
        check(1, &["L01"], "ok");
        check(1, &["L02"], "ok");
        check(1, &["L01", "L02", "L03"], "ok");
        check(1, &["L03"], "none_of L01 L02");
        check(1, &[], "none_of L01 L02");
        // 11 宾馆: three mandatory singles, an as-needed pair of alternatives.
        check(11, &["L17", "L10", "L18"], "ok");
        check(11, &["L18", "L10", "L17", "L06", "L08"], "ok");
        check(11, &["L10", "L18"], "missing L17");
        check(11, &["L17", "L18"], "missing L10");
        check(11, &["L17", "L10"], "missing L18");
        check(
            11,
            &["L17", "L10", "L18", "L05", "L06"],
            "both_alternatives L05 L06",
        );
        // 12 电影院 and 13 KTV differ by one licence.
        check(12, &["L19", "L10", "L18"], "ok");
        check(12, &["L20", "L10", "L18"], "not_in_industry L20");
        check(13, &["L20", "L10", "L18", "L05"], "ok");
        check(13, &["L10", "L18"], "missing L20");
        // 04 健身房: only as-needed licences, so any subset fits.
        check(4, &[], "ok");
        check(4, &["L09", "L05", "L10"], "ok");
        check(4, &["L06"], "not_in_industry L06");
        // 06 书店: mandatory single plus an as-needed pair.
        check(6, &["L11"], "ok");
        check(6, &["L11", "L06"], "ok");
        check(6, &["L05", "L06", "L11"], "both_alternatives L05 L06");
        check(6, &["L05"], "missing L11");
        // 28 清真餐厅: two mandatory requirements; the first unmet one is reported.
        check(28, &["L26", "L06"], "ok");
        check(28, &[], "missing L26");
        check(28, &["L26"], "neither_alternative L05 L06");
        // 35 书画艺术馆: the free-trade-zone note does not change coverage.
        check(35, &["L31", "L10"], "ok");
        check(35, &["L31"], "missing L10");
        // Structural problems come first, in the order the permit lists them.
        check(11, &["L99"], "not_in_industry L99");
        check(11, &["L17", "L17", "L35"], "duplicate L17");
        check(11, &["L35", "L17", "L17"], "not_in_industry L35");
        check(38, &["L33", "L34", "L30", "L35"], "ok");
        check(38, &["L33", "L34", "L35"], "missing L30");
    }

    #[test]
    fn coverage_of_ids_no_code_can_spell() {
        // Proves ids 0 and ≥ 100 are rejected as foreign to the industry, not mistaken for bits.
        let catalog = catalog();
        let hotel = catalog.industry(11).expect("11");
        for raw in [0, 100, 127, 128, 129, u16::MAX] {
            let error = hotel
                .check_coverage(&[LicenceTypeId(raw)])
                .expect_err("foreign id");
            assert_eq!(error.kind(), "not_in_industry", "{raw}");
        }
    }

    #[test]
    fn every_industry_accepts_its_minimal_permit() {
        // Proves each industry's mandatory set, with the first of each choice, is coverage-complete.
        let catalog = catalog();
        for industry in catalog.industries() {
            let present: Vec<LicenceTypeId> = industry
                .requirements
                .iter()
                .filter(|r| r.obligation == Obligation::Must)
                .map(|r| r.licences[0])
                .collect();
            assert_eq!(
                industry.check_coverage(&present),
                Ok(()),
                "{:02}",
                industry.category
            );
            for licence in &present {
                let fewer: Vec<LicenceTypeId> =
                    present.iter().copied().filter(|l| l != licence).collect();
                assert!(
                    industry.check_coverage(&fewer).is_err(),
                    "{:02} without {licence}",
                    industry.category
                );
            }
        }
    }

    #[test]
    fn coverage_messages_name_codes_and_chinese_names() {
        // Proves the English messages carry the codes and the Chinese names of the licences.
        let catalog = catalog();
        let restaurant = catalog.industry(3).expect("03");
        let error = restaurant.check_coverage(&[]).expect_err("no food licence");
        assert_eq!(
            error.to_string(),
            "category 03 requires L05 食品经营许可证 or L06 北京市小规模食品生产经营许可证, and the permit lists neither"
        );
        let dealer = catalog.industry(1).expect("01");
        let error = dealer.check_coverage(&[]).expect_err("no device licence");
        assert_eq!(
            error.to_string(),
            "category 01 requires at least one of L01 第二类医疗器械经营备案凭证, L02 医疗器械经营许可证, and the permit lists none"
        );
        let error = restaurant
            .check_coverage(&[LicenceTypeId(99)])
            .expect_err("foreign");
        assert_eq!(
            error.to_string(),
            "L99 is not among the licence types of category 03"
        );
        let hotel = catalog.industry(11).expect("11");
        let error = hotel
            .check_coverage(&[id("L10"), id("L18")])
            .expect_err("missing");
        assert_eq!(
            error.to_string(),
            "category 11 requires L17 特种行业许可证, which the permit does not list"
        );
    }

    #[test]
    fn serialises_for_the_industries_endpoint() {
        // Proves the JSON shape: codes as "Lnn", category as "03", snake_case enum names.
        let catalog = catalog();
        let json = serde_json::to_value(catalog.industry(7).expect("07")).expect("serialise");
        assert_eq!(json["category"], "07");
        assert_eq!(json["name"], "互联网医院");
        assert_eq!(json["requirements"][0]["obligation"], "must");
        assert_eq!(json["requirements"][0]["choice"], "single");
        assert_eq!(
            json["requirements"][0]["licences"],
            serde_json::json!(["L13"])
        );
        assert_eq!(json["requirements"][1]["obligation"], "if_needed");
        assert_eq!(
            json["requirements"][1]["free_trade_zone_filing_suffices"],
            true
        );
        assert_eq!(
            json["requirements"][1]["note"],
            "如位于自由贸易试验区，取得备案凭证即可"
        );
        assert_eq!(json.as_object().map(|o| o.len()), Some(3));
        let json = serde_json::to_value(catalog.industry(1).expect("01")).expect("serialise");
        assert_eq!(json["requirements"][0]["choice"], "at_least_one");
        let json = serde_json::to_value(catalog.industry(3).expect("03")).expect("serialise");
        assert_eq!(json["requirements"][0]["choice"], "exactly_one");
        let json = serde_json::to_value(licence(&catalog, "L28")).expect("serialise");
        assert_eq!(
            json,
            serde_json::json!({
                "code": "L28", "name": "取水许可证", "department": "市、区水务局", "level": "city_or_district"
            })
        );
        assert_eq!(
            serde_json::to_value(licence(&catalog, "L14").level).expect("ok"),
            "city"
        );
        assert_eq!(
            serde_json::to_value(ApprovalLevel::District).expect("ok"),
            "district"
        );
        assert_eq!(serde_json::to_value(LicenceTypeId(7)).expect("ok"), "L07");
    }

    #[test]
    fn licence_codes_parse_and_print() {
        // Proves `Lnn` ↔ id round-trips and malformed codes are refused.
        for raw in 1..=LICENCE_TYPE_ID_MAX {
            let code = LicenceTypeId(raw).code();
            assert_eq!(LicenceTypeId::from_code(&code), Some(LicenceTypeId(raw)));
        }
        assert_eq!(LicenceTypeId(7).to_string(), "L07");
        for code in ["L00", "L7", "L100", "l07", "07", "L0７", "L+7", "", "L"] {
            assert_eq!(LicenceTypeId::from_code(code), None, "{code:?}");
        }
    }

    #[track_caller]
    fn rejected(result: Result<Catalog, CatalogError>, expect: CatalogError) {
        match result {
            Ok(_) => panic!("accepted, expected {expect}"),
            Err(error) => assert_eq!(error, expect),
        }
    }

    fn s(text: &str) -> String {
        text.to_string()
    }

    #[test]
    fn invalid_licence_types_are_rejected() {
        // Proves each licence-type rule: code form, order, duplicates, names, departments, usage.
        use CatalogError::*;
        rejected(
            edited("code = \"L03\"", "code = \"L3\""),
            LicenceCode {
                position: 3,
                code: s("L3"),
            },
        );
        rejected(
            edited("code = \"L03\"", "code = \"L04\""),
            LicenceOrder {
                position: 3,
                expected: s("L03"),
                got: s("L04"),
            },
        );
        rejected(
            edited("code = \"L03\"", "code = \"L02\""),
            DuplicateLicenceCode { code: s("L02") },
        );
        rejected(
            edited("name = \"辐射安全许可证\"", "name = \"\""),
            LicenceField {
                code: s("L03"),
                field: "name",
            },
        );
        rejected(
            edited("name = \"辐射安全许可证\"", "name = \"《辐射安全许可证》\""),
            LicenceField {
                code: s("L03"),
                field: "name",
            },
        );
        rejected(
            edited("name = \"辐射安全许可证\"", "name = \" 辐射安全许可证\""),
            LicenceField {
                code: s("L03"),
                field: "name",
            },
        );
        rejected(
            edited("department = \"区生态环境局\"", "department = \"\""),
            LicenceField {
                code: s("L03"),
                field: "department",
            },
        );
        rejected(
            edited("name = \"辐射安全许可证\"", "name = \"医疗器械经营许可证\""),
            DuplicateLicenceName {
                name: s("医疗器械经营许可证"),
                first: s("L02"),
                second: s("L03"),
            },
        );
        let extra = "  { code = \"L36\", name = \"新许可证\", department = \"区市场监管局\", level = \"district\" },\n]";
        rejected(
            edited(
                "level = \"district\" },\n]",
                &format!("level = \"district\" }},\n{extra}"),
            ),
            UnusedLicence { code: s("L36") },
        );
    }

    #[test]
    fn unused_licence_type_is_rejected() {
        // Proves a licence type that no requirement mentions is refused, by code.
        let text = EMBEDDED_TOML.replacen(
            "{ obligation = \"if_needed\", licences = [\"L12\"] },  # 出版物出租企业备案回执\n",
            "",
            1,
        );
        assert_ne!(text, EMBEDDED_TOML);
        rejected(
            Catalog::from_toml_str(&text),
            CatalogError::UnusedLicence { code: s("L12") },
        );
    }

    #[test]
    fn invalid_industries_are_rejected() {
        // Proves each industry rule: category form, order, duplicates, count, names, requirements.
        use CatalogError::*;
        rejected(
            edited("category = \"05\"", "category = \"5\""),
            CategoryCode {
                position: 5,
                text: s("5"),
            },
        );
        rejected(
            edited("category = \"05\"", "category = \"41\""),
            CategoryCode {
                position: 5,
                text: s("41"),
            },
        );
        rejected(
            edited("category = \"05\"", "category = \"00\""),
            CategoryCode {
                position: 5,
                text: s("00"),
            },
        );
        rejected(
            edited("category = \"05\"", "category = \"04\""),
            DuplicateCategory { category: 4 },
        );
        rejected(
            edited("category = \"05\"", "category = \"06\""),
            CategoryOrder {
                position: 5,
                expected: 5,
                got: 6,
            },
        );
        rejected(
            Catalog::from_toml_str(&without_industry("40")),
            IndustryCount { got: 39 },
        );
        let text = without_industry("05");
        rejected(
            Catalog::from_toml_str(&text),
            CategoryOrder {
                position: 5,
                expected: 5,
                got: 6,
            },
        );
        rejected(
            edited("name = \"宾馆\"", "name = \"\""),
            IndustryName { category: 11 },
        );
        rejected(
            edited("name = \"宾馆\"", "name = \"宾馆 \""),
            IndustryName { category: 11 },
        );
        let restaurant = EMBEDDED_TOML
            .split("[[industry]]")
            .find(|table| table.contains("category = \"03\""))
            .expect("03");
        let (head, _) = restaurant
            .split_once("requirements = [")
            .expect("requirements");
        rejected(
            edited(restaurant, &format!("{head}requirements = []\n\n")),
            NoRequirements { category: 3 },
        );
    }

    #[test]
    fn invalid_requirements_are_rejected() {
        // Proves each requirement rule: known codes, licence counts per kind, no repeats, notes.
        use CatalogError::*;
        let radiation = "{ obligation = \"if_needed\", licences = [\"L03\"] },  # 辐射安全许可证";
        rejected(
            edited("licences = [\"L03\"]", "licences = [\"L36\"]"),
            UnknownLicence {
                category: 1,
                code: s("L36"),
            },
        );
        rejected(
            edited("licences = [\"L03\"]", "licences = [\"辐射\"]"),
            UnknownLicence {
                category: 1,
                code: s("辐射"),
            },
        );
        rejected(
            edited("licences = [\"L03\"]", "licences = [\"L03\", \"L04\"]"),
            LicenceCount {
                category: 1,
                choice: Choice::Single,
                count: 2,
            },
        );
        rejected(
            edited("licences = [\"L03\"]", "licences = []"),
            LicenceCount {
                category: 1,
                choice: Choice::Single,
                count: 0,
            },
        );
        rejected(
            edited("licences = [\"L01\", \"L02\"]", "licences = [\"L01\"]"),
            LicenceCount {
                category: 1,
                choice: Choice::AtLeastOne,
                count: 1,
            },
        );
        let pair = "choice = \"exactly_one\", licences = [\"L05\", \"L06\"] },  # 食品经营许可证 / 北京市小规模食品生产经营许可证\n  { obligation = \"if_needed\", licences = [\"L07\"] }";
        rejected(
            edited(
                pair,
                "choice = \"exactly_one\", licences = [\"L05\", \"L06\", \"L07\"] }",
            ),
            LicenceCount {
                category: 3,
                choice: Choice::ExactlyOne,
                count: 3,
            },
        );
        rejected(
            edited("licences = [\"L03\"]", "licences = [\"L01\"]"),
            RepeatedLicence {
                category: 1,
                code: s("L01"),
            },
        );
        rejected(
            edited(radiation, &format!("{radiation}\n  {radiation}")),
            RepeatedLicence {
                category: 1,
                code: s("L03"),
            },
        );
        rejected(
            edited(
                "licences = [\"L10\"], note = \"如位于自由贸易试验区，取得备案凭证即可\", ",
                "licences = [\"L10\"], ",
            ),
            NoteMissing {
                category: 7,
                code: s("L10"),
            },
        );
        rejected(
            edited(
                "note = \"如位于自由贸易试验区，取得备案凭证即可\"",
                "note = \"\"",
            ),
            EmptyNote {
                category: 7,
                code: s("L10"),
            },
        );
    }

    #[test]
    fn malformed_toml_is_rejected() {
        // Proves syntax errors, unknown fields and unknown enum names are refused as TOML errors.
        let cases = [
            EMBEDDED_TOML.replacen("\n[[industry]]\n", "\n[[industry]\n", 1),
            EMBEDDED_TOML.replacen("level = \"city\"", "level = \"province\"", 1),
            EMBEDDED_TOML.replacen("{ obligation = \"must\"", "{ obligation = \"required\"", 1),
            EMBEDDED_TOML.replacen("choice = \"at_least_one\"", "choice = \"any\"", 1),
            EMBEDDED_TOML.replacen("name = \"宾馆\"", "name = \"宾馆\"\nalias = \"hotel\"", 1),
            EMBEDDED_TOML.replacen(
                ", free_trade_zone_filing_suffices = ",
                ", free_trade_zone = ",
                1,
            ),
            EMBEDDED_TOML.replacen("category = \"01\"", "category = 1", 1),
            String::new(),
            s("licence_types = []"),
        ];
        for (index, text) in cases.iter().enumerate() {
            assert_ne!(text.as_str(), EMBEDDED_TOML, "case {index} edits the text");
            let result = Catalog::from_toml_str(text);
            assert!(
                matches!(result, Err(CatalogError::Toml(_))),
                "case {index}: {:?}",
                result.as_ref().err()
            );
        }
    }

    #[test]
    fn small_inline_catalogue_reports_count() {
        // Proves a well-formed document that is too small is refused for its size, not accepted.
        let text = r#"
            licence_types = [{ code = "L01", name = "卫生许可证", department = "区卫生健康委", level = "district" }]
            [[industry]]
            category = "01"
            name = "美容美发店"
            requirements = [{ obligation = "must", licences = ["L01"] }]
        "#;
        rejected(
            Catalog::from_toml_str(text),
            CatalogError::IndustryCount { got: 1 },
        );
        rejected(
            Catalog::from_toml_str("licence_types = []\nindustry = []"),
            CatalogError::IndustryCount { got: 0 },
        );
    }
}
