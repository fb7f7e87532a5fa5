//! The unified social credit code. (Skeleton: being implemented.)

#[derive(Clone, Copy, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub struct Uscc {
    ascii: [u8; 18],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    #[error("todo")]
    Todo,
}

impl Uscc {
    pub fn parse(text: &str) -> Result<Uscc, UsccError> {
        let _ = text;
        todo!()
    }
    /// The code whose first 17 characters are `body`, with its check character computed.
    pub fn from_body(body: &[u8; 17]) -> Result<Uscc, UsccError> {
        let _ = body;
        todo!()
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.ascii).unwrap_or("")
    }
}

impl std::fmt::Display for Uscc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Uscc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Uscc({})", self.as_str())
    }
}

impl serde::Serialize for Uscc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Uscc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Uscc, D::Error> {
        let text: std::borrow::Cow<'de, str> = serde::Deserialize::deserialize(d)?;
        Uscc::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The GB 11714 check character for an 8-character organisation code body.
pub fn organisation_code_check(body: &[u8; 8]) -> Option<u8> {
    let _ = body;
    todo!()
}
