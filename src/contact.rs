//! Whether a client can be reached by SMS or email.
//!
//! Staff type phone numbers and emails by hand, so the raw strings in a world
//! file are what the engine sees. Validity is decided here, once per client when
//! the world loads, by real validators: libphonenumber's rules (the `phonenumber`
//! crate) for the account's country and an RFC 5321/5322 address check (the
//! `email_address` crate). Decisions then read two booleans.

use phonenumber::country;

/// The reachability facts of one client, derived from their raw contact data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    /// The phone number in E.164 form when it is a valid number.
    pub phone_e164: Option<String>,
    pub email_valid: bool,
}

impl Contact {
    pub fn phone_valid(&self) -> bool {
        self.phone_e164.is_some()
    }
}

/// Parses an ISO 3166 country code such as `US` or `gb`.
pub fn parse_country(code: &str) -> Option<country::Id> {
    code.trim().to_ascii_uppercase().parse::<country::Id>().ok()
}

/// A phone number as typed, read for `country` when it has no `+` prefix.
/// Returns its E.164 form when libphonenumber says it is a valid number.
pub fn valid_phone(raw: &str, country: country::Id) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 64 {
        return None;
    }
    let number = phonenumber::parse(Some(country), raw).ok()?;
    if phonenumber::is_valid(&number) {
        Some(number.format().mode(phonenumber::Mode::E164).to_string())
    } else {
        None
    }
}

/// Whether an email address is syntactically valid and has a dotted domain
/// (mail to a bare host such as `user@localhost` never reaches a client).
pub fn valid_email(raw: &str) -> bool {
    let raw = raw.trim();
    if raw.len() > 254 {
        return false;
    }
    match raw.parse::<email_address::EmailAddress>() {
        Ok(addr) => {
            let domain = addr.domain();
            domain.contains('.') && !domain.starts_with('[') && !domain.ends_with('.')
        }
        Err(_) => false,
    }
}

/// Computes a client's contact facts.
pub fn contact(phone: Option<&str>, email: Option<&str>, country: country::Id) -> Contact {
    Contact {
        phone_e164: phone.and_then(|p| valid_phone(p, country)),
        email_valid: email.is_some_and(valid_email),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_in_every_usual_us_spelling_are_valid() {
        for raw in [
            "+1 650 253 0000",
            "(650) 253-0000",
            "650-253-0000",
            "6502530000",
            "+16502530000",
        ] {
            assert_eq!(
                valid_phone(raw, country::Id::US).as_deref(),
                Some("+16502530000"),
                "{raw}"
            );
        }
    }

    #[test]
    fn impossible_or_foreign_looking_phones_are_invalid() {
        for raw in ["555-0100", "123", "(000) 000-0000", "call me", "", "+1 650 253 00000"] {
            assert_eq!(valid_phone(raw, country::Id::US), None, "{raw}");
        }
    }

    #[test]
    fn national_numbers_are_read_for_the_accounts_country() {
        assert_eq!(
            valid_phone("020 7946 0018", country::Id::GB).as_deref(),
            Some("+442079460018")
        );
        assert_eq!(valid_phone("020 7946 0018", country::Id::US), None);
    }

    #[test]
    fn emails() {
        assert!(valid_email("cleo@example.com"));
        assert!(valid_email("first.last+tag@sub.example.co.uk"));
        for bad in [
            "cleo@",
            "cleo.example.com",
            "cleo@@example.com",
            "cleo@localhost",
            "",
            "a b@example.com",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
