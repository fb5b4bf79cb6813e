//! Input types parsed the same way in the browser and on the server, so a form shows the
//! error the server would return.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest username accepted.
pub const USERNAME_MAX: usize = 64;
/// The shortest new password accepted.
pub const PASSWORD_MIN: usize = 8;
/// The longest password accepted; bounds the work of hashing one.
pub const PASSWORD_MAX: usize = 256;
/// The longest email address accepted (RFC 5321 path limit).
pub const EMAIL_MAX: usize = 254;
/// The longest organization name accepted.
pub const NAME_MAX: usize = 100;

/// A username: lower-cased, so that `Alice` and `alice` are one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Username(String);

impl Username {
    /// Parses what a user typed into a username.
    pub fn parse(input: &str) -> Result<Self, String> {
        let name = input.trim().to_lowercase();
        if name.is_empty() {
            return Err("Enter a username.".into());
        }
        if name.chars().count() > USERNAME_MAX {
            return Err(format!("A username has at most {USERNAME_MAX} characters."));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err("A username may contain only letters, digits, '.', '_' and '-'.".into());
        }
        if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err("A username starts with a letter or a digit.".into());
        }
        Ok(Self(name))
    }

    /// The username as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password, checked for length only: any character may appear, spaces included.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPassword(String);

impl NewPassword {
    /// Parses a password chosen by a user.
    pub fn parse(input: &str) -> Result<Self, String> {
        let length = input.chars().count();
        if length == 0 {
            return Err("Enter a password.".into());
        }
        if length < PASSWORD_MIN {
            return Err(format!(
                "A password has at least {PASSWORD_MIN} characters."
            ));
        }
        if length > PASSWORD_MAX {
            return Err(format!("A password has at most {PASSWORD_MAX} characters."));
        }
        Ok(Self(input.to_owned()))
    }

    /// The password itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(..)")
    }
}

/// Checks a password typed at a login form before any work is spent on it.
pub fn check_login_password(input: &str) -> Result<(), String> {
    if input.is_empty() {
        return Err("Enter your password.".into());
    }
    if input.chars().count() > PASSWORD_MAX {
        return Err(format!("A password has at most {PASSWORD_MAX} characters."));
    }
    Ok(())
}

/// An email address, checked for shape only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    /// Parses an email address; an empty input means none.
    pub fn parse_optional(input: &str) -> Result<Option<Self>, String> {
        let email = input.trim();
        if email.is_empty() {
            return Ok(None);
        }
        if email.chars().count() > EMAIL_MAX {
            return Err(format!(
                "An email address has at most {EMAIL_MAX} characters."
            ));
        }
        let valid = match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if !valid {
            return Err("Enter an email address like name@example.org.".into());
        }
        Ok(Some(Self(email.to_owned())))
    }

    /// The address as typed, trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `c` is an invisible formatting character (Unicode category Cf): zero-width
/// spaces and joiners, bidirectional controls (`U+202E` turns "Lab" into a look-alike of
/// something else), the soft hyphen, tags. Names and titles refuse them, so that what an
/// admin reads is what is stored.
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// What people read a thing by: the name of an organization or a group, the title of an
/// image, a menu or a separator. Trimmed, non-empty, bounded, one line, without invisible or
/// text-direction characters. Any other character may appear: the iPXE renderer neutralises
/// what iPXE would act on, and the web app shows text as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Label(String);

impl Label {
    /// Parses the name of an organization or a group (`what`), as messages call it.
    pub fn name(input: &str, what: &str) -> Result<Self, String> {
        Self::parse(input, what, "name", NAME_MAX)
    }

    /// Parses the title of an image, a menu or a separator (`what`).
    pub fn title(input: &str, what: &str) -> Result<Self, String> {
        Self::parse(input, what, "title", crate::boot::TITLE_MAX)
    }

    fn parse(input: &str, what: &str, word: &str, max: usize) -> Result<Self, String> {
        let label = input.trim();
        if label.is_empty() {
            return Err(format!("Enter a {word} for the {what}."));
        }
        if label.chars().count() > max {
            return Err(format!("A {what} {word} has at most {max} characters."));
        }
        if label.chars().any(char::is_control) {
            return Err(format!(
                "A {what} {word} is one line, without control characters."
            ));
        }
        if label.chars().any(is_invisible_format) {
            return Err(format!(
                "A {what} {word} cannot contain invisible or text-direction characters."
            ));
        }
        Ok(Self(label.to_owned()))
    }

    /// The label, trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_invisible_and_text_direction_characters() {
        for sneaky in [
            "La\u{200B}b",
            "\u{202E}baL",
            "Lab\u{2066}",
            "\u{FEFF}Lab",
            "La\u{00AD}b",
        ] {
            let error = Label::name(sneaky, "organization").unwrap_err();
            assert!(error.contains("invisible"), "{sneaky:?}: {error}");
        }
        assert!(Label::name("Labor für Ärzte – 東京", "organization").is_ok());
        // The zero-width joiner of emoji sequences is refused too, like every Cf character.
        assert!(!is_invisible_format('é') && is_invisible_format('\u{200D}'));
    }

    #[test]
    fn usernames_are_trimmed_and_lower_cased() {
        assert_eq!(Username::parse("  Alice ").unwrap().as_str(), "alice");
    }

    #[test]
    fn usernames_refuse_empty_overlong_and_odd_characters() {
        assert!(Username::parse("   ").is_err());
        assert!(Username::parse(&"a".repeat(USERNAME_MAX + 1)).is_err());
        assert!(Username::parse(&"a".repeat(USERNAME_MAX)).is_ok());
        assert!(Username::parse("al ice").is_err());
        assert!(Username::parse("${password}").is_err());
        assert!(Username::parse("-alice").is_err());
        assert!(Username::parse("ålice").is_err());
    }

    #[test]
    fn new_passwords_need_eight_characters_and_allow_anything_printable() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse("a & b % c").is_ok());
        assert!(NewPassword::parse(&"x".repeat(PASSWORD_MAX + 1)).is_err());
    }

    #[test]
    fn login_passwords_must_be_present_and_bounded() {
        assert!(check_login_password("").is_err());
        assert!(check_login_password("x").is_ok());
        assert!(check_login_password(&"x".repeat(PASSWORD_MAX + 1)).is_err());
    }

    #[test]
    fn emails_are_optional_but_must_look_like_addresses() {
        assert_eq!(Email::parse_optional(" ").unwrap(), None);
        assert!(Email::parse_optional("a@b").unwrap().is_some());
        assert!(Email::parse_optional("ab").is_err());
        assert!(Email::parse_optional("a b@c").is_err());
        assert!(Email::parse_optional("a@b@c").is_err());
    }

    #[test]
    fn display_names_refuse_control_characters() {
        assert!(Label::name("Lab\n", "organization").is_ok());
        assert!(Label::name("La\nb", "organization").is_err());
        assert!(Label::name("", "organization").is_err());
    }
}
