//! The industry catalogue (附件2 行业目录). (Skeleton: loader and data being written.)

/// Stable numeric identity of a single-licence type: `L07` has id 7. Ids never change meaning.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug, PartialEq, Eq, Clone, Copy))]
pub struct LicenceTypeId(pub u16);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalLevel {
    District,
    City,
    CityOrDistrict,
}

#[derive(Debug, Clone)]
pub struct LicenceType {
    pub id: LicenceTypeId,
    /// `L07`.
    pub code: String,
    pub name: String,
    pub department: String,
    pub level: ApprovalLevel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obligation {
    /// 必须办理
    Must,
    /// 按需办理
    IfNeeded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// One licence type.
    Single,
    /// 至少一项: one or more of the listed types.
    AtLeastOne,
    /// Either of two alternatives (食品经营许可证 / 北京市小规模食品生产经营许可证): exactly one.
    ExactlyOne,
}

#[derive(Debug, Clone)]
pub struct Requirement {
    pub obligation: Obligation,
    pub choice: Choice,
    pub licences: Vec<LicenceTypeId>,
    /// A conditional note, as the source words it.
    pub note: Option<String>,
    /// 如位于自由贸易试验区，取得备案凭证即可.
    pub free_trade_zone_filing_suffices: bool,
}

#[derive(Debug, Clone)]
pub struct Industry {
    /// 类别编码 01–40.
    pub category: u8,
    pub name: String,
    pub requirements: Vec<Requirement>,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    licence_types: Vec<LicenceType>,
    industries: Vec<Industry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("todo")]
    Todo,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoverageError {
    #[error("todo")]
    Todo,
}

impl Catalog {
    pub fn embedded() -> Result<Catalog, CatalogError> {
        todo!()
    }
    pub fn from_toml_str(text: &str) -> Result<Catalog, CatalogError> {
        let _ = text;
        todo!()
    }
    pub fn licence_types(&self) -> &[LicenceType] {
        &self.licence_types
    }
    pub fn industries(&self) -> &[Industry] {
        &self.industries
    }
    pub fn licence_type(&self, id: LicenceTypeId) -> Option<&LicenceType> {
        self.licence_types.iter().find(|t| t.id == id)
    }
    pub fn licence_type_by_code(&self, code: &str) -> Option<&LicenceType> {
        self.licence_types.iter().find(|t| t.code == code)
    }
    pub fn industry(&self, category: u8) -> Option<&Industry> {
        self.industries.iter().find(|i| i.category == category)
    }
}

impl Industry {
    pub fn check_coverage(&self, present: &[LicenceTypeId]) -> Result<(), CoverageError> {
        let _ = present;
        todo!()
    }
}
