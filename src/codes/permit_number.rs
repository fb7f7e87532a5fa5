//! The comprehensive permit number. (Skeleton: being implemented.)

/// A syntactically valid permit number: `110111ZH0300042` + check character.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub struct PermitNumber {
    ascii: [u8; 16],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermitNumberError {
    #[error("todo")]
    Todo,
}

impl PermitNumber {
    pub fn parse(text: &str) -> Result<PermitNumber, PermitNumberError> {
        let _ = text;
        todo!()
    }
    pub fn new(division: u32, category: u8, sequence: u32) -> Result<PermitNumber, PermitNumberError> {
        let _ = (division, category, sequence);
        todo!()
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.ascii).unwrap_or("")
    }
    pub fn division(&self) -> u32 { todo!() }
    pub fn category(&self) -> u8 { todo!() }
    pub fn sequence(&self) -> u32 { todo!() }
    pub fn key(&self) -> u64 { todo!() }
}

impl std::fmt::Display for PermitNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for PermitNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PermitNumber({})", self.as_str())
    }
}

impl serde::Serialize for PermitNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for PermitNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<PermitNumber, D::Error> {
        let text: std::borrow::Cow<'de, str> = serde::Deserialize::deserialize(d)?;
        PermitNumber::parse(&text).map_err(serde::de::Error::custom)
    }
}
