//! What a network-booting machine hands us, parsed once at the door: its boot token, its
//! MAC address and its SMBIOS UUID. Anything that does not parse is dropped (a client's word
//! is never trusted), and what is stored is in one canonical spelling.

use std::{fmt, str::FromStr};

use sha2::{Digest, Sha256};

/// A value a client sent that is not of the expected shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(&'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a well-formed {}", self.0)
    }
}

impl std::error::Error for Malformed {}

/// The secret of a boot session: 20 random bytes as 40 lower-case hex digits, carried in
/// every URL after the sign-in. Only its SHA-256 is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct BootToken(String);

impl BootToken {
    /// A new random token.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 20];
        rand::fill(&mut bytes);
        Self(hex::encode(bytes))
    }

    /// A token of the shape we issue (any case), or `None` before the database is asked.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(text.to_ascii_lowercase()))
    }

    /// What the database keeps: the token's SHA-256, hex.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// The token, for a URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Never printed whole: a token in a log line would be a session for whoever reads it.
impl fmt::Debug for BootToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BootToken(…)")
    }
}

/// A link-layer address of 6 (Ethernet) or 8 (EUI-64) octets, written as iPXE's
/// `${mac:hexhyp}` writes it: lower-case hex pairs joined by `-`. Colons, upper case and bare
/// hex digits parse too.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MacAddr(String);

impl FromStr for MacAddr {
    type Err = Malformed;

    fn from_str(text: &str) -> Result<Self, Malformed> {
        let malformed = Malformed("MAC address");
        let text = text.trim();
        let digits: String = if text.contains(['-', ':']) {
            let parts: Vec<&str> = text.split(['-', ':']).collect();
            if parts.iter().any(|p| p.len() != 2) {
                return Err(malformed);
            }
            parts.concat()
        } else {
            text.to_owned()
        };
        if !matches!(digits.len(), 12 | 16) || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed);
        }
        let pairs: Vec<&str> = (0..digits.len())
            .step_by(2)
            .map(|i| &digits[i..i + 2])
            .collect();
        Ok(Self(pairs.join("-").to_ascii_lowercase()))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A machine's SMBIOS UUID in its 8-4-4-4-12 form, lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientUuid(String);

impl FromStr for ClientUuid {
    type Err = Malformed;

    fn from_str(text: &str) -> Result<Self, Malformed> {
        let text = text.trim();
        let groups: Vec<&str> = text.split('-').collect();
        let shaped = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && groups
                .iter()
                .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()));
        shaped
            .then(|| Self(text.to_ascii_lowercase()))
            .ok_or(Malformed("UUID"))
    }
}

impl fmt::Display for ClientUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_our_shape_parse_in_any_case_and_nothing_else_does() {
        let token = BootToken::generate();
        assert_eq!(token.as_str().len(), 40);
        let upper = token.as_str().to_ascii_uppercase();
        assert_eq!(BootToken::parse(&upper), Some(token.clone()));
        assert_eq!(BootToken::parse(&upper).unwrap().hash(), token.hash());
        for bad in [
            "",
            "abc",
            &"g".repeat(40),
            &"a".repeat(41),
            "../../etc/passwd",
        ] {
            assert_eq!(BootToken::parse(bad), None, "{bad:?}");
        }
        assert!(!format!("{token:?}").contains(token.as_str()));
    }

    #[test]
    fn mac_addresses_are_kept_in_one_spelling() {
        for text in [
            "52-54-00-12-34-56",
            "52:54:00:12:34:56",
            "525400123456",
            " 52-54-00-12-34-56 ",
        ] {
            assert_eq!(
                text.parse::<MacAddr>().unwrap().to_string(),
                "52-54-00-12-34-56",
                "{text:?}"
            );
        }
        assert_eq!(
            "02:00:00:00:00:00:00:0A"
                .parse::<MacAddr>()
                .unwrap()
                .to_string(),
            "02-00-00-00-00-00-00-0a"
        );
        for bad in [
            "",
            "52-54-00-12-34",
            "52-54-00-12-34-5g",
            "5-254-00-12-34-56",
            "x",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn uuids_are_8_4_4_4_12_hex() {
        let uuid = "8C2E1A4B-0000-4F00-A000-0123456789AB"
            .parse::<ClientUuid>()
            .unwrap();
        assert_eq!(uuid.to_string(), "8c2e1a4b-0000-4f00-a000-0123456789ab");
        for bad in [
            "",
            "8c2e1a4b00004f00a0000123456789ab",
            "8c2e1a4b-0000-4f00-a000-0123456789ag",
        ] {
            assert!(bad.parse::<ClientUuid>().is_err(), "{bad:?}");
        }
    }
}
